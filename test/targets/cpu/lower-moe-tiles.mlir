// RUN: moec-opt %s --split-input-file --cpu-lower-moe="vector-width=16 tile-rows=6 tile-panels=4 tile-depth=8" | FileCheck %s
// RUN: moec-opt %s --split-input-file --cpu-lower-moe="vector-width=8 tile-panels=2" | FileCheck %s --check-prefix=AVX2
// RUN: not moec-opt %s --cpu-lower-moe="vector-width=16 tile-panels=8" 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: cpu-lower-moe: vector-width * tile-panels must divide 64

// An fp32 weight known at compile time is re-laid out into panels of 16
// columns ([E, N padded to 64 / 16, K, 16]) and multiplied on register
// tiles: parallel (tile, expert) tasks, k blocks of 8, full blocks of 6
// rows then blocks of 4, 2 and 1, each row broadcast against 4 panel
// vectors; stores are masked to the 20 real columns.
// CHECK-LABEL: func @tiled
// CHECK: %[[W:.*]] = moe.weight "constant.panels" : tensor<2x4x3x16xf32>
// CHECK: %[[WB:.*]] = bufferization.to_buffer %[[W]] read_only : tensor<2x4x3x16xf32> to memref<2x4x3x16xf32>
// CHECK: scf.parallel
// CHECK: scf.if
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c8
// CHECK: vector.create_mask
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c6
// CHECK: scf.for
// CHECK-COUNT-4: vector.load %[[WB]]
// CHECK: vector.broadcast
// CHECK-COUNT-4: vector.fma
// CHECK: vector.maskedstore
// AVX2-LABEL: func @tiled
// AVX2: moe.weight "constant.panels" : tensor<2x8x3x8xf32>
// AVX2: vector.fma {{.*}} : vector<8xf32>
func.func @tiled(%rows: tensor<?x3xf32>, %offsets: tensor<3xi32>) -> tensor<?x20xf32> {
  %w = arith.constant dense<0.5> : tensor<2x20x3xf32>
  %y = moe.grouped_matmul %rows, %w, %offsets
      : tensor<?x3xf32>, tensor<2x20x3xf32>, tensor<3xi32> -> tensor<?x20xf32>
  return %y : tensor<?x20xf32>
}

// -----

// A weight only known at run time keeps the scalar dot products.
// CHECK-LABEL: func @runtime_weight
// CHECK-NOT: vector.fma
// CHECK: arith.mulf %{{.*}}, %{{.*}} fastmath<reassoc,contract>
func.func @runtime_weight(%rows: tensor<?x3xf32>, %w: tensor<2x20x3xf32>,
                          %offsets: tensor<3xi32>) -> tensor<?x20xf32> {
  %y = moe.grouped_matmul %rows, %w, %offsets
      : tensor<?x3xf32>, tensor<2x20x3xf32>, tensor<3xi32> -> tensor<?x20xf32>
  return %y : tensor<?x20xf32>
}
