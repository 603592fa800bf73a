// int4 packs two codes per byte: an odd K is an error naming the weight;
// int8 packs it.
// RUN: not moec-opt %s --moe-quantize-weights=scheme=int4-g32 2>&1 | FileCheck %s
// RUN: moec-opt %s --moe-quantize-weights=scheme=int8 | FileCheck %s --check-prefix=INT8

// CHECK: error: 'moe.experts' op cannot pack down weight 'tensor<2x2x3xf32>' as int4: K must be even (two codes per byte)
// INT8: moe.packed_weight {{.*}} -> !moe.packed<tensor<2x2x3xf32>, #moe.packing<sint8, block = [1, 1, 3], scale = f32>>

func.func @odd(%x: tensor<?x2xf32>, %w: tensor<?x1xf32>, %ids: tensor<?x1xi32>) -> tensor<?x2xf32> {
  %gate_up = arith.constant dense<1.0> : tensor<2x6x2xf32>
  %down = arith.constant dense<[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]]> : tensor<2x2x3xf32>
  %y = moe.experts %x, %w, %ids activation silu_gated gate_up %gate_up layout interleaved down %down : (tensor<?x2xf32>, tensor<?x1xf32>, tensor<?x1xi32>, tensor<2x6x2xf32>, tensor<2x2x3xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}
