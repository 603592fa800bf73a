// Two dense layers as the checkpoint importer writes them: an attention
// projection (f32 weight) and a router (left alone by quantization).
#x = affine_map<(t, o, k) -> (t, k)>
#w = affine_map<(t, o, k) -> (o, k)>
#y = affine_map<(t, o, k) -> (t, o)>
func.func @f(%x: tensor<?x4xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>) {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %x, %c0 : tensor<?x4xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty(%t) : tensor<?x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<?x2xf32>) -> tensor<?x2xf32>
  %wq = arith.constant dense<[[7.0, -7.0, 3.5, 0.0], [1.0, 2.0, 3.0, 4.0]]> : tensor<2x4xf32>
  %wr = arith.constant dense<[[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]> : tensor<2x4xf32>
  %q = linalg.generic {indexing_maps = [#x, #w, #y],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %wq : tensor<?x4xf32>, tensor<2x4xf32>) outs(%init : tensor<?x2xf32>)
      attrs = {moec.linear = "attention"} {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<?x2xf32>
  %r = linalg.generic {indexing_maps = [#x, #w, #y],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %wr : tensor<?x4xf32>, tensor<2x4xf32>) outs(%init : tensor<?x2xf32>)
      attrs = {moec.linear = "router"} {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<?x2xf32>
  return %q, %r : tensor<?x2xf32>, tensor<?x2xf32>
}
