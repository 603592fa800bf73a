// RUN: moec-opt %s --split-input-file --convert-moe-to-scf --verify-diagnostics | FileCheck %s

// Router: one parallel iteration per token, results in fresh buffers that
// become tensors again.
// CHECK-LABEL: func @router
// CHECK: %[[LOGITS:.*]] = bufferization.to_buffer %{{.*}} read_only : tensor<?x8xf32> to memref<?x8xf32>
// CHECK: %[[W:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?x2xf32>
// CHECK: %[[IDS:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?x2xi32>
// CHECK: scf.parallel
// CHECK: math.exp
// CHECK: memref.store %{{.*}}, %[[IDS]]
// CHECK: bufferization.to_tensor %[[W]] restrict writable
// CHECK: bufferization.to_tensor %[[IDS]] restrict writable
// CHECK-NOT: moe.router
func.func @router(%logits: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %w, %ids = moe.router %logits top_k = 2 scoring = softmax normalize
      : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return %w, %ids : tensor<?x2xf32>, tensor<?x2xi32>
}

// -----

// The sparse path: a counting sort, one parallel task per (expert, 64
// columns), reassociable dot products, and a per-token combine.
// CHECK-LABEL: func @sparse
// CHECK: scf.parallel
// CHECK: arith.mulf %{{.*}}, %{{.*}} fastmath<reassoc,contract>
// CHECK: arith.addf %{{.*}}, %{{.*}} fastmath<reassoc,contract>
// CHECK-NOT: moe.
// CHECK: return
func.func @sparse(%x: tensor<?x64xf32>, %w: tensor<?x2xf32>, %ids: tensor<?x2xi32>,
                  %up: tensor<8x128x64xf32>, %down: tensor<8x64x128xf32>) -> tensor<?x64xf32> {
  %rows, %perm, %offsets = moe.dispatch %x, %ids num_experts = 8
      : tensor<?x64xf32>, tensor<?x2xi32> -> tensor<?x64xf32>, tensor<?xi32>, tensor<9xi32>
  %h = moe.grouped_matmul %rows, %up, %offsets
      : tensor<?x64xf32>, tensor<8x128x64xf32>, tensor<9xi32> -> tensor<?x128xf32>
  %a = moe.activation gelu %h : tensor<?x128xf32> -> tensor<?x128xf32>
  %o = moe.grouped_matmul %a, %down, %offsets
      : tensor<?x128xf32>, tensor<8x64x128xf32>, tensor<9xi32> -> tensor<?x64xf32>
  %y = moe.combine %o, %perm, %w
      : tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// Packed int4 weights are read in place: bytes shifted and masked, scaled
// per block; no dequantized copy of the weight is made.
// CHECK-LABEL: func @packed
// CHECK: arith.constant dense<{{.*}}> : tensor<2x8x8xi8>
// CHECK: arith.shrui
// CHECK: arith.andi
// CHECK: arith.subf
// CHECK-NOT: memref.alloc() {{.*}} : memref<2x8x16xf32>
func.func @packed(%rows: tensor<?x16xf32>, %offsets: tensor<3xi32>) -> tensor<?x8xf32> {
  %bytes = arith.constant dense<17> : tensor<2x8x8xui8>
  %scales = arith.constant dense<0.5> : tensor<2x8x1xf32>
  %zero = arith.constant dense<8> : tensor<2x8x1xui8>
  %w = moe.packed_weight %bytes, %scales zero_points %zero
      : tensor<2x8x8xui8>, tensor<2x8x1xf32>, tensor<2x8x1xui8>
      -> !moe.packed<tensor<2x8x16xf32>, #moe.packing<uint4, block = [1, 1, 16], scale = f32, zero_point = ui8>>
  %h = moe.grouped_matmul %rows, %w, %offsets
      : tensor<?x16xf32>, !moe.packed<tensor<2x8x16xf32>, #moe.packing<uint4, block = [1, 1, 16], scale = f32, zero_point = ui8>>, tensor<3xi32> -> tensor<?x8xf32>
  return %h : tensor<?x8xf32>
}

// -----

func.func @experts(%x: tensor<4x32xf32>, %w: tensor<4x1xf32>, %ids: tensor<4x1xi32>,
                   %u: tensor<4x16x32xf32>, %d: tensor<4x32x16xf32>) -> tensor<4x32xf32> {
  // expected-error @+1 {{must be rewritten by moe-sparse-dispatch before lowering to loops}}
  %y = moe.experts %x, %w, %ids activation relu up %u down %d
      : (tensor<4x32xf32>, tensor<4x1xf32>, tensor<4x1xi32>, tensor<4x16x32xf32>,
         tensor<4x32x16xf32>) -> tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}

// -----

func.func @fp4(%rows: tensor<?x32xf32>, %offsets: tensor<2xi32>, %bytes: tensor<1x4x16xui8>,
               %scales: tensor<1x4x1xf8E8M0FNU>) -> tensor<?x4xf32> {
  %w = moe.packed_weight %bytes, %scales : tensor<1x4x16xui8>, tensor<1x4x1xf8E8M0FNU>
      -> !moe.packed<tensor<1x4x32xf32>, #moe.packing<e2m1, block = [1, 1, 32], scale = f8E8M0FNU>>
  // expected-error @+1 {{packed format e2m1 is not supported by this lowering yet}}
  %h = moe.grouped_matmul %rows, %w, %offsets
      : tensor<?x32xf32>, !moe.packed<tensor<1x4x32xf32>, #moe.packing<e2m1, block = [1, 1, 32], scale = f8E8M0FNU>>, tensor<2xi32> -> tensor<?x4xf32>
  return %h : tensor<?x4xf32>
}
