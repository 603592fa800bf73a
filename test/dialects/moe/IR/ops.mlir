// RUN: moec-opt %s | moec-opt | FileCheck %s
// RUN: moec-opt %s --mlir-print-op-generic | moec-opt | FileCheck %s

// CHECK-LABEL: func @mixtral_router
func.func @mixtral_router(%logits: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  // CHECK: %[[W:.*]], %[[I:.*]] = moe.router %{{.*}} top_k = 2 scoring = softmax normalize : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  %weights, %ids = moe.router %logits top_k = 2 scoring = softmax normalize
      : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return %weights, %ids : tensor<?x2xf32>, tensor<?x2xi32>
}

// CHECK-LABEL: func @deepseek_v3_router
func.func @deepseek_v3_router(%logits: tensor<?x256xf32>, %bias: tensor<256xf32>) -> tensor<?x8xi32> {
  // CHECK: moe.router %{{.*}} bias %{{.*}} top_k = 8 scoring = sigmoid normalize scale = 2.500000e+00 groups = <n_group = 8, topk_group = 4, score = sum_top2> : tensor<?x256xf32>, tensor<256xf32> -> tensor<?x8xf32>, tensor<?x8xi32>
  %weights, %ids = moe.router %logits bias %bias top_k = 8 scoring = sigmoid
      normalize scale = 2.5
      groups = <n_group = 8, topk_group = 4, score = sum_top2>
      : tensor<?x256xf32>, tensor<256xf32> -> tensor<?x8xf32>, tensor<?x8xi32>
  return %ids : tensor<?x8xi32>
}

// Hugging Face's masked_fill(~mask, 0.0): dropped experts compete at 0.0.
// CHECK-LABEL: func @deepseek_v3_router_fill
func.func @deepseek_v3_router_fill(%logits: tensor<?x16xf32>, %bias: tensor<16xf32>) -> tensor<?x4xi32> {
  // CHECK: groups = <n_group = 4, topk_group = 2, score = sum_top2, fill = 0.000000e+00 : f64>
  %weights, %ids = moe.router %logits bias %bias top_k = 4 scoring = sigmoid
      groups = <n_group = 4, topk_group = 2, score = sum_top2, fill = 0.0 : f64>
      : tensor<?x16xf32>, tensor<16xf32> -> tensor<?x4xf32>, tensor<?x4xi32>
  return %ids : tensor<?x4xi32>
}

// CHECK-LABEL: func @deepseek_v2_and_gpt_oss_routers
func.func @deepseek_v2_and_gpt_oss_routers(%a: tensor<3x160xf32>, %b: tensor<1x32xbf16>) {
  // CHECK: moe.router %{{.*}} top_k = 6 scoring = softmax scale = 1.600000e+01 groups = <n_group = 8, topk_group = 3, score = max>
  %w0, %i0 = moe.router %a top_k = 6 scoring = softmax scale = 16.0
      groups = <n_group = 8, topk_group = 3, score = max>
      : tensor<3x160xf32> -> tensor<3x6xf32>, tensor<3x6xi32>
  // CHECK: moe.router %{{.*}} top_k = 4 scoring = softmax_after_topk : tensor<1x32xbf16> -> tensor<1x4xbf16>, tensor<1x4xi32>
  %w1, %i1 = moe.router %b top_k = 4 scoring = softmax_after_topk
      : tensor<1x32xbf16> -> tensor<1x4xbf16>, tensor<1x4xi32>
  return
}

// CHECK-LABEL: func @experts_fused_swiglu
func.func @experts_fused_swiglu(%x: tensor<?x64xf32>, %w: tensor<?x4xf32>, %ids: tensor<?x4xi32>,
    %gu: tensor<32x256x64xf32>, %gub: tensor<32x256xf32>,
    %d: tensor<32x64x128xf32>, %db: tensor<32x64xf32>) -> tensor<?x64xf32> {
  // CHECK: moe.experts %{{.*}}, %{{.*}}, %{{.*}} activation swiglu<alpha = 1.702000e+00, beta = 1.000000e+00, limit = 7.000000e+00> gate_up %{{.*}} gate_up_bias %{{.*}} layout interleaved down %{{.*}} down_bias %{{.*}} :
  %y = moe.experts %x, %w, %ids
      activation swiglu<alpha = 1.702, beta = 1.0, limit = 7.0>
      gate_up %gu gate_up_bias %gub layout interleaved down %d down_bias %db
      : (tensor<?x64xf32>, tensor<?x4xf32>, tensor<?x4xi32>, tensor<32x256x64xf32>,
         tensor<32x256xf32>, tensor<32x64x128xf32>, tensor<32x64xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// CHECK-LABEL: func @experts_separate_and_ungated
func.func @experts_separate_and_ungated(%x: tensor<5x64xbf16>, %w: tensor<5x2xf32>, %ids: tensor<5x2xi32>,
    %g: tensor<8x96x64xbf16>, %u: tensor<8x96x64xbf16>, %d: tensor<8x64x96xbf16>) {
  // CHECK: moe.experts %{{.*}} activation silu_gated gate %{{.*}} up %{{.*}} down %{{.*}} :
  %0 = moe.experts %x, %w, %ids activation silu_gated gate %g up %u down %d
      : (tensor<5x64xbf16>, tensor<5x2xf32>, tensor<5x2xi32>, tensor<8x96x64xbf16>,
         tensor<8x96x64xbf16>, tensor<8x64x96xbf16>) -> tensor<5x64xbf16>
  // CHECK: moe.experts %{{.*}} activation gelu up %{{.*}} down %{{.*}} :
  %1 = moe.experts %x, %w, %ids activation gelu up %u down %d
      : (tensor<5x64xbf16>, tensor<5x2xf32>, tensor<5x2xi32>, tensor<8x96x64xbf16>,
         tensor<8x64x96xbf16>) -> tensor<5x64xbf16>
  return
}

// CHECK-LABEL: func @experts_packed_weights
func.func @experts_packed_weights(%x: tensor<?x64xf32>, %w: tensor<?x2xf32>, %ids: tensor<?x2xi32>,
    %guq: tensor<8x256x32xui8>, %gus: tensor<8x256x2xf16>, %guz: tensor<8x256x2xui8>,
    %dq: tensor<8x64x128xi8>, %ds: tensor<8x64x1xf32>) -> tensor<?x64xf32> {
  // CHECK: %[[GU:.*]] = moe.packed_weight %{{.*}}, %{{.*}} zero_points %{{.*}} : tensor<8x256x32xui8>, tensor<8x256x2xf16>, tensor<8x256x2xui8> -> !moe.packed<tensor<8x256x64xf32>, #moe.packing<uint4, block = [1, 1, 32], scale = f16, zero_point = ui8>>
  %gu = moe.packed_weight %guq, %gus zero_points %guz
      : tensor<8x256x32xui8>, tensor<8x256x2xf16>, tensor<8x256x2xui8>
      -> !moe.packed<tensor<8x256x64xf32>, #moe.packing<uint4, block = [1, 1, 32], scale = f16, zero_point = ui8>>
  // CHECK: %[[D:.*]] = moe.packed_weight {{.*}} -> !moe.packed<tensor<8x64x128xf32>, #moe.packing<sint8, block = [1, 1, 128], scale = f32>>
  %d = moe.packed_weight %dq, %ds : tensor<8x64x128xi8>, tensor<8x64x1xf32>
      -> !moe.packed<tensor<8x64x128xf32>, #moe.packing<sint8, block = [1, 1, 128], scale = f32>>
  // CHECK: moe.experts {{.*}} gate_up %[[GU]] layout concatenated down %[[D]]
  %y = moe.experts %x, %w, %ids activation silu_gated gate_up %gu layout concatenated down %d
      : (tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>,
         !moe.packed<tensor<8x256x64xf32>, #moe.packing<uint4, block = [1, 1, 32], scale = f16, zero_point = ui8>>,
         !moe.packed<tensor<8x64x128xf32>, #moe.packing<sint8, block = [1, 1, 128], scale = f32>>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// CHECK-LABEL: func @mxfp4_and_fp8_packing
func.func @mxfp4_and_fp8_packing(%a: tensor<4x64x16xui8>, %as: tensor<4x64x1xf8E8M0FNU>,
    %b: tensor<2x256x256xui8>, %bs: tensor<2x2x2xf32>) {
  // CHECK: #moe.packing<e2m1, block = [1, 1, 32], scale = f8E8M0FNU, order = high_first>
  %0 = moe.packed_weight %a, %as : tensor<4x64x16xui8>, tensor<4x64x1xf8E8M0FNU>
      -> !moe.packed<tensor<4x64x32xbf16>, #moe.packing<e2m1, block = [1, 1, 32], scale = f8E8M0FNU, order = high_first>>
  // CHECK: #moe.packing<e4m3fn, block = [1, 128, 128], scale = f32>
  %1 = moe.packed_weight %b, %bs : tensor<2x256x256xui8>, tensor<2x2x2xf32>
      -> !moe.packed<tensor<2x256x256xbf16>, #moe.packing<e4m3fn, block = [1, 128, 128], scale = f32>>
  return
}

// CHECK-LABEL: func @sparse_path
func.func @sparse_path(%x: tensor<?x64xf32>, %w: tensor<?x2xf32>, %ids: tensor<?x2xi32>,
    %gu: tensor<8x256x64xf32>, %gub: tensor<8x256xf32>, %d: tensor<8x64x128xf32>) -> tensor<?x64xf32> {
  // CHECK: %[[ROWS:.*]], %[[PERM:.*]], %[[OFF:.*]] = moe.dispatch %{{.*}}, %{{.*}} num_experts = 8 : tensor<?x64xf32>, tensor<?x2xi32> -> tensor<?x64xf32>, tensor<?xi32>, tensor<9xi32>
  %rows, %perm, %offsets = moe.dispatch %x, %ids num_experts = 8
      : tensor<?x64xf32>, tensor<?x2xi32> -> tensor<?x64xf32>, tensor<?xi32>, tensor<9xi32>
  // CHECK: %[[H:.*]] = moe.grouped_matmul %[[ROWS]], %{{.*}}, %[[OFF]] bias %{{.*}} : tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32>, tensor<8x256xf32> -> tensor<?x256xf32>
  %h = moe.grouped_matmul %rows, %gu, %offsets bias %gub
      : tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32>, tensor<8x256xf32> -> tensor<?x256xf32>
  // CHECK: %[[A:.*]] = moe.activation silu_gated %[[H]] layout interleaved : tensor<?x256xf32> -> tensor<?x128xf32>
  %a = moe.activation silu_gated %h layout interleaved : tensor<?x256xf32> -> tensor<?x128xf32>
  // CHECK: %[[O:.*]] = moe.grouped_matmul %[[A]], %{{.*}}, %[[OFF]] :
  %o = moe.grouped_matmul %a, %d, %offsets
      : tensor<?x128xf32>, tensor<8x64x128xf32>, tensor<9xi32> -> tensor<?x64xf32>
  // CHECK: moe.combine %[[O]], %[[PERM]], %{{.*}} : tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32> -> tensor<?x64xf32>
  %y = moe.combine %o, %perm, %w : tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// CHECK-LABEL: func @activations
func.func @activations(%g: tensor<3x16xf32>, %u: tensor<3x16xf32>) {
  // CHECK: moe.activation swiglu<alpha = 1.702000e+00, limit = 7.000000e+00> %{{.*}} up %{{.*}} : tensor<3x16xf32>, tensor<3x16xf32> -> tensor<3x16xf32>
  %0 = moe.activation swiglu<alpha = 1.702, limit = 7.0> %g up %u
      : tensor<3x16xf32>, tensor<3x16xf32> -> tensor<3x16xf32>
  // CHECK: moe.activation gelu_tanh %{{.*}} : tensor<3x16xf32> -> tensor<3x16xf32>
  %1 = moe.activation gelu_tanh %g : tensor<3x16xf32> -> tensor<3x16xf32>
  // CHECK: moe.activation relu
  %2 = moe.activation relu %g : tensor<3x16xf32> -> tensor<3x16xf32>
  // CHECK: moe.activation silu_gated %{{.*}} layout concatenated : tensor<3x16xf32> -> tensor<3x8xf32>
  %3 = moe.activation silu_gated %g layout concatenated : tensor<3x16xf32> -> tensor<3x8xf32>
  return
}

// CHECK-LABEL: func @weights
func.func @weights() -> (tensor<8x64x128xbf16>, tensor<64x32xf32>) {
  // CHECK: moe.weight "model.layers.0.mlp.experts.down_proj" : tensor<8x64x128xbf16>
  %w = moe.weight "model.layers.0.mlp.experts.down_proj" : tensor<8x64x128xbf16>
  // CHECK: moe.weight "w1" from "model.onnx.data" at 4096 : tensor<64x32xf32>
  %r = moe.weight "w1" from "model.onnx.data" at 4096 : tensor<64x32xf32>
  return %w, %r : tensor<8x64x128xbf16>, tensor<64x32xf32>
}

// CHECK-LABEL: func @attributes
// CHECK-SAME: act = #moe.activation<swiglu, alpha = 1.702000e+00, beta = 1.000000e+00, limit = 7.000000e+00>
// CHECK-SAME: groups = #moe.group_limit<n_group = 8, topk_group = 4, score = sum_top2>
// CHECK-SAME: layout = #moe<layout interleaved>
// CHECK-SAME: scoring = #moe<scoring sigmoid>
func.func @attributes() attributes {
    act = #moe.activation<swiglu, alpha = 1.702, beta = 1.0, limit = 7.0>,
    groups = #moe.group_limit<n_group = 8, topk_group = 4, score = sum_top2>,
    layout = #moe<layout interleaved>, scoring = #moe<scoring sigmoid>} {
  return
}

// CHECK-LABEL: func @check
// CHECK: moe.check %{{.*}}, "node 'g': index {0} is outside [-{1}, {1})" (%{{.*}}, %{{.*}} : i64, index)
// CHECK: moe.check %{{.*}}, "a literal {{[{][{]}} brace"
func.func @check(%ok: i1, %i: i64, %n: index) {
  moe.check %ok, "node 'g': index {0} is outside [-{1}, {1})" (%i, %n : i64, index)
  moe.check %ok, "a literal {{ brace"
  return
}
