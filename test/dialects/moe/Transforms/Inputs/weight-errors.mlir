module attributes {moe.weight_files = ["w.safetensors"]} {
  func.func @unknown_key() -> tensor<4xi32> {
    // expected-error @+1 {{refers to weight 'experts.up', which no weight file of the module holds}}
    %w = moe.weight "experts.up" : tensor<4xi32>
    return %w : tensor<4xi32>
  }
}

// -----

module attributes {moe.weight_files = ["w.safetensors"]} {
  func.func @wrong_dtype() -> tensor<8x64xf32> {
    // expected-error @+1 {{declares element type 'f32' but weight 'router' is BF16}}
    %w = moe.weight "router" : tensor<8x64xf32>
    return %w : tensor<8x64xf32>
  }
}

// -----

module attributes {moe.weight_files = ["w.safetensors"]} {
  func.func @wrong_shape() -> tensor<8x128x64xf32> {
    // expected-error @+1 {{declares shape 'tensor<8x128x64xf32>' but weight 'experts.down' has shape [8, 64, 128]}}
    %w = moe.weight "experts.down" : tensor<8x128x64xf32>
    return %w : tensor<8x128x64xf32>
  }
}

// -----

// Without moe.weight_files, no key resolves.
func.func @no_files() -> tensor<4xi32> {
  // expected-error @+1 {{refers to weight 'ids', which no weight file of the module holds}}
  %w = moe.weight "ids" : tensor<4xi32>
  return %w : tensor<4xi32>
}
