// RUN: moec-opt %s --split-input-file --cpu-lower-attention="vector-width=16" | FileCheck %s
// RUN: not moec-opt %s --split-input-file --cpu-lower-attention="vector-width=0" 2>&1 | FileCheck %s --check-prefix=BAD

// Grouped-query attention (4 heads on 2 KV heads, head dimension 24: a
// full vector and a masked one of 8) with a window and sinks: one parallel
// iteration per (query, head), a loop over the keys it sees with the
// running maximum, sum and two value vectors as loop-carried values; no
// [H, Tq, Tk] score buffer. The values are checked against the float64
// reference in test/e2e/checkpoints.test (every family, window and sinks).
// CHECK-LABEL: func @attention
// CHECK: scf.parallel
// CHECK: arith.select
// CHECK: vector.constant_mask [8] : vector<16xi1>
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (f32, f32, vector<16xf32>, vector<16xf32>)
// CHECK: vector.fma
// CHECK: vector.reduction <add>
// CHECK: math.exp
// CHECK: math.exp
// CHECK: memref.load %{{.*}} : memref<4xbf16>
// CHECK: vector.maskedstore
// CHECK-NOT: decoder.attention
// CHECK-NOT: memref.alloc({{.*}}) {{.*}} : memref<4x?x?xf32>
func.func @attention(%q: tensor<?x4x24xf32>, %k: tensor<?x2x24xf32>,
                     %v: tensor<?x2x24xf32>, %sinks: tensor<4xbf16>)
    -> tensor<?x4x24xf32> {
  %o = decoder.attention %q, %k, %v sinks %sinks scale = 0.125 window = 4
      : tensor<?x4x24xf32>, tensor<?x2x24xf32>, tensor<?x2x24xf32>,
        tensor<4xbf16> -> tensor<?x4x24xf32>
  return %o : tensor<?x4x24xf32>
}

// BAD: cpu-lower-attention: the vector width must be positive
