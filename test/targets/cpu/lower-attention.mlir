// RUN: moec-opt %s --split-input-file --cpu-lower-attention="vector-width=16" | FileCheck %s
// RUN: moec-opt %s --split-input-file --cpu-lower-attention="vector-width=16" | FileCheck %s --check-prefix=POLY
// RUN: not moec-opt %s --split-input-file --cpu-lower-attention="vector-width=0" 2>&1 | FileCheck %s --check-prefix=BAD

// Attention with a KV head per query head (head dimension 24: a full
// vector and a masked one of 8), a window and sinks: one parallel
// iteration per (query, head), a loop over the keys it sees with the
// running maximum, sum and two value vectors as loop-carried values; no
// [H, Tq, Tk] score buffer. The values are checked against the float64
// reference in test/e2e/checkpoints.test (every family, window and sinks).
// No kernel leaves a vector exp to the libm lowering.
// POLY-NOT: math.exp {{.*}} : vector

// CHECK-LABEL: func @attention
// CHECK: scf.parallel
// CHECK: arith.select
// CHECK: vector.constant_mask [8] : vector<16xi1>
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (f32, f32, vector<16xf32>, vector<16xf32>)
// CHECK: vector.fma
// CHECK: vector.reduction <add>
// The block's weights exp(s - m) are one polynomial on a vector (no
// vector math.exp, which the libm lowering would split into one call per
// lane); the rescaling and the keys past the last block call expf.
// CHECK: math.exp %{{.*}} : f32
// CHECK: math.fma {{.*}} : vector<16xf32>
// CHECK: math.exp %{{.*}} : f32
// CHECK: math.exp %{{.*}} : f32
// CHECK: memref.load %{{.*}} : memref<4xbf16>
// CHECK: vector.maskedstore
// CHECK-NOT: decoder.attention
// CHECK-NOT: memref.alloc({{.*}}) {{.*}} : memref<4x?x?xf32>
func.func @attention(%q: tensor<?x4x24xf32>, %k: tensor<?x4x24xf32>,
                     %v: tensor<?x4x24xf32>, %sinks: tensor<4xbf16>)
    -> tensor<?x4x24xf32> {
  %o = decoder.attention %q, %k, %v sinks %sinks scale = 0.125 window = 4
      : tensor<?x4x24xf32>, tensor<?x4x24xf32>, tensor<?x4x24xf32>,
        tensor<4xbf16> -> tensor<?x4x24xf32>
  return %o : tensor<?x4x24xf32>
}

// -----

// Grouped-query attention (4 heads on 2 KV heads) with a window and sinks
// takes the grouped kernel: one parallel iteration per (query, KV head,
// tile of its 2 query heads), scratch rows of 16 scores and 3 statistics
// per head and task, the scores of two keys at a time for both heads
// (4 accumulators) over the head dimension's chunks, a vector exp per
// head and block, the values weighted into the output rows.
// CHECK-LABEL: func @grouped
// CHECK: memref.alloc(%{{.*}}) {{.*}} : memref<?x2x16xf32>
// CHECK: memref.alloc(%{{.*}}) {{.*}} : memref<?x3x2xf32>
// CHECK: scf.parallel
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: vector.maskedload
// CHECK: vector.reduction <maximumf>
// CHECK: math.fma {{.*}} : vector<16xf32>
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>)
// CHECK: memref.load %{{.*}} : memref<4xbf16>
// CHECK-NOT: decoder.attention
func.func @grouped(%q: tensor<?x4x24xf32>, %k: tensor<?x2x24xf32>,
                   %v: tensor<?x2x24xf32>, %sinks: tensor<4xbf16>)
    -> tensor<?x4x24xf32> {
  %o = decoder.attention %q, %k, %v sinks %sinks scale = 0.125 window = 4
      : tensor<?x4x24xf32>, tensor<?x2x24xf32>, tensor<?x2x24xf32>,
        tensor<4xbf16> -> tensor<?x4x24xf32>
  return %o : tensor<?x4x24xf32>
}

// -----

// A head wider than the streaming kernel's registers (MLA's compressed
// form: 16 heads on one latent of 576) takes the grouped kernel too, in
// tiles of 8 heads.
// CHECK-LABEL: func @latent
// CHECK: memref.alloc(%{{.*}}) {{.*}} : memref<?x8x16xf32>
// CHECK: scf.parallel
// CHECK-NOT: decoder.attention
func.func @latent(%q: tensor<?x16x576xf32>, %kv: tensor<?x1x576xf32>)
    -> tensor<?x16x576xf32> {
  %o = decoder.attention %q, %kv, %kv scale = 0.07
      : tensor<?x16x576xf32>, tensor<?x1x576xf32>, tensor<?x1x576xf32>
        -> tensor<?x16x576xf32>
  return %o : tensor<?x16x576xf32>
}

// BAD: cpu-lower-attention: the vector width must be positive
