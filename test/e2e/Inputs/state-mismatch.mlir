// One state, two types.
module {
  func.func @main(%s: tensor<4xf32> {moec.state = "s"}) -> tensor<4xf32> {
    return %s : tensor<4xf32>
  }
  func.func @other(%s: tensor<8xf32> {moec.state = "s"}) -> tensor<8xf32> {
    return %s : tensor<8xf32>
  }
}
