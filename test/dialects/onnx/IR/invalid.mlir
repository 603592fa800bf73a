// RUN: moec-opt %s --split-input-file --verify-diagnostics

func.func @empty_op_type(%x: tensor<4xf32>) {
  // expected-error @+1 {{expects a non-empty op type}}
  %0 = onnx.node "" opset 13 (%x) : (tensor<4xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @bad_opset(%x: tensor<4xf32>) {
  // expected-error @+1 {{expects an opset of at least 1, got 0}}
  %0 = onnx.node "Relu" opset 0 (%x) : (tensor<4xf32>) -> tensor<*xf32>
  return
}
