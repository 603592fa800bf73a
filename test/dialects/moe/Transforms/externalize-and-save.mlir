// Large constants move into the weight store, the blobs are saved to a
// safetensors file that the rewritten IR names, and the result reloads.
// RUN: rm -rf %t && mkdir -p %t && cp %s %t/model.mlir
// RUN: moec-opt %t/model.mlir --moe-externalize-constants=min-bytes=64 \
// RUN:   --moe-save-weights=path=blobs.safetensors -o %t/out.mlir
// RUN: FileCheck %s < %t/out.mlir
// RUN: %python %inputs/safetensors_tool.py dump %t/blobs.safetensors | FileCheck %s --check-prefix=FILE
// RUN: moec-opt %t/out.mlir --moe-verify-weights | FileCheck %s --check-prefix=RELOAD
// Without a path the in-memory blobs cannot be saved: a clear error.
// RUN: not moec-opt %t/model.mlir --moe-externalize-constants=min-bytes=64 \
// RUN:   --moe-save-weights 2>&1 | FileCheck %s --check-prefix=NOPATH
// Saving into a file the module already reads from is refused.
// RUN: not moec-opt %t/out.mlir --moe-externalize-constants=min-bytes=16 \
// RUN:   --moe-save-weights=path=blobs.safetensors 2>&1 | FileCheck %s --check-prefix=OVERWRITE

// CHECK: module attributes {moe.weight_files = ["blobs.safetensors"]}
// CHECK-LABEL: func @f
// CHECK-DAG: moe.weight "router.weight" : tensor<4x8xf32>
// CHECK-DAG: moe.weight "constant" : tensor<64xbf16>
// CHECK-DAG: moe.weight "constant_1" : tensor<2x2x4xi32>
// Below the threshold, constants stay inline.
// CHECK-DAG: arith.constant dense<1.000000e+00> : tensor<4xf32>
// CHECK-DAG: arith.constant dense<{{.*}}> : tensor<2x4xi32>

// FILE: constant BF16 64 2.0 2.0 2.0 2.0
// FILE: constant_1 I32 2x2x4 0 1 2 3
// FILE: router.weight F32 4x8 0.0 0.5 1.0 1.5

// RELOAD: moe.weight "router.weight"

// NOPATH: moe-save-weights needs a 'path' for the 3 weight(s) that exist only in memory

// OVERWRITE: 'blobs.safetensors' already holds weights of this module; choose a new file

func.func @f() -> (tensor<4x8xf32>, tensor<64xbf16>, tensor<2x2x4xi32>, tensor<4xf32>, tensor<2x4xi32>) {
  %router = arith.constant dense<[[0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5],
                                  [4.0, 4.5, 5.0, 5.5, 6.0, 6.5, 7.0, 7.5],
                                  [8.0, 8.5, 9.0, 9.5, 10.0, 10.5, 11.0, 11.5],
                                  [12.0, 12.5, 13.0, 13.5, 14.0, 14.5, 15.0, 15.5]]>
      : tensor<4x8xf32> loc("router.weight")
  %splat = arith.constant dense<2.0> : tensor<64xbf16>
  %ints = arith.constant dense<[[[0, 1, 2, 3], [4, 5, 6, 7]], [[8, 9, 10, 11], [12, 13, 14, 15]]]> : tensor<2x2x4xi32>
  %small = arith.constant dense<1.0> : tensor<4xf32>
  %small_ints = arith.constant dense<[[0, 1, 2, 3], [4, 5, 6, 7]]> : tensor<2x4xi32>
  return %router, %splat, %ints, %small, %small_ints
      : tensor<4x8xf32>, tensor<64xbf16>, tensor<2x2x4xi32>, tensor<4xf32>, tensor<2x4xi32>
}
