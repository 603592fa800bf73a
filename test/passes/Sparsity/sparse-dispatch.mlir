// RUN: moec-opt %s --moe-sparse-dispatch | FileCheck %s

// CHECK-LABEL: func @fused
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[W:.*]]: tensor<?x2xf32>, %[[IDS:.*]]: tensor<?x2xi32>, %[[GU:.*]]: tensor<8x256x64xf32>, %[[GUB:.*]]: tensor<8x256xf32>, %[[D:.*]]: tensor<8x64x128xf32>)
// CHECK: %[[ROWS:.*]], %[[PERM:.*]], %[[OFF:.*]] = moe.dispatch %[[X]], %[[IDS]] num_experts = 8
// CHECK-SAME: -> tensor<?x64xf32>, tensor<?xi32>, tensor<9xi32>
// CHECK: %[[H:.*]] = moe.grouped_matmul %[[ROWS]], %[[GU]], %[[OFF]] bias %[[GUB]]
// CHECK-SAME: -> tensor<?x256xf32>
// CHECK: %[[A:.*]] = moe.activation swiglu<alpha = 1.702{{.*}}> %[[H]] layout interleaved
// CHECK-SAME: -> tensor<?x128xf32>
// CHECK: %[[O:.*]] = moe.grouped_matmul %[[A]], %[[D]], %[[OFF]] :
// CHECK: %[[Y:.*]] = moe.combine %[[O]], %[[PERM]], %[[W]]
// CHECK: return %[[Y]]
// CHECK-NOT: moe.experts
func.func @fused(%x: tensor<?x64xf32>, %w: tensor<?x2xf32>, %ids: tensor<?x2xi32>,
                 %gu: tensor<8x256x64xf32>, %gub: tensor<8x256xf32>,
                 %d: tensor<8x64x128xf32>) -> tensor<?x64xf32> {
  %y = moe.experts %x, %w, %ids
      activation swiglu<alpha = 1.702, beta = 1.0, limit = 7.0>
      gate_up %gu gate_up_bias %gub layout interleaved down %d
      : (tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>,
         tensor<8x256x64xf32>, tensor<8x256xf32>, tensor<8x64x128xf32>)
      -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// Separate gate and up projections: two grouped matmuls, one activation.
// CHECK-LABEL: func @separate
// CHECK: %[[ROWS:.*]], %[[PERM:.*]], %[[OFF:.*]] = moe.dispatch
// CHECK-SAME: -> tensor<8x32xf32>, tensor<8xi32>, tensor<5xi32>
// CHECK: %[[G:.*]] = moe.grouped_matmul %[[ROWS]], %arg3, %[[OFF]]
// CHECK: %[[U:.*]] = moe.grouped_matmul %[[ROWS]], %arg4, %[[OFF]]
// CHECK: moe.activation silu_gated %[[G]] up %[[U]]
// CHECK: moe.combine
func.func @separate(%x: tensor<4x32xf32>, %w: tensor<4x2xf32>, %ids: tensor<4x2xi32>,
                    %g: tensor<4x16x32xf32>, %u: tensor<4x16x32xf32>,
                    %d: tensor<4x32x16xf32>) -> tensor<4x32xf32> {
  %y = moe.experts %x, %w, %ids activation silu_gated gate %g up %u down %d
      : (tensor<4x32xf32>, tensor<4x2xf32>, tensor<4x2xi32>, tensor<4x16x32xf32>,
         tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}

// Ungated: the up projection only.
// CHECK-LABEL: func @ungated
// CHECK: moe.dispatch
// CHECK: %[[U:.*]] = moe.grouped_matmul
// CHECK: moe.activation relu %[[U]] :
// CHECK: moe.grouped_matmul
// CHECK: moe.combine
func.func @ungated(%x: tensor<4x32xf32>, %w: tensor<4x1xf32>, %ids: tensor<4x1xi32>,
                   %u: tensor<4x16x32xf32>, %d: tensor<4x32x16xf32>) -> tensor<4x32xf32> {
  %y = moe.experts %x, %w, %ids activation relu up %u down %d
      : (tensor<4x32xf32>, tensor<4x1xf32>, tensor<4x1xi32>, tensor<4x16x32xf32>,
         tensor<4x32x16xf32>) -> tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}
