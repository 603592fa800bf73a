// bf16 and f16 arithmetic, which the c target carries as bits (uint16_t)
// and computes in float: y = ext(trunc(x) * 1.5) in bf16, and
// z = ext(max(trunc(x) + 0.1, -0.0)) in f16, each step rounded to the
// 16-bit type.
#map = affine_map<(d0) -> (d0)>
func.func @main(%x: tensor<8xf32> {moe.name = "x"})
    -> (tensor<8xf32> {moe.name = "y"}, tensor<8xf32> {moe.name = "z"}) {
  %e = tensor.empty() : tensor<8xf32>
  %y = linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel"]}
      ins(%x : tensor<8xf32>) outs(%e : tensor<8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %h = arith.truncf %v : f32 to bf16
    %c = arith.constant 1.5 : bf16
    %p = arith.mulf %h, %c : bf16
    %r = arith.extf %p : bf16 to f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %z = linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel"]}
      ins(%x : tensor<8xf32>) outs(%e : tensor<8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %h = arith.truncf %v : f32 to f16
    %c = arith.constant 0.1 : f16
    %s = arith.addf %h, %c : f16
    %n = arith.constant -0.0 : f16
    %m = arith.maximumf %s, %n : f16
    %r = arith.extf %m : f16 to f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  return %y, %z : tensor<8xf32>, tensor<8xf32>
}
