// moe-static-capacity: 8 tokens x 2 choices over 4 experts at capacity
// factor 1.0 give each expert ceil(16 / 4) = 4 slots; 1.5 gives 6.
// RUN: sed 's/?x/8x/g; s/empty(%%t)/empty()/' %S/Inputs/layer.mlir | moec-opt --moe-static-capacity="capacity-factor=1.0 report" 2>&1 | FileCheck %s
// RUN: sed 's/?x/8x/g; s/empty(%%t)/empty()/' %S/Inputs/layer.mlir | moec-opt --moe-static-capacity="capacity-factor=1.5" | FileCheck %s --check-prefix=WIDER
// RUN: not moec-opt %S/Inputs/layer.mlir --moe-static-capacity 2>&1 | FileCheck %s --check-prefix=DYNAMIC

// CHECK: moe-static-capacity: layer 0: 4 slots per expert for 8 x 2 choices over 4 experts
// CHECK: %[[ROWS:.*]], %[[PERM:.*]], %[[OFFSETS:.*]] = moe.dispatch %{{.*}}, %{{.*}} num_experts = 4 capacity = 4 : tensor<8x4xf32>, tensor<8x2xi32> -> tensor<16x4xf32>, tensor<16xi32>, tensor<5xi32>
// CHECK: moe.grouped_matmul %[[ROWS]], %{{.*}}, %[[OFFSETS]] : tensor<16x4xf32>
// CHECK: moe.combine %{{.*}}, %[[PERM]], %{{.*}} : tensor<16x4xf32>, tensor<16xi32>, tensor<8x2xf32> -> tensor<8x4xf32>
// CHECK-NOT: moe.experts

// WIDER: moe.dispatch {{.*}} capacity = 6 {{.*}} -> tensor<24x4xf32>

// DYNAMIC: error: 'moe.experts' op needs a static token count for a static capacity
