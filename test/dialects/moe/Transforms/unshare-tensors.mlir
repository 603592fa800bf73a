// RUN: moec-opt %s --moe-unshare-tensors | FileCheck %s

// One tensor.empty shared by two destinations becomes one per use, each
// right before its user; a single use is left alone.
// CHECK-LABEL: func @chain
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>)
// CHECK: %[[N:.*]] = tensor.dim %[[X]]
// CHECK: %[[E0:.*]] = tensor.empty(%[[N]]) : tensor<?x4xf32>
// CHECK: %[[A:.*]] = linalg.exp ins(%[[X]] : tensor<?x4xf32>) outs(%[[E0]] : tensor<?x4xf32>)
// CHECK: %[[E1:.*]] = tensor.empty(%[[N]]) : tensor<?x4xf32>
// CHECK: %[[B:.*]] = linalg.exp ins(%[[A]] : tensor<?x4xf32>) outs(%[[E1]] : tensor<?x4xf32>)
// CHECK: %[[E2:.*]] = tensor.empty() : tensor<2xf32>
// CHECK-NOT: tensor.empty
// CHECK: return %[[B]]
func.func @chain(%x: tensor<?x4xf32>) -> (tensor<?x4xf32>, tensor<2xf32>) {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x4xf32>
  %e = tensor.empty(%n) : tensor<?x4xf32>
  %a = linalg.exp ins(%x : tensor<?x4xf32>) outs(%e : tensor<?x4xf32>) -> tensor<?x4xf32>
  %b = linalg.exp ins(%a : tensor<?x4xf32>) outs(%e : tensor<?x4xf32>) -> tensor<?x4xf32>
  %single = tensor.empty() : tensor<2xf32>
  return %b, %single : tensor<?x4xf32>, tensor<2xf32>
}

// A constant tensor read by two ops gets a copy per reader.
// CHECK-LABEL: func @constant
// CHECK: %[[C0:.*]] = arith.constant dense<5.000000e-01> : tensor<4xf32>
// CHECK: %[[A:.*]] = linalg.add ins(%{{.*}}, %[[C0]] : tensor<4xf32>, tensor<4xf32>)
// CHECK: %[[C1:.*]] = arith.constant dense<5.000000e-01> : tensor<4xf32>
// CHECK: linalg.mul ins(%[[A]], %[[C1]] : tensor<4xf32>, tensor<4xf32>)
// CHECK-NOT: arith.constant dense
func.func @constant(%x: tensor<4xf32>, %o: tensor<4xf32>) -> tensor<4xf32> {
  %c = arith.constant dense<0.5> : tensor<4xf32>
  %a = linalg.add ins(%x, %c : tensor<4xf32>, tensor<4xf32>) outs(%o : tensor<4xf32>) -> tensor<4xf32>
  %b = linalg.mul ins(%a, %c : tensor<4xf32>, tensor<4xf32>) outs(%o : tensor<4xf32>) -> tensor<4xf32>
  return %b : tensor<4xf32>
}
