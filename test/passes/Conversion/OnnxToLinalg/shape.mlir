// RUN: moec-opt --convert-onnx-to-linalg --split-input-file %s | FileCheck %s

// A shape subgraph over static shapes folds to constants, so the reshape
// gets a static type.
// CHECK-LABEL: func.func @reshape_shape_subgraph
// CHECK-SAME: -> tensor<6x4xf32>
// CHECK: arith.constant dense<[-1, 4]> : tensor<2xi64>
// CHECK: tensor.reshape %{{.*}}(%{{.*}}) : (tensor<2x3x4xf32>, tensor<2xindex>) -> tensor<6x4xf32>
func.func @reshape_shape_subgraph(%x: tensor<2x3x4xf32>) -> tensor<*xf32> {
  %shape = onnx.node "Shape" opset 15 (%x) : (tensor<2x3x4xf32>) -> tensor<*xi64>
  %i = arith.constant dense<2> : tensor<i64>
  %last = onnx.node "Gather" opset 13 (%shape, %i) : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %axes = arith.constant dense<0> : tensor<1xi64>
  %last1 = onnx.node "Unsqueeze" opset 13 (%last, %axes) : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %minus1 = arith.constant dense<-1> : tensor<1xi64>
  %target = onnx.node "Concat" opset 13 (%minus1, %last1) {axis = 0 : i64} : (tensor<1xi64>, tensor<*xi64>) -> tensor<*xi64>
  %y = onnx.node "Reshape" opset 14 (%x, %target) : (tensor<2x3x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// 0 copies a (dynamic) input dimension; -1 is inferred at run time.
// CHECK-LABEL: func.func @reshape_dynamic
// CHECK-SAME: -> tensor<?x?x4xf32>
// CHECK: arith.divui
// CHECK: tensor.from_elements
// CHECK: tensor.reshape
func.func @reshape_dynamic(%x: tensor<?x8xf32>) -> tensor<*xf32> {
  %shape = arith.constant dense<[0, -1, 4]> : tensor<3xi64>
  %y = onnx.node "Reshape" opset 14 (%x, %shape) : (tensor<?x8xf32>, tensor<3xi64>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// A shape known only at run time resolves 0 and -1 element by element.
// CHECK-LABEL: func.func @reshape_runtime_shape
// CHECK-SAME: -> tensor<?x?xf32>
// CHECK-COUNT-2: tensor.extract %{{.*}}[%{{.*}}] : tensor<2xi64>
// CHECK: tensor.reshape
func.func @reshape_runtime_shape(%x: tensor<4x6xf32>, %s: tensor<2xi64>) -> tensor<*xf32> {
  %y = onnx.node "Reshape" opset 14 (%x, %s) : (tensor<4x6xf32>, tensor<2xi64>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// The shape of a tensor<?x32xf32> keeps its static 32 through Gather,
// Unsqueeze and Concat (a tensor.from_elements, not a run-time vector), so
// the reshape is to tensor<?x32xf32>. Only the element count is checked at
// run time.
// CHECK-LABEL: func.func @reshape_mixed_shape_subgraph
// CHECK-SAME: -> tensor<?x32xf32>
// CHECK-NOT: tensor.extract
// CHECK: arith.divui
// CHECK: cf.assert %{{.*}}, "node (op type 'Reshape', domain 'ai.onnx', opset 14): reshapes to a shape whose element count differs from the input's at run time"
// CHECK: tensor.reshape %{{.*}}(%{{.*}}) : (tensor<?x4xf32>, tensor<2xindex>) -> tensor<?x32xf32>
func.func @reshape_mixed_shape_subgraph(%x: tensor<?x32xf32>, %y: tensor<?x4xf32>) -> tensor<*xf32> {
  %shape = onnx.node "Shape" opset 15 (%x) : (tensor<?x32xf32>) -> tensor<*xi64>
  %i = arith.constant dense<1> : tensor<i64>
  %last = onnx.node "Gather" opset 13 (%shape, %i) : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %axes = arith.constant dense<0> : tensor<1xi64>
  %last1 = onnx.node "Unsqueeze" opset 13 (%last, %axes) : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %minus1 = arith.constant dense<-1> : tensor<1xi64>
  %target = onnx.node "Concat" opset 13 (%minus1, %last1) {axis = 0 : i64} : (tensor<1xi64>, tensor<*xi64>) -> tensor<*xi64>
  %r = onnx.node "Reshape" opset 14 (%y, %target) : (tensor<?x4xf32>, tensor<*xi64>) -> tensor<*xf32>
  return %r : tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @transpose
// CHECK: linalg.transpose ins(%{{.*}} : tensor<2x3x4xf32>) outs(%{{.*}} : tensor<4x2x3xf32>) permutation = [2, 0, 1]
func.func @transpose(%x: tensor<2x3x4xf32>) -> tensor<*xf32> {
  %y = onnx.node "Transpose" opset 13 (%x) {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @squeeze_unsqueeze
// CHECK-SAME: -> (tensor<3x?xf32>, tensor<1x3x1x?xf32>)
// CHECK: tensor.expand_shape
func.func @squeeze_unsqueeze(%x: tensor<3x1x?xf32>) -> (tensor<*xf32>, tensor<*xf32>) {
  %axes = arith.constant dense<[1]> : tensor<1xi64>
  %s = onnx.node "Squeeze" opset 13 (%x, %axes) : (tensor<3x1x?xf32>, tensor<1xi64>) -> tensor<*xf32>
  %axes2 = arith.constant dense<[0, -2]> : tensor<2xi64>
  %u = onnx.node "Unsqueeze" opset 13 (%s, %axes2) : (tensor<*xf32>, tensor<2xi64>) -> tensor<*xf32>
  return %s, %u : tensor<*xf32>, tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @expand
// CHECK-SAME: -> tensor<2x3x4xf32>
// CHECK: linalg.generic
func.func @expand(%x: tensor<3x1xf32>) -> tensor<*xf32> {
  %shape = arith.constant dense<[2, 1, 4]> : tensor<3xi64>
  %y = onnx.node "Expand" opset 13 (%x, %shape) : (tensor<3x1xf32>, tensor<3xi64>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// A shape computed at run time (torch's Expand(x, Shape(y))): the static 4
// stays static; dimension 0 is checked at run time and broadcasts where the
// input's extent is 1 then (a select of index 0).
// CHECK-LABEL: func.func @expand_runtime_shape
// CHECK-SAME: -> tensor<?x4xf32>
// CHECK: cf.assert %{{.*}}, "node 'e' (op type 'Expand', domain 'ai.onnx', opset 13): cannot expand dimension 0 at run time: the input's extent and the shape's differ and neither is 1"
// CHECK: linalg.generic
// CHECK: arith.select
// CHECK: tensor.extract %{{.*}} : tensor<?x4xf32>
func.func @expand_runtime_shape(%x: tensor<?x4xf32>, %y: tensor<?x4xf32>) -> tensor<*xf32> {
  %s = onnx.node "Shape" opset 15 (%y) : (tensor<?x4xf32>) -> tensor<*xi64>
  %z = onnx.node "Expand" opset 13 (%x, %s) : (tensor<?x4xf32>, tensor<*xi64>) -> tensor<*xf32> loc("e")
  return %z : tensor<*xf32>
}

// -----

// Tile copies into [r0, n0, r1, n1] and collapses the pairs.
// CHECK-DAG: #[[IN:.*]] = affine_map<(d0, d1, d2, d3) -> (d1, d3)>
// CHECK-LABEL: func.func @tile
// CHECK-SAME: -> tensor<?x3xf32>
// CHECK: %[[COPY:.*]] = linalg.generic {indexing_maps = [#[[IN]], #{{.*}}]
// CHECK: } -> tensor<2x?x1x3xf32>
// CHECK: tensor.collapse_shape %[[COPY]] {{\[}}[0, 1], [2, 3]] : tensor<2x?x1x3xf32> into tensor<?x3xf32>
func.func @tile(%x: tensor<?x3xf32>) -> tensor<*xf32> {
  %repeats = arith.constant dense<[2, 1]> : tensor<2xi64>
  %y = onnx.node "Tile" opset 13 (%x, %repeats) : (tensor<?x3xf32>, tensor<2xi64>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// Repeats known only at run time must not be negative.
// CHECK-LABEL: func.func @tile_runtime_repeats
// CHECK-SAME: -> tensor<?x?xf32>
// CHECK-COUNT-2: cf.assert %{{.*}}, "node (op type 'Tile', domain 'ai.onnx', opset 13): has a negative repeat at run time"
// CHECK: tensor.collapse_shape %{{.*}} : tensor<?x2x?x3xf32> into tensor<?x?xf32>
func.func @tile_runtime_repeats(%x: tensor<2x3xf32>, %r: tensor<2xi64>) -> tensor<*xf32> {
  %y = onnx.node "Tile" opset 13 (%x, %r) : (tensor<2x3xf32>, tensor<2xi64>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @concat
// CHECK: tensor.concat dim(1) %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<2x?xf32>) -> tensor<2x?xf32>
func.func @concat(%a: tensor<2x3xf32>, %b: tensor<2x?xf32>) -> tensor<*xf32> {
  %y = onnx.node "Concat" opset 13 (%a, %b) {axis = -1 : i64} : (tensor<2x3xf32>, tensor<2x?xf32>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// Constant bounds clamp statically; a negative step reads backwards.
// CHECK-LABEL: func.func @slice
// CHECK-SAME: -> (tensor<2x5xf32>, tensor<2x4xf32>)
// CHECK: tensor.extract_slice %{{.*}}[0, 1] [2, 5] [1, 2] : tensor<2x10xf32> to tensor<2x5xf32>
// CHECK: linalg.generic
// CHECK: arith.subi
// CHECK: tensor.extract
func.func @slice(%x: tensor<2x10xf32>) -> (tensor<*xf32>, tensor<*xf32>) {
  %starts = arith.constant dense<[1]> : tensor<1xi64>
  %ends = arith.constant dense<[1000]> : tensor<1xi64>
  %axes = arith.constant dense<[1]> : tensor<1xi64>
  %steps = arith.constant dense<[2]> : tensor<1xi64>
  %a = onnx.node "Slice" opset 13 (%x, %starts, %ends, %axes, %steps) : (tensor<2x10xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %rstarts = arith.constant dense<[-1]> : tensor<1xi64>
  %rends = arith.constant dense<[-1000]> : tensor<1xi64>
  %rsteps = arith.constant dense<[-3]> : tensor<1xi64>
  %b = onnx.node "Slice" opset 13 (%x, %rstarts, %rends, %axes, %rsteps) : (tensor<2x10xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  return %a, %b : tensor<*xf32>, tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @split
// CHECK-SAME: -> (tensor<2x1xf32>, tensor<2x3xf32>)
// CHECK: tensor.extract_slice %{{.*}}[0, 0] [2, 1] [1, 1]
// CHECK: tensor.extract_slice %{{.*}}[0, 1] [2, 3] [1, 1]
func.func @split(%x: tensor<2x4xf32>) -> (tensor<*xf32>, tensor<*xf32>) {
  %split = arith.constant dense<[1, 3]> : tensor<2xi64>
  %a, %b = onnx.node "Split" opset 13 (%x, %split) {axis = 1 : i64} : (tensor<2x4xf32>, tensor<2xi64>) -> (tensor<*xf32>, tensor<*xf32>)
  return %a, %b : tensor<*xf32>, tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @shape_dynamic
// CHECK-SAME: -> tensor<2xi64>
// CHECK: tensor.dim
// CHECK: tensor.from_elements
func.func @shape_dynamic(%x: tensor<?x8xf32>) -> tensor<*xi64> {
  %y = onnx.node "Shape" opset 15 (%x) : (tensor<?x8xf32>) -> tensor<*xi64>
  return %y : tensor<*xi64>
}

// -----

// CHECK-LABEL: func.func @constant_of_shape
// CHECK: arith.constant dense<7> : tensor<2x3xi32>
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<?xf32>)
func.func @constant_of_shape(%n: tensor<1xi64>) -> (tensor<*xi32>, tensor<*xf32>) {
  %shape = arith.constant dense<[2, 3]> : tensor<2xi64>
  %a = onnx.node "ConstantOfShape" opset 9 (%shape) {value = dense<7> : tensor<1xi32>} : (tensor<2xi64>) -> tensor<*xi32>
  %b = onnx.node "ConstantOfShape" opset 9 (%n) : (tensor<1xi64>) -> tensor<*xf32>
  return %a, %b : tensor<*xi32>, tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @range
// CHECK: arith.constant dense<[10, 7, 4, 1]> : tensor<4xi64>
// CHECK: math.ceil
// CHECK: linalg.generic
func.func @range(%s: tensor<f32>, %l: tensor<f32>, %d: tensor<f32>) -> (tensor<*xi64>, tensor<*xf32>) {
  %start = arith.constant dense<10> : tensor<i64>
  %limit = arith.constant dense<0> : tensor<i64>
  %delta = arith.constant dense<-3> : tensor<i64>
  %a = onnx.node "Range" opset 11 (%start, %limit, %delta) : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<*xi64>
  %b = onnx.node "Range" opset 11 (%s, %l, %d) : (tensor<f32>, tensor<f32>, tensor<f32>) -> tensor<*xf32>
  return %a, %b : tensor<*xi64>, tensor<*xf32>
}
