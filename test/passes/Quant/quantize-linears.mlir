// moe-quantize-linears: a dense layer of a role becomes a grouped matmul of
// one expert over all rows, on packed codes and scales.
// RUN: moec-opt %S/Inputs/linears.mlir --moe-quantize-linears="scheme=int4-g32 report" 2>&1 | FileCheck %s --check-prefix=INT4
// RUN: moec-opt %S/Inputs/linears.mlir --moe-quantize-linears="scheme=int8 roles=lm_head" | FileCheck %s --check-prefix=NONE
// RUN: echo '{"linears": {"attention": "int8"}}' > %t.json
// RUN: moec-opt %S/Inputs/linears.mlir --moe-quantize-linears="policy=%t.json roles=none" | FileCheck %s --check-prefix=POLICY
// RUN: echo '{"linears": {"router": "int8"}}' > %t.bad.json
// RUN: not moec-opt %S/Inputs/linears.mlir --moe-quantize-linears="policy=%t.bad.json" 2>&1 | FileCheck %s --check-prefix=BAD-POLICY
// RUN: not moec-opt %S/Inputs/linears.mlir --moe-quantize-linears="scheme=int8 roles=attention,head" 2>&1 | FileCheck %s --check-prefix=BAD-ROLE

// 2 x 4 f32 (32 B) become 4 bytes of codes and 2 f16 scales; the codes are
// those of moe-quantize-weights (quantize-weights.mlir): 0x97 0x04, 0x42 0x75.
// INT4: moe-quantize-linears: attention int4-g32: 1 tensors, 32 B -> 8 B, SQNR >= {{[0-9.]+}} dB
// INT4: %[[CODES:.*]] = arith.constant dense<{{\[\[\[}}-105, 4], [66, 117]]]> : tensor<1x2x2xi8>
// INT4: %[[SCALES:.*]] = arith.constant dense<{{\[\[\[}}1.000000e+00], [5.712890e-01]]]> : tensor<1x2x1xf16>
// INT4: %[[W:.*]] = moe.packed_weight %[[CODES]], %[[SCALES]] : tensor<1x2x2xi8>, tensor<1x2x1xf16> -> !moe.packed<tensor<1x2x4xf32>, #moe.packing<sint4, block = [1, 1, 32], scale = f16>>
// INT4: %[[T:.*]] = tensor.dim %arg0, %c0{{.*}} : tensor<?x4xf32>
// INT4: %[[T32:.*]] = arith.index_cast %[[T]] : index to i32
// INT4: %[[OFFSETS:.*]] = tensor.from_elements %{{.*}}, %[[T32]] : tensor<2xi32>
// INT4: %[[Q:.*]] = moe.grouped_matmul %arg0, %[[W]], %[[OFFSETS]] {moec.linear = "attention"}
// The router stays a float layer.
// INT4: %[[R:.*]] = linalg.generic
// INT4-SAME: moec.linear = "router"
// INT4: return %[[Q]], %[[R]]

// NONE-NOT: moe.grouped_matmul

// POLICY: moe.packed_weight {{.*}} #moe.packing<sint8, block = [1, 1, 4], scale = f32>
// POLICY: moe.grouped_matmul {{.*}} {moec.linear = "attention"}

// BAD-POLICY: "linears"[router]: unknown role (expected attention, mlp, shared_expert, lm_head)
// BAD-ROLE: moe-quantize-linears: unknown role 'head' (expected attention, mlp, shared_expert, lm_head or none)
