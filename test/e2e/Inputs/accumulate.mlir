// Two entry points sharing a persistent state: @main adds x + w to the
// running total (updated in place) and returns both; @read returns
// total + v + w. The state is zero when the binary starts.
module {
  func.func @main(%x: tensor<4xf32> {moe.name = "x"},
                  %total: tensor<4xf32> {moec.state = "total"})
      -> (tensor<4xf32> {moe.name = "y"},
          tensor<4xf32> {moe.name = "running"},
          tensor<4xf32> {moec.state = "total"}) {
    %w = arith.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
    %e = tensor.empty() : tensor<4xf32>
    %y = linalg.add ins(%x, %w : tensor<4xf32>, tensor<4xf32>)
                    outs(%e : tensor<4xf32>) -> tensor<4xf32>
    %t = linalg.add ins(%total, %y : tensor<4xf32>, tensor<4xf32>)
                    outs(%total : tensor<4xf32>) -> tensor<4xf32>
    return %y, %t, %t : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  }
  func.func @read(%total: tensor<4xf32> {moec.state = "total"})
      -> (tensor<4xf32> {moe.name = "z"}) {
    %v = arith.constant dense<[10.0, 20.0, 30.0, 40.0]> : tensor<4xf32>
    %w = arith.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
    %e = tensor.empty() : tensor<4xf32>
    %a = linalg.add ins(%total, %v : tensor<4xf32>, tensor<4xf32>)
                    outs(%e : tensor<4xf32>) -> tensor<4xf32>
    %z = linalg.add ins(%a, %w : tensor<4xf32>, tensor<4xf32>)
                    outs(%e : tensor<4xf32>) -> tensor<4xf32>
    return %z : tensor<4xf32>
  }
}
