// convert-to-npu: one program per token bucket, tensors in global-memory
// segments, each op a phase of commands on every core ending at a
// barrier, weights packed for the cube and the body an npu.run.
// RUN: %npu_opt %s --convert-to-npu="chip=%S/Inputs/two-core.chip buckets=1,16 max-tokens=16" | FileCheck %s

// CHECK-LABEL: func.func @main
// CHECK-DAG: %[[W0:.*]] = moe.weight "main.npu" : tensor<{{[0-9]+}}xi8>
// CHECK: npu.run "main"(%arg0, %[[W0]], {{.*}}) : (tensor<?x32xf32>, tensor<{{[0-9]+}}xi8>, {{.*}}) -> tensor<?x32xf32>

// The router's logits: the rows split into [high, high, low] f16 columns.
// CHECK-LABEL: npu.program @main_t1 entry = "main" tokens = 1
// CHECK: npu.segment @workspace kind = "workspace"
// CHECK: npu.segment @call1 kind = "call" bytes = 8 name = "call"
// CHECK: npu.segment @input2 kind = "input" bytes = 128 name = "0"
// CHECK: npu.segment @output{{[0-9]+}} kind = "output" bytes = 128 name = "0"
// CHECK: npu.core 0
// CHECK: npu.vector "cast" "f16" from "f32"
// CHECK: npu.vector "cast" "f32" from "f16"
// CHECK: npu.vector "sub" "f32"
// CHECK: npu.barrier_all
// The matmul: dynamic trip counts from the groups' offsets, the rows
// loaded into L1 once (a loop of 0 or 1 trips), the weight streamed
// GM -> L1 -> L0B in blocks of k, the cube accumulating, L0C -> UB -> GM.
// CHECK: npu.loop rd = {{[0-9]+}} (count = 1)
// CHECK: npu.loop rd = {{[0-9]+}} (count = r{{[0-9]+}})
// CHECK: npu.dma "nd_to_fractal" "gm" -> "l1" elem = "f16"
// CHECK: npu.dma "copy" "gm" -> "l1"
// CHECK: npu.dma "copy" "l1" -> "l0a"
// CHECK: npu.dma "copy" "l1" -> "l0b"
// CHECK: npu.mmad "f16" (c = 0, a = 0, b = 0, m = r{{[0-9]+}}, k = 64, n = 16)
// CHECK: npu.mmad "f16" accumulate (c = 0, a = 2048, b = 2048, m = r{{[0-9]+}}, k = 32, n = 16)
// CHECK: npu.dma "fractal_to_nd" "l0c" -> "ub"
// CHECK: npu.barrier_all
// Softmax and top-2 of the router on the vector unit.
// CHECK: npu.vector "reduce_max" "f32"
// CHECK: npu.vector "exp" "f32"
// CHECK: npu.vector "topk" "f32" (values = {{[0-9]+}}, scores = {{[0-9]+}}, indices = {{[0-9]+}}, n = 8, rows = 1, k = 2, scores_stride = 32)
// The dispatch: a sort of the negated ids, offsets by binary search on the
// scalar unit (core 0 searches 5 of the 9, core 1 the other 4), rows
// gathered by index.
// CHECK: npu.vector "topk" "f32" (values = {{[0-9]+}}, scores = {{[0-9]+}}, indices = {{[0-9]+}}, n = 2, rows = 1, k = 2, scores_stride = 8)
// CHECK: npu.loop rd = {{[0-9]+}} (count = 5)
// CHECK: npu.scalar "select"
// CHECK: npu.dma "gather" "gm" -> "ub"
// CHECK: npu.mmad "f16"
// CHECK: npu.vector "exp" "f32"
// CHECK: npu.mmad "f16"
// CHECK: npu.dma "gather" "gm" -> "ub"
// CHECK: npu.vector "mul" "f32" src1 = "row_scalar"
// CHECK-LABEL: npu.program @main_t16 entry = "main" tokens = 16
// CHECK: npu.segment @input2 kind = "input" bytes = 2048 name = "0"
func.func @main(%x: tensor<?x32xf32> {moe.name = "x"}) -> (tensor<?x32xf32> {moe.name = "y"}) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %router = arith.constant dense<0.5> : tensor<32x8xf32>
  %w1 = arith.constant dense<0.25> : tensor<8x32x32xf32>
  %w2 = arith.constant dense<0.125> : tensor<8x32x16xf32>
  %d = tensor.dim %x, %c0 : tensor<?x32xf32>
  %e = tensor.empty(%d) : tensor<?x8xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<?x8xf32>) -> tensor<?x8xf32>
  %logits = linalg.matmul ins(%x, %router : tensor<?x32xf32>, tensor<32x8xf32>) outs(%f : tensor<?x8xf32>) -> tensor<?x8xf32>
  %weights, %ids = moe.router %logits top_k = 2 scoring = softmax normalize : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  %rows, %perm, %offsets = moe.dispatch %x, %ids num_experts = 8 : tensor<?x32xf32>, tensor<?x2xi32> -> tensor<?x32xf32>, tensor<?xi32>, tensor<9xi32>
  %h = moe.grouped_matmul %rows, %w1, %offsets : tensor<?x32xf32>, tensor<8x32x32xf32>, tensor<9xi32> -> tensor<?x32xf32>
  %a = moe.activation silu_gated %h layout concatenated : tensor<?x32xf32> -> tensor<?x16xf32>
  %o = moe.grouped_matmul %a, %w2, %offsets : tensor<?x16xf32>, tensor<8x32x16xf32>, tensor<9xi32> -> tensor<?x32xf32>
  %y = moe.combine %o, %perm, %weights : tensor<?x32xf32>, tensor<?xi32>, tensor<?x2xf32> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
