// RUN: moec-opt %s -canonicalize -split-input-file | FileCheck %s

// A zero selection bias changes no choice: it is dropped.
// CHECK-LABEL: func @router_zero_bias
// CHECK: moe.router %{{.*}} top_k = 2 scoring = sigmoid :
func.func @router_zero_bias(%l: tensor<?x8xf32>) -> tensor<?x2xi32> {
  %zero = arith.constant dense<0.0> : tensor<8xf32>
  %w, %i = moe.router %l bias %zero top_k = 2 scoring = sigmoid
      : tensor<?x8xf32>, tensor<8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return %i : tensor<?x2xi32>
}

// -----

// A nonzero constant bias stays.
// CHECK-LABEL: func @router_nonzero_bias
// CHECK: moe.router %{{.*}} bias %{{.*}} top_k = 2
func.func @router_nonzero_bias(%l: tensor<?x8xf32>) -> tensor<?x2xi32> {
  %b = arith.constant dense<[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]> : tensor<8xf32>
  %w, %i = moe.router %l bias %b top_k = 2 scoring = sigmoid
      : tensor<?x8xf32>, tensor<8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return %i : tensor<?x2xi32>
}

// -----

// Keeping every group limits nothing; a unit scale scales nothing.
// CHECK-LABEL: func @router_trivial_groups_and_scale
// CHECK: moe.router %{{.*}} top_k = 2 scoring = softmax normalize : tensor<?x8xf32>
// CHECK: moe.router %{{.*}} top_k = 2 scoring = softmax groups = <n_group = 4, topk_group = 2, score = max> :
func.func @router_trivial_groups_and_scale(%l: tensor<?x8xf32>) -> (tensor<?x2xi32>, tensor<?x2xi32>) {
  %w, %i = moe.router %l top_k = 2 scoring = softmax normalize scale = 1.0
      groups = <n_group = 4, topk_group = 4, score = max>
      : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  %w2, %i2 = moe.router %l top_k = 2 scoring = softmax scale = 1.0
      groups = <n_group = 4, topk_group = 2, score = max>
      : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return %i, %i2 : tensor<?x2xi32>, tensor<?x2xi32>
}

// -----

// swiglu with alpha 1, beta 0 and no limit is silu_gated; zero biases go.
// CHECK-LABEL: func @experts_canonical
// CHECK: moe.experts %{{.*}} activation silu_gated gate_up %{{.*}} layout interleaved down %{{.*}} down_bias %{{.*}} :
func.func @experts_canonical(%x: tensor<?x64xf32>, %w: tensor<?x2xf32>, %ids: tensor<?x2xi32>,
    %gu: tensor<8x256x64xf32>, %d: tensor<8x64x128xf32>, %db: tensor<8x64xf32>) -> tensor<?x64xf32> {
  %zero = arith.constant dense<0.0> : tensor<8x256xf32>
  %y = moe.experts %x, %w, %ids activation swiglu<alpha = 1.0, beta = 0.0>
      gate_up %gu gate_up_bias %zero layout interleaved down %d down_bias %db
      : (tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<8x256x64xf32>,
         tensor<8x256xf32>, tensor<8x64x128xf32>, tensor<8x64xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// Clearing one optional bias must not disturb the operand segments after it.
// CHECK-LABEL: func @experts_two_zero_biases
// CHECK: moe.experts %arg0, %arg1, %arg2 activation silu_gated gate %arg3 up %arg4 down %arg5 :
func.func @experts_two_zero_biases(%x: tensor<?x64xf32>, %w: tensor<?x2xf32>, %ids: tensor<?x2xi32>,
    %g: tensor<8x128x64xf32>, %u: tensor<8x128x64xf32>, %d: tensor<8x64x128xf32>) -> tensor<?x64xf32> {
  %z128 = arith.constant dense<0.0> : tensor<8x128xf32>
  %z64 = arith.constant dense<0.0> : tensor<8x64xf32>
  %y = moe.experts %x, %w, %ids activation silu_gated gate %g gate_bias %z128
      up %u up_bias %z128 down %d down_bias %z64
      : (tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<8x128x64xf32>, tensor<8x128xf32>,
         tensor<8x128x64xf32>, tensor<8x128xf32>, tensor<8x64x128xf32>, tensor<8x64xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// GPT-OSS's clamped SwiGLU is not silu_gated and stays.
// CHECK-LABEL: func @experts_gpt_oss_stays
// CHECK: activation swiglu<alpha = 1.702000e+00, beta = 1.000000e+00, limit = 7.000000e+00>
func.func @experts_gpt_oss_stays(%x: tensor<?x64xf32>, %w: tensor<?x2xf32>, %ids: tensor<?x2xi32>,
    %gu: tensor<8x256x64xf32>, %d: tensor<8x64x128xf32>) -> tensor<?x64xf32> {
  %y = moe.experts %x, %w, %ids activation swiglu<alpha = 1.702, beta = 1.0, limit = 7.0>
      gate_up %gu layout interleaved down %d
      : (tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<8x256x64xf32>, tensor<8x64x128xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// CHECK-LABEL: func @grouped_matmul_zero_bias
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32> -> tensor<?x256xf32>
func.func @grouped_matmul_zero_bias(%r: tensor<?x64xf32>, %w: tensor<8x256x64xf32>, %o: tensor<9xi32>) -> tensor<?x256xf32> {
  %zero = arith.constant dense<0.0> : tensor<8x256xf32>
  %h = moe.grouped_matmul %r, %w, %o bias %zero
      : tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32>, tensor<8x256xf32> -> tensor<?x256xf32>
  return %h : tensor<?x256xf32>
}

// -----

// The identity activation folds away; others stay.
// CHECK-LABEL: func @activation_identity
// CHECK-NOT: moe.activation identity
// CHECK: %[[R:.*]] = moe.activation relu
// CHECK: return %{{.*}}, %[[R]]
func.func @activation_identity(%h: tensor<4x16xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  %a = moe.activation identity %h : tensor<4x16xf32> -> tensor<4x16xf32>
  %b = moe.activation relu %h : tensor<4x16xf32> -> tensor<4x16xf32>
  return %a, %b : tensor<4x16xf32>, tensor<4x16xf32>
}

// -----

// CHECK-LABEL: func @activation_canonical
// CHECK: moe.activation silu_gated %{{.*}} up %{{.*}}
func.func @activation_canonical(%g: tensor<4x16xf32>, %u: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %a = moe.activation swiglu %g up %u : tensor<4x16xf32>, tensor<4x16xf32> -> tensor<4x16xf32>
  return %a : tensor<4x16xf32>
}

// -----

// A check whose condition is a constant true is gone; others stay.
// CHECK-LABEL: func @check
// CHECK-NOT: "always"
// CHECK: moe.check %{{.*}}, "maybe"
func.func @check(%ok: i1) {
  %true = arith.constant true
  moe.check %true, "always"
  moe.check %ok, "maybe"
  return
}
