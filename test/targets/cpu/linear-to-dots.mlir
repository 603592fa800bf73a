// RUN: moec-opt %s --split-input-file --cpu-linear-to-dots="vector-width=16" | FileCheck %s
// RUN: not moec-opt %s --split-input-file --cpu-linear-to-dots="vector-width=0" 2>&1 | FileCheck %s --check-prefix=BAD

// A dense layer as the checkpoint importer writes it: x [T, 20] times a
// bf16 weight [6, 20] in torch's layout. The weight is read as bf16 and
// widened in registers; k runs in steps of 16 with a masked last step of
// 4; 4 rows by 4 tokens make 16 accumulators, each summed across its lanes
// at the end.
#x = affine_map<(t, o, k) -> (t, k)>
#w = affine_map<(t, o, k) -> (o, k)>
#y = affine_map<(t, o, k) -> (t, o)>
// CHECK-LABEL: func @linear_bf16
// CHECK: scf.parallel
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c16{{.*}} iter_args
// CHECK-COUNT-4: vector.load %{{.*}} : memref<6x20xbf16>, vector<16xbf16>
// CHECK: arith.extf %{{.*}} : vector<16xbf16> to vector<16xf32>
// CHECK: vector.load %{{.*}} : memref<?x20xf32>, vector<16xf32>
// CHECK-COUNT-16: vector.fma
// CHECK: vector.constant_mask [4] : vector<16xi1>
// CHECK: vector.maskedload %{{.*}} : memref<6x20xbf16>, vector<16xi1>, vector<16xbf16> into vector<16xbf16>
// CHECK: vector.reduction <add>, %{{.*}} fastmath<reassoc> : vector<16xf32> into f32
// CHECK-NOT: linalg.generic
func.func @linear_bf16(%x: tensor<?x20xf32>, %w: tensor<6x20xbf16>, %init: tensor<?x6xf32>) -> tensor<?x6xf32> {
  %y = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<?x20xf32>, tensor<6x20xbf16>) outs(%init : tensor<?x6xf32>) {
  ^bb0(%a: f32, %b: bf16, %acc: f32):
    %wide = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %wide : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<?x6xf32>
  return %y : tensor<?x6xf32>
}

// -----

// f32 weights are loaded as they are.
#x = affine_map<(t, o, k) -> (t, k)>
#w = affine_map<(t, o, k) -> (o, k)>
#y = affine_map<(t, o, k) -> (t, o)>
// CHECK-LABEL: func @linear_f32
// CHECK: vector.load %{{.*}} : memref<8x32xf32>, vector<16xf32>
// CHECK-NOT: arith.extf
// CHECK-NOT: linalg.generic
func.func @linear_f32(%x: tensor<?x32xf32>, %w: tensor<8x32xf32>, %init: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %y = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<?x32xf32>, tensor<8x32xf32>) outs(%init : tensor<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %b, %a : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  } -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// A weight laid out [K, N], or a body that is not x * w + init, stays.
#x = affine_map<(t, o, k) -> (t, k)>
#wt = affine_map<(t, o, k) -> (k, o)>
#w = affine_map<(t, o, k) -> (o, k)>
#y = affine_map<(t, o, k) -> (t, o)>
// CHECK-LABEL: func @others
// CHECK: linalg.generic
// CHECK: linalg.generic
func.func @others(%x: tensor<?x32xf32>, %w: tensor<32x8xf32>, %v: tensor<8x32xf32>, %init: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %y = linalg.generic {indexing_maps = [#x, #wt, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<?x32xf32>, tensor<32x8xf32>) outs(%init : tensor<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<?x8xf32>
  %z = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %v : tensor<?x32xf32>, tensor<8x32xf32>) outs(%init : tensor<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.maximumf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<?x8xf32>
  return %y, %z : tensor<?x8xf32>, tensor<?x8xf32>
}

// BAD: cpu-linear-to-dots: the vector width must be positive
