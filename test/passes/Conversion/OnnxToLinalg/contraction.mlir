// RUN: moec-opt --convert-onnx-to-linalg --split-input-file %s | FileCheck %s

// CHECK-LABEL: func.func @matmul_2d
// CHECK-SAME: -> tensor<?x8xf32>
// CHECK: linalg.fill
// CHECK: linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<?x16xf32>, tensor<16x8xf32>)
func.func @matmul_2d(%a: tensor<?x16xf32>, %b: tensor<16x8xf32>) -> tensor<*xf32> {
  %0 = onnx.node "MatMul" opset 13 (%a, %b) : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

// Batch dimensions broadcast; a 2-D right operand has no batch dimension.
// CHECK-DAG: #[[A:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG: #[[B:.*]] = affine_map<(d0, d1, d2, d3) -> (d3, d2)>
// CHECK-DAG: #[[C:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @matmul_batched
// CHECK-SAME: -> tensor<2x?x8xf32>
// CHECK: linalg.generic {indexing_maps = [#[[A]], #[[B]], #[[C]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK: arith.mulf
// CHECK: arith.addf
func.func @matmul_batched(%a: tensor<2x?x16xf32>, %b: tensor<16x8xf32>) -> tensor<*xf32> {
  %0 = onnx.node "MatMul" opset 13 (%a, %b) : (tensor<2x?x16xf32>, tensor<16x8xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

// A 1-D left operand has no M dimension.
// CHECK-LABEL: func.func @matmul_vector
// CHECK-SAME: -> tensor<3x5xf32>
func.func @matmul_vector(%a: tensor<4xf32>, %b: tensor<3x4x5xf32>) -> tensor<*xf32> {
  %0 = onnx.node "MatMul" opset 13 (%a, %b) : (tensor<4xf32>, tensor<3x4x5xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

// CHECK-DAG: #[[AT:.*]] = affine_map<(d0, d1, d2) -> (d2, d0)>
// CHECK-DAG: #[[BT:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-LABEL: func.func @gemm
// CHECK: linalg.generic {indexing_maps = [#[[AT]], #[[BT]], #{{.*}}], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK: arith.constant 2.500000e-01 : f32
// CHECK: arith.constant 5.000000e-01 : f32
func.func @gemm(%a: tensor<6x3xf32>, %b: tensor<4x6xf32>, %c: tensor<4xf32>) -> tensor<*xf32> {
  %0 = onnx.node "Gemm" opset 13 (%a, %b, %c) {alpha = 2.5e-01 : f32, beta = 5.0e-01 : f32, transA = 1 : i64, transB = 1 : i64} : (tensor<6x3xf32>, tensor<4x6xf32>, tensor<4xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

// MatMulNBits: 4-bit weights [N=8, K=32] in one block of 32, low nibble
// first, default zero point 8.
// CHECK-LABEL: func.func @matmul_nbits
// CHECK-SAME: -> tensor<?x8xf32>
// CHECK: linalg.generic
// CHECK: tensor.extract %{{.*}} : tensor<8x1x16xi8>
// CHECK: arith.shrui
// CHECK: arith.andi %{{.*}}, %c15_i32
// CHECK: arith.constant 8.000000e+00 : f32
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "reduction"]
func.func @matmul_nbits(%a: tensor<?x32xf32>, %b: tensor<8x1x16xui8>, %s: tensor<8xf32>) -> tensor<*xf32> {
  %none = onnx.none
  %0 = onnx.node "MatMulNBits" domain "com.microsoft" opset 1 (%a, %b, %s) {K = 32 : i64, N = 8 : i64, bits = 4 : i64, block_size = 32 : i64} : (tensor<?x32xf32>, tensor<8x1x16xui8>, tensor<8xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

// Packed uint8 zero points and a bias.
// CHECK-LABEL: func.func @matmul_nbits_zero_points
// CHECK: tensor.extract %{{.*}} : tensor<4x1xi8>
// CHECK: arith.addf
func.func @matmul_nbits_zero_points(%a: tensor<2x64xf32>, %b: tensor<4x2x16xui8>, %s: tensor<4x2xf32>, %z: tensor<4x1xui8>, %bias: tensor<4xf32>) -> tensor<*xf32> {
  %none = onnx.none
  %0 = onnx.node "MatMulNBits" domain "com.microsoft" opset 1 (%a, %b, %s, %z, %none, %bias) {K = 64 : i64, N = 4 : i64, bits = 4 : i64, block_size = 32 : i64} : (tensor<2x64xf32>, tensor<4x2x16xui8>, tensor<4x2xf32>, tensor<4x1xui8>, none, tensor<4xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}
