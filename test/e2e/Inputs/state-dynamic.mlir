// State must have a static shape: the runtime allocates it once.
module {
  func.func @main(%s: tensor<?xf32> {moec.state = "s"}) -> (tensor<?xf32> {moec.state = "s"}) {
    return %s : tensor<?xf32>
  }
}
