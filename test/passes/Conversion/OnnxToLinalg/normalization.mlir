// RUN: moec-opt --convert-onnx-to-linalg --split-input-file %s | FileCheck %s

// CHECK-DAG: #[[OUT:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-LABEL: func.func @reduce_sum_keepdims
// CHECK-SAME: -> tensor<2x1x4xf32>
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #[[OUT]]], iterator_types = ["parallel", "reduction", "parallel"]}
// CHECK: arith.addf
// CHECK: tensor.expand_shape
func.func @reduce_sum_keepdims(%x: tensor<2x3x4xf32>) -> tensor<*xf32> {
  %axes = arith.constant dense<1> : tensor<1xi64>
  %y = onnx.node "ReduceSum" opset 13 (%x, %axes) : (tensor<2x3x4xf32>, tensor<1xi64>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// ReduceMean and ReduceMax take axes as an attribute before opset 18.
// CHECK-LABEL: func.func @reduce_mean_max
// CHECK-SAME: -> (tensor<2xf32>, tensor<f32>)
// CHECK: %[[N:.*]] = arith.sitofp %c12_i64 : i64 to f32
// CHECK: arith.divf %{{.*}}, %[[N]]
// CHECK: arith.constant 0xFF800000 : f32
// CHECK: arith.maximumf
func.func @reduce_mean_max(%x: tensor<2x3x4xf32>) -> (tensor<*xf32>, tensor<*xf32>) {
  %a = onnx.node "ReduceMean" opset 13 (%x) {axes = array<i64: 1, -1>, keepdims = 0 : i64} : (tensor<2x3x4xf32>) -> tensor<*xf32>
  %b = onnx.node "ReduceMax" opset 13 (%x) {keepdims = 0 : i64} : (tensor<2x3x4xf32>) -> tensor<*xf32>
  return %a, %b : tensor<*xf32>, tensor<*xf32>
}

// -----

// Softmax subtracts the row maximum before exponentiating.
// CHECK-LABEL: func.func @softmax
// CHECK: arith.maximumf
// CHECK: arith.subf
// CHECK: math.exp
// CHECK: arith.addf
// CHECK: arith.divf
func.func @softmax(%x: tensor<?x8xf32>) -> tensor<*xf32> {
  %y = onnx.node "Softmax" opset 13 (%x) : (tensor<?x8xf32>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @log_softmax
// CHECK: math.exp
// CHECK: math.log
// CHECK: arith.subf
func.func @log_softmax(%x: tensor<4x8xf32>) -> tensor<*xf32> {
  %y = onnx.node "LogSoftmax" opset 13 (%x) {axis = 0 : i64} : (tensor<4x8xf32>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// fp16 layer norm computes its statistics in the f32 stash type.
// CHECK-LABEL: func.func @layer_norm
// CHECK-SAME: -> (tensor<2x3x4xf16>, tensor<2x1x1xf32>, tensor<2x1x1xf32>)
// CHECK: arith.extf
// CHECK: arith.constant 9.99999974E-6 : f32
// CHECK: math.rsqrt
// CHECK: arith.truncf
func.func @layer_norm(%x: tensor<2x3x4xf16>, %s: tensor<3x4xf16>, %b: tensor<3x4xf16>) -> (tensor<*xf16>, tensor<*xf32>, tensor<*xf32>) {
  %y, %m, %r = onnx.node "LayerNormalization" opset 17 (%x, %s, %b) {axis = 1 : i64} : (tensor<2x3x4xf16>, tensor<3x4xf16>, tensor<3x4xf16>) -> (tensor<*xf16>, tensor<*xf32>, tensor<*xf32>)
  return %y, %m, %r : tensor<*xf16>, tensor<*xf32>, tensor<*xf32>
}

// -----

// RMS norm: no mean is subtracted.
// CHECK-LABEL: func.func @simplified_layer_norm
// CHECK-NOT: arith.subf
// CHECK: math.rsqrt
func.func @simplified_layer_norm(%x: tensor<?x16xf32>, %s: tensor<16xf32>) -> tensor<*xf32> {
  %y = onnx.node "SimplifiedLayerNormalization" domain "com.microsoft" opset 1 (%x, %s) {epsilon = 1.0e-06 : f32} : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @skip_simplified_layer_norm
// CHECK-SAME: -> (tensor<?x16xf32>, tensor<?x16xf32>)
// CHECK: arith.addf
// CHECK: arith.addf
// CHECK: math.rsqrt
func.func @skip_simplified_layer_norm(%x: tensor<?x16xf32>, %skip: tensor<?x16xf32>, %g: tensor<16xf32>, %b: tensor<16xf32>) -> (tensor<*xf32>, tensor<*xf32>) {
  %y, %mean, %inv, %sum = onnx.node "SkipSimplifiedLayerNormalization" domain "com.microsoft" opset 1 (%x, %skip, %g, %b) : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32>) -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>)
  return %y, %sum : tensor<*xf32>, tensor<*xf32>
}
