// A Mixtral-style MoE block (8 experts, top-2, renormalised softmax routing,
// SiLU-gated experts with gate and up fused) at a small size: hidden 256,
// expert width 512. Its weights start as constants; scripts/run-example.sh
// moves the large ones into a safetensors weight store, leaving the IR with
// references by key, and reloads the result to check every reference.
func.func @mixtral_block(%x: tensor<?x256xf32>) -> tensor<?x256xf32> {
  %router = arith.constant dense<0.01> : tensor<256x8xf32> loc("block_sparse_moe.gate.weight")
  %gate_up = arith.constant dense<0.02> : tensor<8x1024x256xf32> loc("block_sparse_moe.experts.gate_up_proj")
  %down = arith.constant dense<0.03> : tensor<8x256x512xf32> loc("block_sparse_moe.experts.down_proj")
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %tokens = tensor.dim %x, %c0 : tensor<?x256xf32>
  %empty = tensor.empty(%tokens) : tensor<?x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<?x8xf32>) -> tensor<?x8xf32>
  %logits = linalg.matmul ins(%x, %router : tensor<?x256xf32>, tensor<256x8xf32>)
                          outs(%init : tensor<?x8xf32>) -> tensor<?x8xf32>
  %weights, %ids = moe.router %logits top_k = 2 scoring = softmax normalize
      : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  %y = moe.experts %x, %weights, %ids activation silu_gated
      gate_up %gate_up layout concatenated down %down
      : (tensor<?x256xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<8x1024x256xf32>,
         tensor<8x256x512xf32>) -> tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}
