// RUN: moec-opt --convert-onnx-to-linalg --split-input-file %s | FileCheck %s

// Gather: the indices drive a generic that extracts from the data, with
// negative indices wrapped.
// CHECK-DAG: #[[IDX:.*]] = affine_map<(d0, d1, d2) -> (d1)>
// CHECK-LABEL: func.func @gather
// CHECK-SAME: -> tensor<4x5x3xf32>
// CHECK: linalg.generic {indexing_maps = [#[[IDX]], #{{.*}}]
// CHECK: arith.cmpi slt
// CHECK: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}] : tensor<4x8x3xf32>
func.func @gather(%x: tensor<4x8x3xf32>, %i: tensor<5xi64>) -> tensor<*xf32> {
  %y = onnx.node "Gather" opset 13 (%x, %i) {axis = 1 : i64} : (tensor<4x8x3xf32>, tensor<5xi64>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @gather_elements
// CHECK-SAME: -> tensor<2x2xf32>
// CHECK: tensor.extract %{{.*}} : tensor<2x3xf32>
func.func @gather_elements(%x: tensor<2x3xf32>, %i: tensor<2x2xi32>) -> tensor<*xf32> {
  %y = onnx.node "GatherElements" opset 13 (%x, %i) {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2x2xi32>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @gather_nd
// CHECK-SAME: -> tensor<2x4xf32>
// CHECK-COUNT-2: tensor.extract %{{.*}} : tensor<2x2xi64>
func.func @gather_nd(%x: tensor<3x5x4xf32>, %i: tensor<2x2xi64>) -> tensor<*xf32> {
  %y = onnx.node "GatherND" opset 13 (%x, %i) : (tensor<3x5x4xf32>, tensor<2x2xi64>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// Scatters copy the data and insert update by update.
// CHECK-LABEL: func.func @scatter_elements_add
// CHECK: scf.for
// CHECK: scf.for
// CHECK: arith.addf
// CHECK: tensor.insert
func.func @scatter_elements_add(%x: tensor<3x3xf32>, %i: tensor<2x3xi64>, %u: tensor<2x3xf32>) -> tensor<*xf32> {
  %y = onnx.node "ScatterElements" opset 16 (%x, %i, %u) {axis = 0 : i64, reduction = "add"} : (tensor<3x3xf32>, tensor<2x3xi64>, tensor<2x3xf32>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// torch's index_add_: indices and updates whose extents come from
// Expand(..., Shape(...)) at run time. Their shapes are compared at run time
// and every index is checked against the data before it is used.
// CHECK-LABEL: func.func @scatter_elements_runtime_shapes
// CHECK-SAME: -> tensor<?x4xf32>
// CHECK: cf.assert %{{.*}}, "node 's' (op type 'ScatterElements', domain 'ai.onnx', opset 16): dimension 0 of the updates must equal dimension 0 of the indices (at run time)"
// CHECK: scf.for
// CHECK: scf.for
// CHECK: arith.cmpi ult
// CHECK: moe.check %{{.*}}, "node 's' (op type 'ScatterElements', domain 'ai.onnx', opset 16): index {0} is outside [-{1}, {1}) on data dimension 0" (%{{.*}}, %{{.*}} : i64, index)
// CHECK: arith.addf
// CHECK: tensor.insert
func.func @scatter_elements_runtime_shapes(%x: tensor<?x4xf32>, %i: tensor<?x1xi64>, %u: tensor<?x4xf32>) -> tensor<*xf32> {
  %shape = onnx.node "Shape" opset 15 (%u) : (tensor<?x4xf32>) -> tensor<*xi64>
  %indices = onnx.node "Expand" opset 13 (%i, %shape) : (tensor<?x1xi64>, tensor<*xi64>) -> tensor<*xi64>
  %y = onnx.node "ScatterElements" opset 16 (%x, %indices, %u) {axis = 0 : i64, reduction = "add"} : (tensor<?x4xf32>, tensor<*xi64>, tensor<?x4xf32>) -> tensor<*xf32> loc("s")
  return %y : tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @scatter_nd
// CHECK: scf.for
// CHECK: scf.for
// CHECK-NOT: arith.addf
// CHECK: tensor.insert
func.func @scatter_nd(%x: tensor<?x4xf32>, %i: tensor<?x1xi64>, %u: tensor<?x4xf32>) -> tensor<*xf32> {
  %y = onnx.node "ScatterND" opset 16 (%x, %i, %u) : (tensor<?x4xf32>, tensor<?x1xi64>, tensor<?x4xf32>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// TopK ranks each element against the others (ties: lower index first),
// then picks ranks 0..k-1.
// CHECK-LABEL: func.func @top_k
// CHECK-SAME: -> (tensor<?x2xf32>, tensor<?x2xi64>)
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: arith.cmpf ogt
// CHECK: arith.cmpf oeq
// CHECK: arith.cmpi ult
// CHECK: linalg.generic
// CHECK: arith.cmpi eq
func.func @top_k(%x: tensor<?x8xf32>) -> (tensor<*xf32>, tensor<*xi64>) {
  %k = arith.constant dense<2> : tensor<1xi64>
  %v, %i = onnx.node "TopK" opset 11 (%x, %k) {axis = -1 : i64} : (tensor<?x8xf32>, tensor<1xi64>) -> (tensor<*xf32>, tensor<*xi64>)
  return %v, %i : tensor<*xf32>, tensor<*xi64>
}

// -----

// CHECK-LABEL: func.func @top_k_smallest_runtime_k
// CHECK-SAME: -> (tensor<3x?xf32>, tensor<3x?xi64>)
// CHECK: arith.cmpf olt
func.func @top_k_smallest_runtime_k(%x: tensor<3x4xf32>, %k: tensor<1xi64>) -> (tensor<*xf32>, tensor<*xi64>) {
  %v, %i = onnx.node "TopK" opset 11 (%x, %k) {largest = 0 : i64} : (tensor<3x4xf32>, tensor<1xi64>) -> (tensor<*xf32>, tensor<*xi64>)
  return %v, %i : tensor<*xf32>, tensor<*xi64>
}

// -----

// NonZero counts, then appends coordinates in row-major order.
// CHECK-LABEL: func.func @non_zero
// CHECK-SAME: -> tensor<2x?xi64>
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["reduction", "reduction"]
// CHECK: tensor.empty(%{{.*}}) : tensor<2x?xi64>
// CHECK: scf.for
// CHECK: scf.if
func.func @non_zero(%x: tensor<2x3xf32>) -> tensor<*xi64> {
  %y = onnx.node "NonZero" opset 13 (%x) : (tensor<2x3xf32>) -> tensor<*xi64>
  return %y : tensor<*xi64>
}

// -----

// CHECK-LABEL: func.func @one_hot
// CHECK-SAME: -> tensor<4x8xf32>
// CHECK: linalg.index 1
// CHECK: arith.select
func.func @one_hot(%i: tensor<4xi64>, %v: tensor<2xf32>) -> tensor<*xf32> {
  %depth = arith.constant dense<8> : tensor<i64>
  %y = onnx.node "OneHot" opset 11 (%i, %depth, %v) : (tensor<4xi64>, tensor<i64>, tensor<2xf32>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @cum_sum
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: arith.cmpi ugt
func.func @cum_sum(%x: tensor<2x5xi32>) -> tensor<*xi32> {
  %axis = arith.constant dense<1> : tensor<i64>
  %y = onnx.node "CumSum" opset 14 (%x, %axis) {exclusive = 1 : i64, reverse = 1 : i64} : (tensor<2x5xi32>, tensor<i64>) -> tensor<*xi32>
  return %y : tensor<*xi32>
}

// -----

// Each gathered index is checked at run time against the extent, and the
// message names both; a brace in the node's name is doubled, so that the
// runtime prints it as it is rather than as a value.
// CHECK-LABEL: func.func @gather_checked
// CHECK: moe.check %{{.*}}, "node 'ids{{[{][{]}}0}' (op type 'Gather', domain 'ai.onnx', opset 13): index {0} is outside [-{1}, {1}) on data dimension 0" (%{{.*}}, %{{.*}} : i32, index)
func.func @gather_checked(%x: tensor<?x4xf32>, %i: tensor<3xi32>) -> tensor<*xf32> {
  %y = onnx.node "Gather" opset 13 (%x, %i) {axis = 0 : i64} : (tensor<?x4xf32>, tensor<3xi32>) -> tensor<*xf32> loc("ids{0}")
  return %y : tensor<*xf32>
}
