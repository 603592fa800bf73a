// RUN: moec-opt %s --split-input-file --cpu-lower-moe="vector-width=16" | FileCheck %s

// bf16 experts stay bf16: each expert's group of rows multiplies its
// [N, K] weight on dot products, the weight read as bf16 and widened in
// registers (k = 40: two full steps of 16 and a masked one of 8); one
// parallel iteration per (expert, 16 weight rows), skipped when the expert
// has no rows; the bias (bf16) is widened as the start value. No f32 copy
// of the weight is made.
// CHECK-LABEL: func @experts_bf16
// CHECK-NOT: moe.weight
// CHECK: scf.parallel
// CHECK: scf.if
// CHECK: scf.for %{{.*}} step %c16{{.*}} iter_args
// CHECK: vector.load %{{.*}} : memref<4x24x40xbf16>, vector<16xbf16>
// CHECK: arith.extf %{{.*}} : vector<16xbf16> to vector<16xf32>
// CHECK: vector.fma
// CHECK: vector.constant_mask [8]
// CHECK: vector.reduction <add>
// CHECK: memref.load %{{.*}} : memref<4x24xbf16>
// CHECK-NOT: moe.grouped_matmul
func.func @experts_bf16(%rows: tensor<?x40xf32>, %w: tensor<4x24x40xbf16>,
                        %offsets: tensor<5xi32>, %bias: tensor<4x24xbf16>)
    -> tensor<?x24xf32> {
  %y = moe.grouped_matmul %rows, %w, %offsets bias %bias
      : tensor<?x40xf32>, tensor<4x24x40xbf16>, tensor<5xi32>, tensor<4x24xbf16>
      -> tensor<?x24xf32>
  return %y : tensor<?x24xf32>
}
