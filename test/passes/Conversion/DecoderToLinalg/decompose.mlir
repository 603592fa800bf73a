// RUN: moec-opt %s --decoder-to-linalg | FileCheck %s

// The decoder ops become linalg.generic ops over tensors; the embedding's
// ids are checked first.

// CHECK-LABEL: func @embedding
// CHECK: scf.for
// CHECK: moe.check %{{.*}}, "decoder.embedding: token id {0} is outside the vocabulary [0, {1})"
// CHECK: linalg.generic
// CHECK: tensor.extract
// CHECK: arith.extf {{.*}} : bf16 to f32
// CHECK-NOT: decoder.
func.func @embedding(%t: tensor<128x64xbf16>, %ids: tensor<?xi64>) -> tensor<?x64xf32> {
  %h = decoder.embedding %t[%ids] : tensor<128x64xbf16>, tensor<?xi64> -> tensor<?x64xf32>
  return %h : tensor<?x64xf32>
}

// CHECK-LABEL: func @rms_norm
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: linalg.generic
// CHECK: math.rsqrt
func.func @rms_norm(%x: tensor<?x64xf32>, %w: tensor<64xf32>) -> tensor<?x64xf32> {
  %y = decoder.rms_norm %x, %w epsilon = 1.0e-06 : tensor<?x64xf32>, tensor<64xf32>
  return %y : tensor<?x64xf32>
}

// Angles in f64 from the exact frequencies.
// CHECK-LABEL: func @rope
// CHECK: arith.constant dense<[1.000000e+00, 0.17782794100389226]> : tensor<2xf64>
// CHECK: linalg.generic
// CHECK: math.cos {{.*}} : f64
// CHECK: math.sin {{.*}} : f64
func.func @rope(%x: tensor<?x4x4xf32>, %p: tensor<?xi64>) -> tensor<?x4x4xf32> {
  %y = decoder.rope %x, %p inv_freq = [1.0, 0.17782794100389226] amplitude = 1.0 : tensor<?x4x4xf32>, tensor<?xi64>
  return %y : tensor<?x4x4xf32>
}

// Scores [H, Tq, Tk] with KV head h floordiv 2, the window mask, maxima
// starting at the sinks, sums starting at exp(sink - max), then the values.
// CHECK-LABEL: func @attention
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK: arith.constant 4 : index
// CHECK: arith.select
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: math.exp
// CHECK: arith.divf
func.func @attention(%q: tensor<?x4x16xf32>, %k: tensor<?x2x16xf32>, %v: tensor<?x2x16xf32>, %s: tensor<4xbf16>) -> tensor<?x4x16xf32> {
  %o = decoder.attention %q, %k, %v sinks %s scale = 0.25 window = 4 : tensor<?x4x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32>, tensor<4xbf16> -> tensor<?x4x16xf32>
  return %o : tensor<?x4x16xf32>
}
