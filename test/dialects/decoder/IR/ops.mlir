// RUN: moec-opt %s | moec-opt | FileCheck %s
// RUN: moec-opt %s --mlir-print-op-generic | moec-opt | FileCheck %s

// CHECK-LABEL: func @block
func.func @block(%table: tensor<128x64xbf16>, %ids: tensor<?xi64>,
                 %norm: tensor<64xf32>, %q: tensor<?x4x16xf32>,
                 %k: tensor<?x2x16xf32>, %v: tensor<?x2x16xf32>,
                 %sinks: tensor<4xbf16>)
    -> (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x4x16xf32>,
        tensor<?x4x16xf32>, tensor<?x4x16xf32>) {
  // CHECK: decoder.embedding %{{.*}}[%{{.*}}] : tensor<128x64xbf16>, tensor<?xi64> -> tensor<?x64xf32>
  %h = decoder.embedding %table[%ids] : tensor<128x64xbf16>, tensor<?xi64> -> tensor<?x64xf32>
  // CHECK: decoder.rms_norm %{{.*}}, %{{.*}} epsilon = 9.9999999999999995E-7 : tensor<?x64xf32>, tensor<64xf32>
  %n = decoder.rms_norm %h, %norm epsilon = 1.0e-06 : tensor<?x64xf32>, tensor<64xf32>
  // CHECK: decoder.rope %{{.*}}, %{{.*}} inv_freq = [1.000000e+00, 1.000000e-01] interleaved amplitude = 1.500000e+00 : tensor<?x4x16xf32>, tensor<?xi64>
  %r = decoder.rope %q, %ids inv_freq = [1.0 : f64, 0.1 : f64] interleaved amplitude = 1.5 : tensor<?x4x16xf32>, tensor<?xi64>
  // CHECK: decoder.attention %{{.*}}, %{{.*}}, %{{.*}} scale = 2.500000e-01 window = 4 : tensor<?x4x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32> -> tensor<?x4x16xf32>
  %a = decoder.attention %r, %k, %v scale = 0.25 window = 4 : tensor<?x4x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32> -> tensor<?x4x16xf32>
  // CHECK: decoder.attention %{{.*}}, %{{.*}}, %{{.*}} sinks %{{.*}} scale = 2.500000e-01 : tensor<?x4x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32>, tensor<4xbf16> -> tensor<?x4x16xf32>
  %s = decoder.attention %r, %k, %v sinks %sinks scale = 0.25 : tensor<?x4x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32>, tensor<4xbf16> -> tensor<?x4x16xf32>
  return %h, %n, %r, %a, %s : tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x4x16xf32>, tensor<?x4x16xf32>, tensor<?x4x16xf32>
}
