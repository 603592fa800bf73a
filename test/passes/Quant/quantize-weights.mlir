// moe-quantize-weights: expert weights become packed codes and scales.
// RUN: moec-opt %S/Inputs/layer.mlir --moe-quantize-weights="scheme=int4-g32 report" 2>&1 | FileCheck %s --check-prefix=INT4
// RUN: moec-opt %S/Inputs/layer.mlir --moe-quantize-weights="scheme=int8" | FileCheck %s --check-prefix=INT8
// RUN: moec-opt %S/Inputs/layer.mlir --moe-quantize-weights="scheme=int8,asym" | FileCheck %s --check-prefix=ASYM
// RUN: moec-opt %S/Inputs/layer.mlir --moe-quantize-weights="scheme=int4-g64,asym" | FileCheck %s --check-prefix=ASYM4
// RUN: not moec-opt %S/Inputs/layer.mlir --moe-quantize-weights="scheme=int4-g48" 2>&1 | FileCheck %s --check-prefix=SCHEME

// Each tensor's error and size; 2 x 4 x 4 f32 (128 B) become 16 bytes of
// codes and 8 f16 scales.
// INT4: moe-quantize-weights: layer 0 gate_up int4-g32: 128 B -> 32 B, SQNR {{[0-9.]+}} dB
// INT4: moe-quantize-weights: layer 0 down int4-g32: 64 B -> 24 B, SQNR {{[0-9.]+}} dB
// INT4: moe-quantize-weights: expert weights 136 B smaller
// Row [7, -7, 3.5, 0]: scale 1, codes 7, -7 (nibble 9), 4, 0: bytes 0x97
// (-105 as i8) and 0x04. Row [1, 2, 3, 4]: scale 4/7 (0.5713 in f16),
// codes 2, 4, 5, 7: bytes 0x42 and 0x75. Expert 1's row of 2s: all 7s.
// INT4: %[[CODES:.*]] = arith.constant dense<{{\[\[\[}}-105, 4], [66, 117], [-62, 113], [73, 32]], {{\[\[}}119, 119], {{.*}} : tensor<2x4x2xi8>
// INT4: %[[SCALES:.*]] = arith.constant dense<{{\[\[\[}}1.000000e+00], [5.712890e-01], {{.*}} : tensor<2x4x1xf16>
// INT4: %[[GU:.*]] = moe.packed_weight %[[CODES]], %[[SCALES]] : tensor<2x4x2xi8>, tensor<2x4x1xf16> -> !moe.packed<tensor<2x4x4xf32>, #moe.packing<sint4, block = [1, 1, 32], scale = f16>>
// The intermediate size 2 is shorter than a group: one short group.
// INT4: %[[DOWN:.*]] = moe.packed_weight {{.*}} : tensor<2x4x1xi8>, tensor<2x4x1xf16> -> !moe.packed<tensor<2x4x2xf32>, #moe.packing<sint4, block = [1, 1, 32], scale = f16>>
// INT4: moe.experts {{.*}} gate_up %[[GU]] layout interleaved down %[[DOWN]]

// Per output channel: max |w| / 127, codes in [-127, 127].
// INT8: arith.constant dense<{{\[\[\[}}127, -127, 64, 0], [32, 64, 95, 127], {{.*}} : tensor<2x4x4xi8>
// INT8: arith.constant dense<{{\[\[\[}}0.05511811], [0.0314960629], {{.*}} : tensor<2x4x1xf32>
// INT8: moe.packed_weight {{.*}} -> !moe.packed<tensor<2x4x4xf32>, #moe.packing<sint8, block = [1, 1, 4], scale = f32>>

// Asymmetric: scale (max - min) / 255, zero point round(-min / scale);
// [7, -7, 3.5, 0] has scale 14/255 and zero point 128 (127.5 rounded up).
// ASYM: arith.constant dense<{{\[\[\[}}255, 0, 192, 128], {{.*}} : tensor<2x4x4xui8>
// ASYM: arith.constant dense<{{\[\[\[}}0.0549019612], {{.*}} : tensor<2x4x1xf32>
// ASYM: arith.constant dense<{{\[\[\[}}128], [0], [85], [170]], {{.*}} : tensor<2x4x1xui8>
// ASYM: moe.packed_weight {{.*}} zero_points {{.*}} -> !moe.packed<tensor<2x4x4xf32>, #moe.packing<uint8, block = [1, 1, 4], scale = f32, zero_point = ui8>>

// ASYM4: moe.packed_weight {{.*}} : tensor<2x4x2xui8>, tensor<2x4x1xf16>, tensor<2x4x1xui8> -> !moe.packed<tensor<2x4x4xf32>, #moe.packing<uint4, block = [1, 1, 64], scale = f16, zero_point = ui8>>

// SCHEME: unknown scheme 'int4-g48' (expected int8, int4-g32, int4-g64 or int4-g128, optionally followed by ,asym)
