// RUN: moec-opt --convert-onnx-to-linalg --split-input-file %s | FileCheck %s

// Broadcasting maps a size-1 or missing dimension to nothing; dynamic
// sizes come from tensor.dim.
// CHECK-DAG: #[[ID:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[ROW:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func.func @add
// CHECK-SAME: -> tensor<?x4xf32>
// CHECK: %[[D0:.*]] = tensor.dim %{{.*}}, %c0
// CHECK: tensor.empty(%[[D0]]) : tensor<?x4xf32>
// CHECK: linalg.generic {indexing_maps = [#[[ID]], #[[ROW]], #[[ID]]], iterator_types = ["parallel", "parallel"]}
// CHECK: arith.addf
func.func @add(%a: tensor<?x4xf32>, %b: tensor<4xf32>) -> tensor<*xf32> {
  %0 = onnx.node "Add" opset 17 (%a, %b) : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

// CHECK-DAG: #[[BC:.*]] = affine_map<(d0, d1) -> (0, d1)>
// CHECK-LABEL: func.func @sub_unit_dim
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #[[BC]], #{{.*}}]
// CHECK: arith.subf
func.func @sub_unit_dim(%a: tensor<3x4xf32>, %b: tensor<1x4xf32>) -> tensor<*xf32> {
  %0 = onnx.node "Sub" opset 14 (%a, %b) : (tensor<3x4xf32>, tensor<1x4xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @integer_ops
// CHECK: arith.muli
// CHECK: arith.divsi
// CHECK: math.ipowi
func.func @integer_ops(%a: tensor<4xi32>, %b: tensor<4xi32>) -> (tensor<*xi32>, tensor<*xi32>, tensor<*xi32>) {
  %0 = onnx.node "Mul" opset 14 (%a, %b) : (tensor<4xi32>, tensor<4xi32>) -> tensor<*xi32>
  %1 = onnx.node "Div" opset 14 (%a, %b) : (tensor<4xi32>, tensor<4xi32>) -> tensor<*xi32>
  %2 = onnx.node "Pow" opset 15 (%a, %b) : (tensor<4xi32>, tensor<4xi32>) -> tensor<*xi32>
  return %0, %1, %2 : tensor<*xi32>, tensor<*xi32>, tensor<*xi32>
}

// -----

// Unsigned tensors are reinterpreted as signless around the computation.
// CHECK-LABEL: func.func @unsigned_div
// CHECK-SAME: -> tensor<4xui8>
// CHECK: tensor.bitcast %{{.*}} : tensor<4xui8> to tensor<4xi8>
// CHECK: arith.divui
// CHECK: tensor.bitcast %{{.*}} : tensor<4xi8> to tensor<4xui8>
func.func @unsigned_div(%a: tensor<4xui8>, %b: tensor<4xui8>) -> tensor<*xui8> {
  %0 = onnx.node "Div" opset 14 (%a, %b) : (tensor<4xui8>, tensor<4xui8>) -> tensor<*xui8>
  return %0 : tensor<*xui8>
}

// -----

// CHECK-LABEL: func.func @pow_float_int
// CHECK: arith.sitofp %{{.*}} : i64 to f32
// CHECK: math.powf
func.func @pow_float_int(%a: tensor<4xf32>, %b: tensor<i64>) -> tensor<*xf32> {
  %0 = onnx.node "Pow" opset 15 (%a, %b) : (tensor<4xf32>, tensor<i64>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @unary
// CHECK: math.sqrt
// CHECK: arith.negf
// CHECK: arith.divf %cst
// CHECK: math.exp
// CHECK: math.log
// CHECK: math.tanh
// CHECK: math.erf
func.func @unary(%x: tensor<2x3xf32>) -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>) {
  %0 = onnx.node "Sqrt" opset 13 (%x) : (tensor<2x3xf32>) -> tensor<*xf32>
  %1 = onnx.node "Neg" opset 13 (%x) : (tensor<2x3xf32>) -> tensor<*xf32>
  %2 = onnx.node "Reciprocal" opset 13 (%x) : (tensor<2x3xf32>) -> tensor<*xf32>
  %3 = onnx.node "Exp" opset 13 (%x) : (tensor<2x3xf32>) -> tensor<*xf32>
  %4 = onnx.node "Log" opset 13 (%x) : (tensor<2x3xf32>) -> tensor<*xf32>
  %5 = onnx.node "Tanh" opset 13 (%x) : (tensor<2x3xf32>) -> tensor<*xf32>
  %6 = onnx.node "Erf" opset 13 (%x) : (tensor<2x3xf32>) -> tensor<*xf32>
  return %0, %1, %2, %3, %4, %5, %6 : tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>
}

// -----

// sigmoid(x) = 1 / (1 + exp(-x)); relu keeps NaN (select on x < 0).
// CHECK-LABEL: func.func @sigmoid_relu
// CHECK: arith.negf
// CHECK: math.exp
// CHECK: arith.addf
// CHECK: arith.divf
// CHECK: arith.cmpf olt
// CHECK: arith.select
func.func @sigmoid_relu(%x: tensor<8xf32>) -> (tensor<*xf32>, tensor<*xf32>) {
  %0 = onnx.node "Sigmoid" opset 13 (%x) : (tensor<8xf32>) -> tensor<*xf32>
  %1 = onnx.node "Relu" opset 14 (%x) : (tensor<8xf32>) -> tensor<*xf32>
  return %0, %1 : tensor<*xf32>, tensor<*xf32>
}

// -----

// Gelu (opset 20): exact with erf, or the tanh approximation.
// CHECK-LABEL: func.func @gelu
// CHECK: math.erf
// CHECK: math.tanh
func.func @gelu(%x: tensor<8xf32>) -> (tensor<*xf32>, tensor<*xf32>) {
  %0 = onnx.node "Gelu" opset 20 (%x) : (tensor<8xf32>) -> tensor<*xf32>
  %1 = onnx.node "Gelu" opset 20 (%x) {approximate = "tanh"} : (tensor<8xf32>) -> tensor<*xf32>
  return %0, %1 : tensor<*xf32>, tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @logic
// CHECK: arith.cmpf oeq
// CHECK: arith.cmpi slt
// CHECK: arith.cmpf ogt
// CHECK: arith.andi
// CHECK: arith.xori
// CHECK: arith.select
func.func @logic(%a: tensor<4xf32>, %b: tensor<4xf32>, %i: tensor<4xi64>, %j: tensor<4xi64>) -> (tensor<*xi1>, tensor<*xi1>, tensor<*xi1>, tensor<*xi1>, tensor<*xi1>, tensor<*xf32>) {
  %0 = onnx.node "Equal" opset 13 (%a, %b) : (tensor<4xf32>, tensor<4xf32>) -> tensor<*xi1>
  %1 = onnx.node "Less" opset 13 (%i, %j) : (tensor<4xi64>, tensor<4xi64>) -> tensor<*xi1>
  %2 = onnx.node "Greater" opset 13 (%a, %b) : (tensor<4xf32>, tensor<4xf32>) -> tensor<*xi1>
  %3 = onnx.node "And" opset 7 (%0, %2) : (tensor<*xi1>, tensor<*xi1>) -> tensor<*xi1>
  %4 = onnx.node "Not" opset 1 (%3) : (tensor<*xi1>) -> tensor<*xi1>
  %5 = onnx.node "Where" opset 16 (%4, %a, %b) : (tensor<*xi1>, tensor<4xf32>, tensor<4xf32>) -> tensor<*xf32>
  return %0, %1, %2, %3, %4, %5 : tensor<*xi1>, tensor<*xi1>, tensor<*xi1>, tensor<*xi1>, tensor<*xi1>, tensor<*xf32>
}

// -----

// Clip bounds are optional scalar inputs.
// CHECK-LABEL: func.func @clip
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #[[SCALAR:.*]], #{{.*}}]
// CHECK: arith.cmpf ogt
// CHECK-NOT: arith.cmpf olt
func.func @clip(%x: tensor<4xf32>, %hi: tensor<f32>) -> tensor<*xf32> {
  %none = onnx.none
  %0 = onnx.node "Clip" opset 13 (%x, %none, %hi) : (tensor<4xf32>, none, tensor<f32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @cast
// CHECK: arith.fptosi %{{.*}} : f32 to i8
// CHECK: arith.uitofp %{{.*}} : i8 to f16
// CHECK: arith.cmpf une
func.func @cast(%x: tensor<4xf32>, %u: tensor<4xui8>) -> (tensor<*xi8>, tensor<*xf16>, tensor<*xi1>) {
  %0 = onnx.node "Cast" opset 13 (%x) {to = 3 : i64} : (tensor<4xf32>) -> tensor<*xi8>
  %1 = onnx.node "Cast" opset 13 (%u) {to = 10 : i64} : (tensor<4xui8>) -> tensor<*xf16>
  %2 = onnx.node "Cast" opset 13 (%x) {to = 9 : i64} : (tensor<4xf32>) -> tensor<*xi1>
  return %0, %1, %2 : tensor<*xi8>, tensor<*xf16>, tensor<*xi1>
}
