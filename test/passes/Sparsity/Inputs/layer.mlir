// A one-layer MoE module for the expert-sparsity tests: 4 experts, top-2,
// hidden 4, intermediate 2. Expert e's gate/up weights are all e + 1 and
// its down weights all 10 * (e + 1), so a test can see which experts a
// rewrite kept; router column e (expert e's logit weights) is 0.1 * h + e.
func.func @layer(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %zero = arith.constant 0.000000e+00 : f32
  %c0 = arith.constant 0 : index
  %router = arith.constant dense<[[0.1, 1.1, 2.1, 3.1], [0.2, 1.2, 2.2, 3.2], [0.3, 1.3, 2.3, 3.3], [0.4, 1.4, 2.4, 3.4]]> : tensor<4x4xf32>
  %gate_up = arith.constant dense<[[[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]], [[2.0, 2.0, 2.0, 2.0], [2.0, 2.0, 2.0, 2.0], [2.0, 2.0, 2.0, 2.0], [2.0, 2.0, 2.0, 2.0]], [[3.0, 3.0, 3.0, 3.0], [3.0, 3.0, 3.0, 3.0], [3.0, 3.0, 3.0, 3.0], [3.0, 3.0, 3.0, 3.0]], [[4.0, 4.0, 4.0, 4.0], [4.0, 4.0, 4.0, 4.0], [4.0, 4.0, 4.0, 4.0], [4.0, 4.0, 4.0, 4.0]]]> : tensor<4x4x4xf32>
  %down = arith.constant dense<[[[10.0, 10.0], [10.0, 10.0], [10.0, 10.0], [10.0, 10.0]], [[20.0, 20.0], [20.0, 20.0], [20.0, 20.0], [20.0, 20.0]], [[30.0, 30.0], [30.0, 30.0], [30.0, 30.0], [30.0, 30.0]], [[40.0, 40.0], [40.0, 40.0], [40.0, 40.0], [40.0, 40.0]]]> : tensor<4x4x2xf32>
  %t = tensor.dim %x, %c0 : tensor<?x4xf32>
  %empty = tensor.empty(%t) : tensor<?x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<?x4xf32>) -> tensor<?x4xf32>
  %logits = linalg.matmul ins(%x, %router : tensor<?x4xf32>, tensor<4x4xf32>) outs(%init : tensor<?x4xf32>) -> tensor<?x4xf32>
  %weights, %ids = moe.router %logits top_k = 2 scoring = softmax normalize : tensor<?x4xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  %y = moe.experts %x, %weights, %ids activation silu_gated gate_up %gate_up layout interleaved down %down : (tensor<?x4xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4x4x4xf32>, tensor<4x4x2xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}
