// RUN: moec-opt %s --split-input-file --verify-diagnostics --moe-weights-to-arguments

// A module without a public function has no entry point.
// expected-error @below {{no entry point: the module has no public function}}
module {
  func.func private @helper(%x: tensor<4xf32>) -> tensor<4xf32> {
    return %x : tensor<4xf32>
  }
}

// -----

module {
  // expected-error @below {{an entry point takes and returns ranked tensors, got 'tensor<*xf32>'}}
  func.func @main(%x: tensor<*xf32>) -> tensor<*xf32> {
    return %x : tensor<*xf32>
  }
}
