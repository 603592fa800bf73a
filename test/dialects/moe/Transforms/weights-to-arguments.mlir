// RUN: moec-opt %s --split-input-file --moe-weights-to-arguments | FileCheck %s

// Each distinct weight becomes one read-only argument after the inputs;
// the module records the entry (inputs, outputs, its weights) and the
// weights for the runtime; unsigned tensors cross the boundary signless.
// CHECK: module attributes {moec.entries = [{inputs = [{name = "x", type = tensor<?x4xf32>}, {name = "mask", type = tensor<4xui8>}], name = "main",
// CHECK-SAME: outputs = [{name = "y", type = tensor<?x4xf32>}, {name = "output1", type = tensor<4xui8>}], weights = array<i64: 0, 1>}],
// CHECK-SAME: moec.weights = [{key = "w", type = tensor<4x4xf32>}, {file = "model.onnx.data", key = "b", offset = 64 : i64, type = tensor<4xf32>}]}
// CHECK: func.func @moec_entry_0(%[[X:.*]]: tensor<?x4xf32> {bufferization.writable = false}, %[[M:.*]]: tensor<4xi8> {bufferization.writable = false}, %[[W:.*]]: tensor<4x4xf32> {bufferization.writable = false}, %[[B:.*]]: tensor<4xf32> {bufferization.writable = false}) -> (tensor<?x4xf32>, tensor<4xi8>)
// CHECK-SAME: llvm.emit_c_interface
// CHECK: %[[U:.*]] = tensor.bitcast %[[M]] : tensor<4xi8> to tensor<4xui8>
// CHECK: linalg.matmul ins(%[[X]], %[[W]]
// CHECK-NOT: moe.weight
module {
  func.func @main(%x: tensor<?x4xf32> {moe.name = "x"}, %mask: tensor<4xui8> {moe.name = "mask"})
      -> (tensor<?x4xf32> {moe.name = "y"}, tensor<4xui8>) {
    %w = moe.weight "w" : tensor<4x4xf32>
    %w2 = moe.weight "w" : tensor<4x4xf32>
    %b = moe.weight "b" from "model.onnx.data" at 64 : tensor<4xf32>
    %c0 = arith.constant 0 : index
    %t = tensor.dim %x, %c0 : tensor<?x4xf32>
    %e = tensor.empty(%t) : tensor<?x4xf32>
    %y = linalg.matmul ins(%x, %w : tensor<?x4xf32>, tensor<4x4xf32>) outs(%e : tensor<?x4xf32>) -> tensor<?x4xf32>
    %z = linalg.matmul ins(%y, %w2 : tensor<?x4xf32>, tensor<4x4xf32>) outs(%e : tensor<?x4xf32>) -> tensor<?x4xf32>
    %bb = tensor.expand_shape %b [[0, 1]] output_shape [1, 4] : tensor<4xf32> into tensor<1x4xf32>
    return %z, %mask : tensor<?x4xf32>, tensor<4xui8>
  }
}

// -----

// Every public function is an entry point, @main first; weights shared by
// two entries are recorded once; state inputs are writable and named in
// the records, and helper functions stay private.
// CHECK: module attributes {moec.entries = [
// CHECK-SAME: {inputs = [{name = "x", type = tensor<4xf32>}, {name = "total", state = "total", type = tensor<4xf32>}], name = "main",
// CHECK-SAME: outputs = [{name = "y", type = tensor<4xf32>}, {name = "total", state = "total", type = tensor<4xf32>}], weights = array<i64: 0>},
// CHECK-SAME: {inputs = [{name = "total", state = "total", type = tensor<4xf32>}], name = "read",
// CHECK-SAME: outputs = [{name = "output0", type = tensor<4xf32>}], weights = array<i64: 1, 0>}],
// CHECK-SAME: moec.weights = [{key = "w", type = tensor<4xf32>}, {key = "v", type = tensor<4xf32>}]}
// CHECK: func.func @moec_entry_1(%{{.*}}: tensor<4xf32> {bufferization.writable = true}, %{{.*}}: tensor<4xf32> {bufferization.writable = false}, %{{.*}}: tensor<4xf32> {bufferization.writable = false})
// CHECK: func.func private @scale
// CHECK: func.func @moec_entry_0(%{{.*}}: tensor<4xf32> {bufferization.writable = false}, %{{.*}}: tensor<4xf32> {bufferization.writable = true}, %{{.*}}: tensor<4xf32> {bufferization.writable = false})
module {
  func.func @read(%s: tensor<4xf32> {moec.state = "total"}) -> tensor<4xf32> {
    %v = moe.weight "v" : tensor<4xf32>
    %w = moe.weight "w" : tensor<4xf32>
    %e = tensor.empty() : tensor<4xf32>
    %a = linalg.add ins(%s, %v : tensor<4xf32>, tensor<4xf32>) outs(%e : tensor<4xf32>) -> tensor<4xf32>
    %b = linalg.add ins(%a, %w : tensor<4xf32>, tensor<4xf32>) outs(%e : tensor<4xf32>) -> tensor<4xf32>
    return %b : tensor<4xf32>
  }
  func.func private @scale(%x: tensor<4xf32>) -> tensor<4xf32> {
    return %x : tensor<4xf32>
  }
  func.func @main(%x: tensor<4xf32> {moe.name = "x"}, %s: tensor<4xf32> {moec.state = "total"})
      -> (tensor<4xf32> {moe.name = "y"}, tensor<4xf32> {moec.state = "total"}) {
    %w = moe.weight "w" : tensor<4xf32>
    %e = tensor.empty() : tensor<4xf32>
    %y = linalg.add ins(%x, %w : tensor<4xf32>, tensor<4xf32>) outs(%e : tensor<4xf32>) -> tensor<4xf32>
    %t = linalg.add ins(%s, %y : tensor<4xf32>, tensor<4xf32>) outs(%e : tensor<4xf32>) -> tensor<4xf32>
    return %y, %t : tensor<4xf32>, tensor<4xf32>
  }
}
