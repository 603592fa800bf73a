// RUN: moec-opt %s -split-input-file -verify-diagnostics

//===----------------------------------------------------------------------===//
// moe.router
//===----------------------------------------------------------------------===//

func.func @router_rank(%l: tensor<8xf32>) {
  // expected-error @+1 {{expects logits ([tokens, experts]) of rank 2, got rank 1}}
  %w, %i = moe.router %l top_k = 2 scoring = softmax : tensor<8xf32> -> tensor<2xf32>, tensor<2xi32>
  return
}

// -----

func.func @router_dynamic_experts(%l: tensor<4x?xf32>) {
  // expected-error @+1 {{expects a static number of experts}}
  %w, %i = moe.router %l top_k = 2 scoring = softmax : tensor<4x?xf32> -> tensor<4x2xf32>, tensor<4x2xi32>
  return
}

// -----

func.func @router_top_k(%l: tensor<4x8xf32>) {
  // expected-error @+1 {{top_k (9) exceeds the number of experts (8)}}
  %w, %i = moe.router %l top_k = 9 scoring = softmax : tensor<4x8xf32> -> tensor<4x9xf32>, tensor<4x9xi32>
  return
}

// -----

func.func @router_top_k_positive(%l: tensor<4x8xf32>) {
  // expected-error @+1 {{attribute 'top_k' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %w, %i = moe.router %l top_k = 0 scoring = softmax : tensor<4x8xf32> -> tensor<4x0xf32>, tensor<4x0xi32>
  return
}

// -----

func.func @router_bias_shape(%l: tensor<4x8xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{expects a selection bias of shape [8], got 'tensor<4xf32>'}}
  %w, %i = moe.router %l bias %b top_k = 2 scoring = sigmoid : tensor<4x8xf32>, tensor<4xf32> -> tensor<4x2xf32>, tensor<4x2xi32>
  return
}

// -----

func.func @router_bias_type(%l: tensor<4x8xf32>, %b: tensor<8xf16>) {
  // expected-error @+1 {{selection bias and logits element types differ}}
  %w, %i = moe.router %l bias %b top_k = 2 scoring = sigmoid : tensor<4x8xf32>, tensor<8xf16> -> tensor<4x2xf32>, tensor<4x2xi32>
  return
}

// -----

func.func @router_result_rank(%l: tensor<4x8xf32>) {
  // expected-error @+1 {{expects weights of rank 2, got rank 1}}
  %w, %i = moe.router %l top_k = 2 scoring = softmax : tensor<4x8xf32> -> tensor<8xf32>, tensor<4x2xi32>
  return
}

// -----

func.func @router_result_tokens(%l: tensor<4x8xf32>) {
  // expected-error @+1 {{ids dimension 0 is 5 but the token count is 4}}
  %w, %i = moe.router %l top_k = 2 scoring = softmax : tensor<4x8xf32> -> tensor<4x2xf32>, tensor<5x2xi32>
  return
}

// -----

func.func @router_result_k(%l: tensor<?x8xf32>) {
  // expected-error @+1 {{weights dimension 1 is 3 but top_k is 2}}
  %w, %i = moe.router %l top_k = 2 scoring = softmax : tensor<?x8xf32> -> tensor<?x3xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @router_weights_type(%l: tensor<4x8xf32>) {
  // expected-error @+1 {{weights and logits element types differ}}
  %w, %i = moe.router %l top_k = 2 scoring = softmax : tensor<4x8xf32> -> tensor<4x2xf16>, tensor<4x2xi32>
  return
}

// -----

func.func @router_ids_type(%l: tensor<4x8xf32>) {
  // expected-error @+1 {{result #1 must be ranked tensor of 32-bit signless integer values}}
  %w, %i = moe.router %l top_k = 2 scoring = softmax : tensor<4x8xf32> -> tensor<4x2xf32>, tensor<4x2xi64>
  return
}

// -----

func.func @router_normalize(%l: tensor<4x8xf32>) {
  // expected-error @+1 {{'normalize' is implied by scoring softmax_after_topk}}
  %w, %i = moe.router %l top_k = 2 scoring = softmax_after_topk normalize : tensor<4x8xf32> -> tensor<4x2xf32>, tensor<4x2xi32>
  return
}

// -----

func.func @router_scale(%l: tensor<4x8xf32>) {
  // expected-error @+1 {{scale must be positive and finite}}
  %w, %i = moe.router %l top_k = 2 scoring = softmax scale = -1.0 : tensor<4x8xf32> -> tensor<4x2xf32>, tensor<4x2xi32>
  return
}

// -----

func.func @router_group_divide(%l: tensor<4x30xf32>) {
  // expected-error @+1 {{n_group (8) does not divide the number of experts (30)}}
  %w, %i = moe.router %l top_k = 2 scoring = softmax groups = <n_group = 8, topk_group = 2, score = max> : tensor<4x30xf32> -> tensor<4x2xf32>, tensor<4x2xi32>
  return
}

// -----

func.func @router_group_top2(%l: tensor<4x8xf32>) {
  // expected-error @+1 {{group score sum_top2 needs at least 2 experts per group, got 1}}
  %w, %i = moe.router %l top_k = 2 scoring = sigmoid groups = <n_group = 8, topk_group = 4, score = sum_top2> : tensor<4x8xf32> -> tensor<4x2xf32>, tensor<4x2xi32>
  return
}

// -----

func.func @router_group_capacity(%l: tensor<4x64xf32>) {
  // expected-error @+1 {{top_k (9) exceeds the 8 experts in the topk_group best groups}}
  %w, %i = moe.router %l top_k = 9 scoring = sigmoid groups = <n_group = 8, topk_group = 1, score = sum_top2> : tensor<4x64xf32> -> tensor<4x9xf32>, tensor<4x9xi32>
  return
}

// -----

// expected-error @+1 {{n_group must be positive, got 0}}
func.func @group_limit_n_group() attributes {g = #moe.group_limit<n_group = 0, topk_group = 1, score = max>} {
  return
}

// -----

// expected-error @+1 {{topk_group must be in [1, n_group = 4], got 5}}
func.func @group_limit_topk_group() attributes {g = #moe.group_limit<n_group = 4, topk_group = 5, score = max>} {
  return
}

// -----

// expected-error @+1 {{fill must be finite (dropped groups are ineligible without it)}}
func.func @group_limit_fill() attributes {g = #moe.group_limit<n_group = 4, topk_group = 2, score = max, fill = 0xFFF0000000000000 : f64>} {
  return
}

// -----

func.func @router_unknown_scoring(%l: tensor<4x8xf32>) {
  // expected-error @+1 {{unknown keyword 'tanh'}}
  %w, %i = moe.router %l top_k = 2 scoring = tanh : tensor<4x8xf32> -> tensor<4x2xf32>, tensor<4x2xi32>
  return
}

//===----------------------------------------------------------------------===//
// Activation attribute
//===----------------------------------------------------------------------===//

// -----

// expected-error @+1 {{alpha, beta and limit apply only to swiglu, not gelu}}
func.func @activation_params() attributes {a = #moe.activation<gelu, alpha = 2.0>} {
  return
}

// -----

// expected-error @+1 {{swiglu limit must be positive and finite}}
func.func @activation_limit() attributes {a = #moe.activation<swiglu, limit = 0.0>} {
  return
}

// -----

// expected-error @+1 {{swiglu alpha and beta must be finite}}
func.func @activation_finite() attributes {a = #moe.activation<swiglu, alpha = 0x7FF0000000000000>} {
  return
}

// -----

// expected-error @+1 {{unknown activation 'swish'}}
func.func @activation_kind() attributes {a = #moe.activation<swish>} {
  return
}

// -----

// expected-error @+1 {{unknown activation parameter 'gamma'; expected alpha, beta or limit}}
func.func @activation_param_name() attributes {a = #moe.activation<swiglu, gamma = 1.0>} {
  return
}

// -----

// expected-error @+1 {{duplicate activation parameter 'alpha'}}
func.func @activation_param_twice() attributes {a = #moe.activation<swiglu, alpha = 1.5, alpha = 2.0>} {
  return
}

//===----------------------------------------------------------------------===//
// moe.experts
//===----------------------------------------------------------------------===//

// -----

func.func @experts_bias_without_weight(%x: tensor<4x64xf32>, %w: tensor<4x2xf32>, %i: tensor<4x2xi32>,
    %u: tensor<8x128x64xf32>, %gb: tensor<8x128xf32>, %d: tensor<8x64x128xf32>) {
  // expected-error @+1 {{'gate_bias' without a 'gate' weight}}
  %y = moe.experts %x, %w, %i activation gelu gate_bias %gb up %u down %d
      : (tensor<4x64xf32>, tensor<4x2xf32>, tensor<4x2xi32>, tensor<8x128xf32>, tensor<8x128x64xf32>, tensor<8x64x128xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @experts_fused_and_separate(%x: tensor<4x64xf32>, %w: tensor<4x2xf32>, %i: tensor<4x2xi32>,
    %gu: tensor<8x256x64xf32>, %g: tensor<8x128x64xf32>, %d: tensor<8x64x128xf32>) {
  // expected-error @+1 {{a fused 'gate_up' weight excludes 'gate' and 'up'}}
  %y = moe.experts %x, %w, %i activation silu_gated gate_up %gu layout interleaved gate %g down %d
      : (tensor<4x64xf32>, tensor<4x2xf32>, tensor<4x2xi32>, tensor<8x256x64xf32>, tensor<8x128x64xf32>, tensor<8x64x128xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @experts_fused_needs_layout(%x: tensor<4x64xf32>, %w: tensor<4x2xf32>, %i: tensor<4x2xi32>,
    %gu: tensor<8x256x64xf32>, %d: tensor<8x64x128xf32>) {
  // expected-error @+1 {{a fused 'gate_up' weight needs a 'layout' (interleaved or concatenated)}}
  %y = moe.experts %x, %w, %i activation silu_gated gate_up %gu down %d
      : (tensor<4x64xf32>, tensor<4x2xf32>, tensor<4x2xi32>, tensor<8x256x64xf32>, tensor<8x64x128xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @experts_gated_needs_both(%x: tensor<4x64xf32>, %w: tensor<4x2xf32>, %i: tensor<4x2xi32>,
    %u: tensor<8x128x64xf32>, %d: tensor<8x64x128xf32>) {
  // expected-error @+1 {{gated activation swiglu needs either 'gate_up' or both 'gate' and 'up'}}
  %y = moe.experts %x, %w, %i activation swiglu<alpha = 1.702> up %u down %d
      : (tensor<4x64xf32>, tensor<4x2xf32>, tensor<4x2xi32>, tensor<8x128x64xf32>, tensor<8x64x128xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @experts_ungated(%x: tensor<4x64xf32>, %w: tensor<4x2xf32>, %i: tensor<4x2xi32>,
    %g: tensor<8x128x64xf32>, %u: tensor<8x128x64xf32>, %d: tensor<8x64x128xf32>) {
  // expected-error @+1 {{ungated activation relu takes an 'up' and a 'down' weight only}}
  %y = moe.experts %x, %w, %i activation relu gate %g up %u down %d
      : (tensor<4x64xf32>, tensor<4x2xf32>, tensor<4x2xi32>, tensor<8x128x64xf32>, tensor<8x128x64xf32>, tensor<8x64x128xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @experts_layout_without_fused(%x: tensor<4x64xf32>, %w: tensor<4x2xf32>, %i: tensor<4x2xi32>,
    %g: tensor<8x128x64xf32>, %u: tensor<8x128x64xf32>, %d: tensor<8x64x128xf32>) {
  // expected-error @+1 {{'layout' applies only to a fused 'gate_up' weight}}
  %y = moe.experts %x, %w, %i activation silu_gated layout interleaved gate %g up %u down %d
      : (tensor<4x64xf32>, tensor<4x2xf32>, tensor<4x2xi32>, tensor<8x128x64xf32>, tensor<8x128x64xf32>, tensor<8x64x128xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @experts_input_rank(%x: tensor<2x4x64xf32>, %w: tensor<4x2xf32>, %i: tensor<4x2xi32>,
    %u: tensor<8x128x64xf32>, %d: tensor<8x64x128xf32>) {
  // expected-error @+1 {{expects input ([tokens, hidden]) of rank 2, got rank 3}}
  %y = moe.experts %x, %w, %i activation gelu up %u down %d
      : (tensor<2x4x64xf32>, tensor<4x2xf32>, tensor<4x2xi32>, tensor<8x128x64xf32>, tensor<8x64x128xf32>) -> tensor<2x4x64xf32>
  return
}

// -----

func.func @experts_token_count(%x: tensor<4x64xf32>, %w: tensor<3x2xf32>, %i: tensor<4x2xi32>,
    %u: tensor<8x128x64xf32>, %d: tensor<8x64x128xf32>) {
  // expected-error @+1 {{routing weights dimension 0 is 3 but the token count is 4}}
  %y = moe.experts %x, %w, %i activation gelu up %u down %d
      : (tensor<4x64xf32>, tensor<3x2xf32>, tensor<4x2xi32>, tensor<8x128x64xf32>, tensor<8x64x128xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @experts_ids_k(%x: tensor<4x64xf32>, %w: tensor<4x2xf32>, %i: tensor<4x3xi32>,
    %u: tensor<8x128x64xf32>, %d: tensor<8x64x128xf32>) {
  // expected-error @+1 {{expert ids dimension 1 is 3 but the routing weights' k is 2}}
  %y = moe.experts %x, %w, %i activation gelu up %u down %d
      : (tensor<4x64xf32>, tensor<4x2xf32>, tensor<4x3xi32>, tensor<8x128x64xf32>, tensor<8x64x128xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @experts_down_rank(%x: tensor<4x64xf32>, %w: tensor<4x2xf32>, %i: tensor<4x2xi32>,
    %u: tensor<8x128x64xf32>, %d: tensor<64x128xf32>) {
  // expected-error @+1 {{expects 'down' weight ([experts, out, in]) of rank 3, got rank 2}}
  %y = moe.experts %x, %w, %i activation gelu up %u down %d
      : (tensor<4x64xf32>, tensor<4x2xf32>, tensor<4x2xi32>, tensor<8x128x64xf32>, tensor<64x128xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @experts_down_features(%x: tensor<4x64xf32>, %w: tensor<4x2xf32>, %i: tensor<4x2xi32>,
    %u: tensor<8x128x64xf32>, %d: tensor<8x32x128xf32>) {
  // expected-error @+1 {{'down' weight produces 32 features but the input's hidden size is 64}}
  %y = moe.experts %x, %w, %i activation gelu up %u down %d
      : (tensor<4x64xf32>, tensor<4x2xf32>, tensor<4x2xi32>, tensor<8x128x64xf32>, tensor<8x32x128xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @experts_up_shape(%x: tensor<4x64xf32>, %w: tensor<4x2xf32>, %i: tensor<4x2xi32>,
    %u: tensor<4x128x64xf32>, %d: tensor<8x64x128xf32>) {
  // expected-error @+1 {{expects 'up' weight of shape [8, 128, 64], got 'tensor<4x128x64xf32>'}}
  %y = moe.experts %x, %w, %i activation gelu up %u down %d
      : (tensor<4x64xf32>, tensor<4x2xf32>, tensor<4x2xi32>, tensor<4x128x64xf32>, tensor<8x64x128xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @experts_gate_up_rank(%x: tensor<4x64xf32>, %w: tensor<4x2xf32>, %i: tensor<4x2xi32>,
    %gu: tensor<256x64xf32>, %d: tensor<8x64x128xf32>) {
  // expected-error @+1 {{expects 'gate_up' weight ([experts, out, in]) of rank 3, got rank 2}}
  %y = moe.experts %x, %w, %i activation silu_gated gate_up %gu layout interleaved down %d
      : (tensor<4x64xf32>, tensor<4x2xf32>, tensor<4x2xi32>, tensor<256x64xf32>, tensor<8x64x128xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @experts_bias_shape(%x: tensor<4x64xf32>, %w: tensor<4x2xf32>, %i: tensor<4x2xi32>,
    %u: tensor<8x128x64xf32>, %d: tensor<8x64x128xf32>, %db: tensor<8x128xf32>) {
  // expected-error @+1 {{expects 'down_bias' of shape [8, 64], got 'tensor<8x128xf32>'}}
  %y = moe.experts %x, %w, %i activation gelu up %u down %d down_bias %db
      : (tensor<4x64xf32>, tensor<4x2xf32>, tensor<4x2xi32>, tensor<8x128x64xf32>, tensor<8x64x128xf32>, tensor<8x128xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @experts_result_type(%x: tensor<4x64xf32>, %w: tensor<4x2xf32>, %i: tensor<4x2xi32>,
    %u: tensor<8x128x64xf32>, %d: tensor<8x64x128xf32>) {
  // expected-error @+1 {{failed to verify that all of {input, output} have same type}}
  %y = moe.experts %x, %w, %i activation gelu up %u down %d
      : (tensor<4x64xf32>, tensor<4x2xf32>, tensor<4x2xi32>, tensor<8x128x64xf32>, tensor<8x64x128xf32>) -> tensor<4x64xf16>
  return
}

//===----------------------------------------------------------------------===//
// moe.dispatch
//===----------------------------------------------------------------------===//

// -----

func.func @dispatch_ids_rank(%x: tensor<4x64xf32>, %i: tensor<8xi32>) {
  // expected-error @+1 {{expects expert ids ([tokens, k]) of rank 2, got rank 1}}
  %r, %p, %o = moe.dispatch %x, %i num_experts = 8 : tensor<4x64xf32>, tensor<8xi32> -> tensor<8x64xf32>, tensor<8xi32>, tensor<9xi32>
  return
}

// -----

func.func @dispatch_tokens(%x: tensor<4x64xf32>, %i: tensor<5x2xi32>) {
  // expected-error @+1 {{expert ids dimension 0 is 5 but the token count is 4}}
  %r, %p, %o = moe.dispatch %x, %i num_experts = 8 : tensor<4x64xf32>, tensor<5x2xi32> -> tensor<10x64xf32>, tensor<10xi32>, tensor<9xi32>
  return
}

// -----

func.func @dispatch_rows(%x: tensor<4x64xf32>, %i: tensor<4x2xi32>) {
  // expected-error @+1 {{rows dimension 0 is 4 but tokens * k is 8}}
  %r, %p, %o = moe.dispatch %x, %i num_experts = 8 : tensor<4x64xf32>, tensor<4x2xi32> -> tensor<4x64xf32>, tensor<8xi32>, tensor<9xi32>
  return
}

// -----

func.func @dispatch_hidden(%x: tensor<?x64xf32>, %i: tensor<?x2xi32>) {
  // expected-error @+1 {{rows dimension 1 is 32 but the hidden size is 64}}
  %r, %p, %o = moe.dispatch %x, %i num_experts = 8 : tensor<?x64xf32>, tensor<?x2xi32> -> tensor<?x32xf32>, tensor<?xi32>, tensor<9xi32>
  return
}

// -----

func.func @dispatch_permutation(%x: tensor<4x64xf32>, %i: tensor<4x2xi32>) {
  // expected-error @+1 {{permutation dimension 0 is 4 but tokens * k is 8}}
  %r, %p, %o = moe.dispatch %x, %i num_experts = 8 : tensor<4x64xf32>, tensor<4x2xi32> -> tensor<8x64xf32>, tensor<4xi32>, tensor<9xi32>
  return
}

// -----

func.func @dispatch_rows_type(%x: tensor<4x64xf32>, %i: tensor<4x2xi32>) {
  // expected-error @+1 {{rows and input element types differ}}
  %r, %p, %o = moe.dispatch %x, %i num_experts = 8 : tensor<4x64xf32>, tensor<4x2xi32> -> tensor<8x64xbf16>, tensor<8xi32>, tensor<9xi32>
  return
}

// -----

func.func @dispatch_offsets(%x: tensor<4x64xf32>, %i: tensor<4x2xi32>) {
  // expected-error @+1 {{expects 9 offsets (num_experts + 1), got ?}}
  %r, %p, %o = moe.dispatch %x, %i num_experts = 8 : tensor<4x64xf32>, tensor<4x2xi32> -> tensor<8x64xf32>, tensor<8xi32>, tensor<?xi32>
  return
}

//===----------------------------------------------------------------------===//
// moe.grouped_matmul
//===----------------------------------------------------------------------===//

// -----

func.func @grouped_matmul_weight_rank(%r: tensor<?x64xf32>, %w: tensor<256x64xf32>, %o: tensor<9xi32>) {
  // expected-error @+1 {{expects weight ([experts, out, in]) of rank 3, got rank 2}}
  %h = moe.grouped_matmul %r, %w, %o : tensor<?x64xf32>, tensor<256x64xf32>, tensor<9xi32> -> tensor<?x256xf32>
  return
}

// -----

func.func @grouped_matmul_k(%r: tensor<?x32xf32>, %w: tensor<8x256x64xf32>, %o: tensor<9xi32>) {
  // expected-error @+1 {{rows dimension 1 is 32 but the weight's input size is 64}}
  %h = moe.grouped_matmul %r, %w, %o : tensor<?x32xf32>, tensor<8x256x64xf32>, tensor<9xi32> -> tensor<?x256xf32>
  return
}

// -----

func.func @grouped_matmul_offsets(%r: tensor<?x64xf32>, %w: tensor<8x256x64xf32>, %o: tensor<8xi32>) {
  // expected-error @+1 {{offsets dimension 0 is 8 but num_experts + 1 is 9}}
  %h = moe.grouped_matmul %r, %w, %o : tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<8xi32> -> tensor<?x256xf32>
  return
}

// -----

func.func @grouped_matmul_rows(%r: tensor<6x64xf32>, %w: tensor<8x256x64xf32>, %o: tensor<9xi32>) {
  // expected-error @+1 {{output dimension 0 is 5 but the row count is 6}}
  %h = moe.grouped_matmul %r, %w, %o : tensor<6x64xf32>, tensor<8x256x64xf32>, tensor<9xi32> -> tensor<5x256xf32>
  return
}

// -----

func.func @grouped_matmul_n(%r: tensor<?x64xf32>, %w: tensor<8x256x64xf32>, %o: tensor<9xi32>) {
  // expected-error @+1 {{output dimension 1 is 128 but the weight's output size is 256}}
  %h = moe.grouped_matmul %r, %w, %o : tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32> -> tensor<?x128xf32>
  return
}

// -----

func.func @grouped_matmul_bias(%r: tensor<?x64xf32>, %w: tensor<8x256x64xf32>, %o: tensor<9xi32>, %b: tensor<256xf32>) {
  // expected-error @+1 {{expects a bias of shape [8, 256], got 'tensor<256xf32>'}}
  %h = moe.grouped_matmul %r, %w, %o bias %b : tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32>, tensor<256xf32> -> tensor<?x256xf32>
  return
}

// -----

func.func @grouped_matmul_type(%r: tensor<?x64xf32>, %w: tensor<8x256x64xf32>, %o: tensor<9xi32>) {
  // expected-error @+1 {{output and rows element types differ}}
  %h = moe.grouped_matmul %r, %w, %o : tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32> -> tensor<?x256xf16>
  return
}

//===----------------------------------------------------------------------===//
// moe.activation
//===----------------------------------------------------------------------===//

// -----

func.func @activation_type(%h: tensor<4x16xf32>) {
  // expected-error @+1 {{output and input element types differ}}
  %a = moe.activation relu %h : tensor<4x16xf32> -> tensor<4x16xf16>
  return
}

// -----

func.func @activation_ungated(%h: tensor<4x16xf32>) {
  // expected-error @+1 {{ungated activation relu takes one input and no layout}}
  %a = moe.activation relu %h layout interleaved : tensor<4x16xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @activation_layout_with_up(%g: tensor<4x16xf32>, %u: tensor<4x16xf32>) {
  // expected-error @+1 {{'layout' applies only to a fused gate/up input}}
  %a = moe.activation silu_gated %g up %u layout interleaved : tensor<4x16xf32>, tensor<4x16xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @activation_gate_up_types(%g: tensor<4x16xf32>, %u: tensor<4x8xf32>) {
  // expected-error @+1 {{gate and up inputs must have the same type}}
  %a = moe.activation silu_gated %g up %u : tensor<4x16xf32>, tensor<4x8xf32> -> tensor<4x16xf32>
  return
}

// -----

func.func @activation_gated_alone(%h: tensor<4x16xf32>) {
  // expected-error @+1 {{gated activation silu_gated needs either an 'up' input or a 'layout' for a fused gate/up input}}
  %a = moe.activation silu_gated %h : tensor<4x16xf32> -> tensor<4x16xf32>
  return
}

// -----

func.func @activation_odd(%h: tensor<4x15xf32>) {
  // expected-error @+1 {{fused gate/up input has an odd feature count 15}}
  %a = moe.activation silu_gated %h layout concatenated : tensor<4x15xf32> -> tensor<4x7xf32>
  return
}

// -----

func.func @activation_width(%h: tensor<4x16xf32>) {
  // expected-error @+1 {{output dimension 1 is 16 but the activation's width is 8}}
  %a = moe.activation silu_gated %h layout concatenated : tensor<4x16xf32> -> tensor<4x16xf32>
  return
}

// -----

func.func @activation_rows(%h: tensor<4x16xf32>) {
  // expected-error @+1 {{output dimension 0 is 3 but the input's row count is 4}}
  %a = moe.activation gelu %h : tensor<4x16xf32> -> tensor<3x16xf32>
  return
}

//===----------------------------------------------------------------------===//
// moe.combine
//===----------------------------------------------------------------------===//

// -----

func.func @combine_rank(%r: tensor<8x64xf32>, %p: tensor<8xi32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{expects routing weights ([tokens, k]) of rank 2, got rank 1}}
  %y = moe.combine %r, %p, %w : tensor<8x64xf32>, tensor<8xi32>, tensor<8xf32> -> tensor<4x64xf32>
  return
}

// -----

func.func @dispatch_capacity_rows(%x: tensor<4x64xf32>, %i: tensor<4x2xi32>) {
  // expected-error @+1 {{rows dimension 0 is 8 but num_experts * capacity is 16}}
  %r, %p, %o = moe.dispatch %x, %i num_experts = 8 capacity = 2 : tensor<4x64xf32>, tensor<4x2xi32> -> tensor<8x64xf32>, tensor<8xi32>, tensor<9xi32>
  return
}

// -----

func.func @skip_threshold(%w: tensor<?x2xf32>, %i: tensor<?x2xi32>) {
  // expected-error @+1 {{threshold must be in [0, 1], got 1.5}}
  %w2, %i2 = moe.skip_experts %w, %i threshold = 1.5 : tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @skip_shapes(%w: tensor<?x2xf32>, %i: tensor<?x3xi32>) {
  // expected-error @+1 {{ids dimension 1 is 3 but k is 2}}
  %w2, %i2 = moe.skip_experts %w, %i threshold = 0.5 : tensor<?x2xf32>, tensor<?x3xi32>
  return
}

// -----

func.func @remap_map(%w: tensor<?x2xf32>, %i: tensor<?x2xi32>) {
  // expected-error @+1 {{map entries must be -1 or an expert, got -2}}
  %w2, %i2 = moe.remap_experts %w, %i map = [0, -2] : tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @combine_permutation(%r: tensor<8x64xf32>, %p: tensor<6xi32>, %w: tensor<4x2xf32>) {
  // expected-error @+1 {{permutation dimension 0 is 6 but the row count is 8}}
  %y = moe.combine %r, %p, %w : tensor<8x64xf32>, tensor<6xi32>, tensor<4x2xf32> -> tensor<4x64xf32>
  return
}

// -----

func.func @combine_tokens(%r: tensor<?x64xf32>, %p: tensor<?xi32>, %w: tensor<4x2xf32>) {
  // expected-error @+1 {{output dimension 0 is 5 but the token count is 4}}
  %y = moe.combine %r, %p, %w : tensor<?x64xf32>, tensor<?xi32>, tensor<4x2xf32> -> tensor<5x64xf32>
  return
}

// -----

func.func @combine_hidden(%r: tensor<?x64xf32>, %p: tensor<?xi32>, %w: tensor<?x2xf32>) {
  // expected-error @+1 {{output dimension 1 is 32 but the hidden size is 64}}
  %y = moe.combine %r, %p, %w : tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32> -> tensor<?x32xf32>
  return
}

// -----

func.func @combine_type(%r: tensor<?x64xf32>, %p: tensor<?xi32>, %w: tensor<?x2xf32>) {
  // expected-error @+1 {{output and rows element types differ}}
  %y = moe.combine %r, %p, %w : tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32> -> tensor<?x64xbf16>
  return
}

//===----------------------------------------------------------------------===//
// moe.weight, moe.packed_weight, !moe.packed, #moe.packing
//===----------------------------------------------------------------------===//

// -----

func.func @weight_key() {
  // expected-error @+1 {{expects a non-empty weight key}}
  %w = moe.weight "" : tensor<4xf32>
  return
}

// -----

func.func @weight_file_without_offset() {
  // expected-error @+1 {{expects both a file and an offset, or neither}}
  %w = "moe.weight"() {key = "w", file = "w.bin"} : () -> tensor<4xf32>
  return
}

// -----

func.func @weight_negative_offset() {
  // expected-error @+1 {{expects a non-negative offset, got -8}}
  %w = moe.weight "w" from "w.bin" at -8 : tensor<4xf32>
  return
}

// -----

func.func @weight_dynamic() {
  // expected-error @+1 {{result #0 must be statically shaped tensor of any type values}}
  %w = moe.weight "w" : tensor<?xf32>
  return
}

// -----

func.func @packed_data_shape(%d: tensor<8x256x64xui8>, %s: tensor<8x256x2xf16>) {
  // expected-error @+1 {{expects packed data of shape [8, 256, 32] for 'tensor<8x256x64xf32>' at 4 bits, got [8, 256, 64]}}
  %q = moe.packed_weight %d, %s : tensor<8x256x64xui8>, tensor<8x256x2xf16>
      -> !moe.packed<tensor<8x256x64xf32>, #moe.packing<sint4, block = [1, 1, 32], scale = f16>>
  return
}

// -----

func.func @packed_scale_shape(%d: tensor<8x256x32xui8>, %s: tensor<8x256x4xf16>) {
  // expected-error @+1 {{expects scales of shape [8, 256, 2] (one per block), got [8, 256, 4]}}
  %q = moe.packed_weight %d, %s : tensor<8x256x32xui8>, tensor<8x256x4xf16>
      -> !moe.packed<tensor<8x256x64xf32>, #moe.packing<sint4, block = [1, 1, 32], scale = f16>>
  return
}

// -----

func.func @packed_scale_type(%d: tensor<8x256x32xui8>, %s: tensor<8x256x2xf32>) {
  // expected-error @+1 {{scale element type 'f32' does not match the packing's 'f16'}}
  %q = moe.packed_weight %d, %s : tensor<8x256x32xui8>, tensor<8x256x2xf32>
      -> !moe.packed<tensor<8x256x64xf32>, #moe.packing<sint4, block = [1, 1, 32], scale = f16>>
  return
}

// -----

func.func @packed_missing_zero_points(%d: tensor<8x256x32xui8>, %s: tensor<8x256x2xf16>) {
  // expected-error @+1 {{packing declares zero points of type 'ui8' but none are given}}
  %q = moe.packed_weight %d, %s : tensor<8x256x32xui8>, tensor<8x256x2xf16>
      -> !moe.packed<tensor<8x256x64xf32>, #moe.packing<uint4, block = [1, 1, 32], scale = f16, zero_point = ui8>>
  return
}

// -----

func.func @packed_unexpected_zero_points(%d: tensor<8x256x32xui8>, %s: tensor<8x256x2xf16>, %z: tensor<8x256x2xui8>) {
  // expected-error @+1 {{zero points are given but the packing declares none}}
  %q = moe.packed_weight %d, %s zero_points %z : tensor<8x256x32xui8>, tensor<8x256x2xf16>, tensor<8x256x2xui8>
      -> !moe.packed<tensor<8x256x64xf32>, #moe.packing<uint4, block = [1, 1, 32], scale = f16>>
  return
}

// -----

func.func @packed_zero_point_shape(%d: tensor<8x256x32xui8>, %s: tensor<8x256x2xf16>, %z: tensor<8x256xui8>) {
  // expected-error @+1 {{expects zero points of shape [8, 256, 2] (one per block), got [8, 256]}}
  %q = moe.packed_weight %d, %s zero_points %z : tensor<8x256x32xui8>, tensor<8x256x2xf16>, tensor<8x256xui8>
      -> !moe.packed<tensor<8x256x64xf32>, #moe.packing<uint4, block = [1, 1, 32], scale = f16, zero_point = ui8>>
  return
}

// -----

func.func @packed_zero_point_type(%d: tensor<8x256x32xui8>, %s: tensor<8x256x2xf16>, %z: tensor<8x256x2xf16>) {
  // expected-error @+1 {{zero point element type 'f16' does not match the packing's 'ui8'}}
  %q = moe.packed_weight %d, %s zero_points %z : tensor<8x256x32xui8>, tensor<8x256x2xf16>, tensor<8x256x2xf16>
      -> !moe.packed<tensor<8x256x64xf32>, #moe.packing<uint4, block = [1, 1, 32], scale = f16, zero_point = ui8>>
  return
}

// -----

func.func @packed_data_type(%d: tensor<8x256x8xi32>, %s: tensor<8x256x2xf16>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 8-bit signless integer or 8-bit unsigned integer values}}
  %q = moe.packed_weight %d, %s : tensor<8x256x8xi32>, tensor<8x256x2xf16>
      -> !moe.packed<tensor<8x256x64xf32>, #moe.packing<sint4, block = [1, 1, 32], scale = f16>>
  return
}

// -----

// expected-error @+1 {{packed weight needs a static shape of rank >= 1, got 'tensor<?x64xf32>'}}
func.func @packed_dynamic(%q: !moe.packed<tensor<?x64xf32>, #moe.packing<sint8, block = [1, 64], scale = f32>>) {
  return
}

// -----

// expected-error @+1 {{packed weight's logical element type must be a float type, got 'i32'}}
func.func @packed_element(%q: !moe.packed<tensor<4x64xi32>, #moe.packing<sint8, block = [1, 64], scale = f32>>) {
  return
}

// -----

// expected-error @+1 {{packing block has 3 entries but the weight has rank 2}}
func.func @packed_block_rank(%q: !moe.packed<tensor<4x64xf32>, #moe.packing<sint8, block = [1, 1, 64], scale = f32>>) {
  return
}

// -----

// expected-error @+1 {{innermost dimension 33 of 4-bit elements does not fill whole bytes}}
func.func @packed_partial_byte(%q: !moe.packed<tensor<4x33xf32>, #moe.packing<sint4, block = [1, 33], scale = f32>>) {
  return
}

// -----

// expected-error @+1 {{block sizes must be positive, got 0}}
func.func @packing_block() attributes {p = #moe.packing<sint8, block = [1, 0], scale = f32>} {
  return
}

// -----

// expected-error @+1 {{block needs one entry per weight dimension}}
func.func @packing_block_empty() attributes {p = #moe.packing<sint8, block = [], scale = f32>} {
  return
}

// -----

// expected-error @+1 {{scale type must be f32, f16, bf16 or f8E8M0FNU, got 'i8'}}
func.func @packing_scale() attributes {p = #moe.packing<sint8, block = [1, 32], scale = i8>} {
  return
}

// -----

// expected-error @+1 {{float format e2m1 takes no zero point}}
func.func @packing_float_zero_point() attributes {p = #moe.packing<e2m1, block = [1, 32], scale = f8E8M0FNU, zero_point = ui8>} {
  return
}

// -----

// expected-error @+1 {{zero point type must be an integer or float type, got 'index'}}
func.func @packing_zero_point_type() attributes {p = #moe.packing<uint4, block = [1, 32], scale = f16, zero_point = index>} {
  return
}

// -----

// expected-error @+1 {{order applies only to sub-byte formats, not sint8}}
func.func @packing_order() attributes {p = #moe.packing<sint8, block = [1, 32], scale = f16, order = high_first>} {
  return
}

// -----

// expected-error @+1 {{unknown packed format 'int3'}}
func.func @packing_format() attributes {p = #moe.packing<int3, block = [1, 32], scale = f16>} {
  return
}

// -----

// expected-error @+1 {{unknown packing order 'middle_first'}}
func.func @packing_order_name() attributes {p = #moe.packing<uint4, block = [1, 32], scale = f16, order = middle_first>} {
  return
}

// -----

// expected-error @+1 {{duplicate zero_point}}
func.func @packing_zero_point_twice() attributes {p = #moe.packing<uint4, block = [1, 32], scale = f16, zero_point = ui8, zero_point = ui8>} {
  return
}

//===----------------------------------------------------------------------===//
// Dialect attributes
//===----------------------------------------------------------------------===//

// -----

// expected-error @+1 {{'moe.weight_files' is only allowed on a builtin.module}}
func.func @weight_files_on_func() attributes {moe.weight_files = ["w.safetensors"]} {
  return
}

// -----

// expected-error @+1 {{'moe.weight_files' must be an array of file paths}}
module attributes {moe.weight_files = "w.safetensors"} {
}

// -----

// expected-error @+1 {{'moe.weight_files' entries must be non-empty strings}}
module attributes {moe.weight_files = ["a.safetensors", ""]} {
}

// -----

// expected-error @+1 {{unknown moe dialect attribute 'moe.weights'}}
module attributes {moe.weights = ["a.safetensors"]} {
}

// -----

func.func @check_missing_value(%ok: i1, %i: i64) {
  // expected-error @+1 {{'moe.check' op message names value {1} of 1}}
  moe.check %ok, "index {0} of {1}" (%i : i64)
  return
}

// -----

func.func @check_stray_brace(%ok: i1) {
  // expected-error @+1 {{'moe.check' op message has a '{' that is neither '{{' nor a placeholder {0} ... {3}}}
  moe.check %ok, "node 'a{b'"
  return
}

// -----

func.func @check_too_many(%ok: i1, %i: i64) {
  // expected-error @+1 {{'moe.check' op takes at most 4 values, got 5}}
  moe.check %ok, "{0}" (%i, %i, %i, %i, %i : i64, i64, i64, i64, i64)
  return
}

// -----

func.func @check_wide(%ok: i1, %i: i128) {
  // expected-error @+1 {{'moe.check' op values must be index or integers of at most 64 bits, got 'i128'}}
  moe.check %ok, "{0}" (%i : i128)
  return
}
