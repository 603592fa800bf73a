// RUN: moec-opt --convert-onnx-to-linalg --split-input-file %s | FileCheck %s

// Per-axis: the scale and zero point follow axis 0.
// CHECK-DAG: #[[AXIS:.*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @dequantize_per_axis
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #[[AXIS]], #[[AXIS]], #{{.*}}]
// CHECK: arith.extui %{{.*}} : i8 to i32
// CHECK: arith.subi
// CHECK: arith.sitofp
// CHECK: arith.mulf
func.func @dequantize_per_axis(%x: tensor<3x4xui8>, %s: tensor<3xf32>, %z: tensor<3xui8>) -> tensor<*xf32> {
  %y = onnx.node "DequantizeLinear" opset 13 (%x, %s, %z) {axis = 0 : i64} : (tensor<3x4xui8>, tensor<3xf32>, tensor<3xui8>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// Blocked (opset 21): int4 weights, one fp16 scale per 32 elements of K.
// CHECK-LABEL: func.func @dequantize_blocked_int4
// CHECK-SAME: -> tensor<8x64xf16>
// CHECK: arith.divui %{{.*}}, %c32
// CHECK: tensor.extract %{{.*}} : tensor<8x2xf16>
// CHECK: arith.extsi %{{.*}} : i4 to i32
func.func @dequantize_blocked_int4(%x: tensor<8x64xi4>, %s: tensor<8x2xf16>) -> tensor<*xf16> {
  %none = onnx.none
  %y = onnx.node "DequantizeLinear" opset 21 (%x, %s, %none) {axis = 1 : i64, block_size = 32 : i64} : (tensor<8x64xi4>, tensor<8x2xf16>, none) -> tensor<*xf16>
  return %y : tensor<*xf16>
}

// -----

// Round half to even, add the zero point, saturate.
// CHECK-LABEL: func.func @quantize_per_tensor
// CHECK-SAME: -> tensor<4xi8>
// CHECK: math.roundeven
// CHECK: arith.constant -1.280000e+02 : f32
// CHECK: arith.constant 1.270000e+02 : f32
// CHECK: arith.fptosi %{{.*}} : f32 to i8
func.func @quantize_per_tensor(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i8>) -> tensor<*xi8> {
  %y = onnx.node "QuantizeLinear" opset 13 (%x, %s, %z) : (tensor<4xf32>, tensor<f32>, tensor<i8>) -> tensor<*xi8>
  return %y : tensor<*xi8>
}
