// RUN: moec-opt %s | moec-opt | FileCheck %s
// RUN: moec-opt %s --mlir-print-op-generic | moec-opt | FileCheck %s

// CHECK-LABEL: func.func @nodes
// CHECK: %[[NONE:.*]] = onnx.none
// CHECK: onnx.node "TopK" opset 17 (%{{.*}}, %{{.*}}) {axis = -1 : i64, largest = 1 : i64} : (tensor<?x8xf32>, tensor<1xi64>) -> (tensor<*xf32>, tensor<*xi64>)
// CHECK: onnx.node "MatMulNBits" domain "com.microsoft" opset 1 (%{{.*}}, %{{.*}}, %{{.*}}, %[[NONE]])
// CHECK-SAME: {K = 64 : i64, N = 32 : i64, bits = 4 : i64, block_size = 32 : i64}
func.func @nodes(%x: tensor<?x8xf32>, %k: tensor<1xi64>, %a: tensor<?x64xf32>,
                 %b: tensor<32x2x16xui8>, %s: tensor<64xf32>) -> tensor<*xf32> {
  %none = onnx.none
  %v, %i = onnx.node "TopK" opset 17 (%x, %k) {axis = -1 : i64, largest = 1 : i64}
      : (tensor<?x8xf32>, tensor<1xi64>) -> (tensor<*xf32>, tensor<*xi64>)
  %y = onnx.node "MatMulNBits" domain "com.microsoft" opset 1 (%a, %b, %s, %none)
      {K = 64 : i64, N = 32 : i64, bits = 4 : i64, block_size = 32 : i64}
      : (tensor<?x64xf32>, tensor<32x2x16xui8>, tensor<64xf32>, none) -> tensor<*xf32>
  return %y : tensor<*xf32>
}
