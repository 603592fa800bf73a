// RUN: moec-opt %s --split-input-file --cpu-matmul-to-tiles="vector-width=16 tile-depth=4" | FileCheck %s
// RUN: not moec-opt %s --cpu-matmul-to-tiles="vector-width=0" 2>&1 | FileCheck %s --check-prefix=BAD

// An fp32 matmul with a static [K, N] right-hand side: the rows of B are
// loaded in place (masked past column 20), accumulators start from the
// matmul's init, k runs in blocks of 4.
// CHECK-LABEL: func @matmul
// CHECK: scf.parallel
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c4
// CHECK: vector.maskedload %{{.*}} : memref<8x20xf32>, vector<16xi1>, vector<16xf32> into vector<16xf32>
// CHECK: vector.fma
// CHECK: vector.maskedload %{{.*}} : memref<?x20xf32>
// CHECK: vector.maskedstore
// CHECK-NOT: linalg.matmul
func.func @matmul(%a: tensor<?x8xf32>, %b: tensor<8x20xf32>, %c: tensor<?x20xf32>) -> tensor<?x20xf32> {
  %y = linalg.matmul ins(%a, %b : tensor<?x8xf32>, tensor<8x20xf32>) outs(%c : tensor<?x20xf32>) -> tensor<?x20xf32>
  return %y : tensor<?x20xf32>
}

// -----

// Other element types stay linalg.
// CHECK-LABEL: func @half
// CHECK: linalg.matmul
func.func @half(%a: tensor<?x8xf16>, %b: tensor<8x20xf16>, %c: tensor<?x20xf16>) -> tensor<?x20xf16> {
  %y = linalg.matmul ins(%a, %b : tensor<?x8xf16>, tensor<8x20xf16>) outs(%c : tensor<?x20xf16>) -> tensor<?x20xf16>
  return %y : tensor<?x20xf16>
}

// BAD: cpu-matmul-to-tiles: the tile sizes must be positive
