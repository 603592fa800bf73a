// math.ctlz has no C counterpart the c target prints.
#map = affine_map<(d0) -> (d0)>
func.func @main(%x: tensor<4xi32> {moe.name = "x"})
    -> (tensor<4xi32> {moe.name = "y"}) {
  %e = tensor.empty() : tensor<4xi32>
  %y = linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel"]}
      ins(%x : tensor<4xi32>) outs(%e : tensor<4xi32>) {
  ^bb0(%v: i32, %o: i32):
    %c = math.ctlz %v : i32
    linalg.yield %c : i32
  } -> tensor<4xi32>
  return %y : tensor<4xi32>
}
