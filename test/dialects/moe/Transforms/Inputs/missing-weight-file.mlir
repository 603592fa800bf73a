module attributes {moe.weight_files = ["absent.safetensors"]} {
  func.func @f() -> tensor<4xi32> {
    %w = moe.weight "ids" : tensor<4xi32>
    return %w : tensor<4xi32>
  }
}
