// RUN: moec-opt %s --split-input-file --cpu-lower-moe="vector-width=16 tile-panels=4" | FileCheck %s --check-prefix=FLOAT
// RUN: moec-opt %s --split-input-file --cpu-lower-moe="vector-width=16 tile-panels=4 int8-dot=vpdpbusd" | FileCheck %s --check-prefix=VNNI
// RUN: moec-opt %s --split-input-file --cpu-lower-moe="vector-width=8 tile-panels=2 int8-dot=vpmaddubsw" | FileCheck %s --check-prefix=AVX2
// RUN: moec-opt %s --split-input-file --convert-moe-to-scf | FileCheck %s --check-prefix=REF

// The CPU's kernels for packed int4 experts with K-groups (ORT's default
// zero point 8: signed codes with an offset), ahead of the reference
// lowering. fp32 rows: codes dequantized 16 at a time in vector registers
// and multiplied with fused multiply-adds. The reference lowering unpacks
// and scales each element in scalar loops.
// FLOAT-LABEL: func @int4_rows_f32
// FLOAT: scf.parallel
// FLOAT: vector.fma {{.*}} : vector<16xf32>
// FLOAT-NOT: llvm.inline_asm
// FLOAT-NOT: moe.grouped_matmul
// VNNI-LABEL: func @int4_rows_f32
// VNNI-NOT: llvm.inline_asm
// REF-LABEL: func @int4_rows_f32
// REF-NOT: vector.fma
// REF: arith.shrui
// REF-NOT: moe.grouped_matmul
func.func @int4_rows_f32(%rows: tensor<?x64xf32>, %offsets: tensor<3xi32>) -> tensor<?x8xf32> {
  %bytes = arith.constant dense<37> : tensor<2x8x32xui8>
  %scales = arith.constant dense<0.25> : tensor<2x8x2xf32>
  %zero = arith.constant dense<8> : tensor<2x8x2xui8>
  %w = moe.packed_weight %bytes, %scales zero_points %zero
      : tensor<2x8x32xui8>, tensor<2x8x2xf32>, tensor<2x8x2xui8>
      -> !moe.packed<tensor<2x8x64xf32>, #moe.packing<uint4, block = [1, 1, 32], scale = f32, zero_point = ui8>>
  %h = moe.grouped_matmul %rows, %w, %offsets
      : tensor<?x64xf32>, !moe.packed<tensor<2x8x64xf32>, #moe.packing<uint4, block = [1, 1, 32], scale = f32, zero_point = ui8>>, tensor<3xi32> -> tensor<?x8xf32>
  return %h : tensor<?x8xf32>
}

// -----

// Int8 activations: rows quantized per row, then integer dot products of
// row bytes and codes (K a multiple of one load: 128 int4 codes with VNNI,
// 64 with AVX2): vpdpbusd with AVX-512 VNNI, vpmaddubsw + vpmaddwd with
// AVX2. Without an integer dot product the float kernel runs on the
// int8-rounded rows.
// FLOAT-LABEL: func @int4_rows_int8
// FLOAT-NOT: llvm.inline_asm
// FLOAT: math.roundeven
// VNNI-LABEL: func @int4_rows_int8
// VNNI: math.roundeven
// VNNI: llvm.inline_asm {{.*}}"vpdpbusd
// AVX2-LABEL: func @int4_rows_int8
// AVX2: llvm.inline_asm {{.*}}"vpmaddubsw
// AVX2: vpmaddwd
// REF-LABEL: func @int4_rows_int8
// REF-NOT: llvm.inline_asm
// REF: math.roundeven
func.func @int4_rows_int8(%rows: tensor<?x128xf32>, %offsets: tensor<3xi32>) -> tensor<?x8xf32> {
  %bytes = arith.constant dense<37> : tensor<2x8x64xui8>
  %scales = arith.constant dense<0.25> : tensor<2x8x4xf32>
  %zero = arith.constant dense<8> : tensor<2x8x4xui8>
  %w = moe.packed_weight %bytes, %scales zero_points %zero
      : tensor<2x8x64xui8>, tensor<2x8x4xf32>, tensor<2x8x4xui8>
      -> !moe.packed<tensor<2x8x128xf32>, #moe.packing<uint4, block = [1, 1, 32], scale = f32, zero_point = ui8>>
  %h = moe.grouped_matmul %rows, %w, %offsets {moec.int8_activations}
      : tensor<?x128xf32>, !moe.packed<tensor<2x8x128xf32>, #moe.packing<uint4, block = [1, 1, 32], scale = f32, zero_point = ui8>>, tensor<3xi32> -> tensor<?x8xf32>
  return %h : tensor<?x8xf32>
}
