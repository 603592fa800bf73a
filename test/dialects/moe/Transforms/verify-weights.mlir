// moe-verify-weights loads the files a module names and checks every
// moe.weight against them. The weights file is written by an independent
// Python writer, not by moec.
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %inputs/safetensors_tool.py write %t/w.safetensors \
// RUN:   experts.down=F32:8x64x128 router=BF16:8x64 ids=I32:4
// RUN: cp %s %t/ok.mlir && moec-opt %t/ok.mlir --moe-verify-weights | FileCheck %s
// RUN: cp %S/Inputs/weight-errors.mlir %t/ && \
// RUN:   moec-opt %t/weight-errors.mlir --moe-verify-weights -split-input-file -verify-diagnostics
// RUN: cp %S/Inputs/missing-weight-file.mlir %t/ && \
// RUN:   not moec-opt %t/missing-weight-file.mlir --moe-verify-weights 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: printf 'not a safetensors file' > %t/corrupt.safetensors && \
// RUN:   cp %S/Inputs/corrupt-weight-file.mlir %t/ && \
// RUN:   not moec-opt %t/corrupt-weight-file.mlir --moe-verify-weights 2>&1 | FileCheck %s --check-prefix=CORRUPT

// CHECK: module attributes {moe.weight_files = ["w.safetensors"]}
// CHECK: moe.weight "experts.down" : tensor<8x64x128xf32>
// CHECK: moe.weight "router" : tensor<8x64xbf16>

// MISSING: error: cannot load weights: cannot open weights file '{{.*}}absent.safetensors': No such file or directory

// CORRUPT: error: cannot load weights: '{{.*}}corrupt.safetensors' is not a valid safetensors file: header length {{[0-9]+}} exceeds the file size or the 100 MiB limit

module attributes {moe.weight_files = ["w.safetensors"]} {
  func.func @f() -> (tensor<8x64x128xf32>, tensor<8x64xbf16>) {
    %d = moe.weight "experts.down" : tensor<8x64x128xf32>
    %r = moe.weight "router" : tensor<8x64xbf16>
    return %d, %r : tensor<8x64x128xf32>, tensor<8x64xbf16>
  }
}

// Weights served from byte ranges of a raw file (ONNX external data).
// RUN: %python -c "open('%t/raw.bin', 'wb').write(bytes(64))"
// RUN: cp %S/Inputs/weight-ranges.mlir %t/ && \
// RUN:   moec-opt %t/weight-ranges.mlir --moe-verify-weights -split-input-file -verify-diagnostics
