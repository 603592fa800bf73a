// A one-layer MoE module for the quantization tests: 2 experts, top-1,
// hidden 4, intermediate 2. Values are picked so the codes are easy to
// follow: expert 0's first gate/up row [7, -7, 3.5, 0] has max |w| 7, so
// its int4 scale is 1 and its codes 7, -7, 4 (3.5 rounds away from zero), 0.
func.func @layer(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %zero = arith.constant 0.000000e+00 : f32
  %c0 = arith.constant 0 : index
  %router = arith.constant dense<[[1.0, -1.0], [0.5, 0.5], [-1.0, 1.0], [0.0, 2.0]]> : tensor<4x2xf32>
  %gate_up = arith.constant dense<[[[7.0, -7.0, 3.5, 0.0], [1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 0.25, 2.0], [-3.0, 1.5, 0.0, 0.75]], [[2.0, 2.0, 2.0, 2.0], [1.0, 0.0, -1.0, 0.5], [0.1, 0.2, 0.3, 0.4], [-0.4, -0.3, -0.2, -0.1]]]> : tensor<2x4x4xf32>
  %down = arith.constant dense<[[[1.0, -1.0], [0.5, 0.25], [2.0, 0.0], [-0.5, 1.5]], [[0.3, 0.6], [-0.9, 0.1], [0.0, 0.0], [1.0, 1.0]]]> : tensor<2x4x2xf32>
  %t = tensor.dim %x, %c0 : tensor<?x4xf32>
  %empty = tensor.empty(%t) : tensor<?x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<?x2xf32>) -> tensor<?x2xf32>
  %logits = linalg.matmul ins(%x, %router : tensor<?x4xf32>, tensor<4x2xf32>) outs(%init : tensor<?x2xf32>) -> tensor<?x2xf32>
  %weights, %ids = moe.router %logits top_k = 1 scoring = softmax : tensor<?x2xf32> -> tensor<?x1xf32>, tensor<?x1xi32>
  %y = moe.experts %x, %weights, %ids activation silu_gated gate_up %gate_up layout interleaved down %down : (tensor<?x4xf32>, tensor<?x1xf32>, tensor<?x1xi32>, tensor<2x4x4xf32>, tensor<2x4x2xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}
