// A per-expert policy splits the layer: one moe.experts per choice, each
// behind a moe.remap_experts that keeps only its experts' choices (the
// others become -1), on the sliced weights (expert 0's int8, expert 1's
// float rows unchanged), and the outputs are added.
// RUN: rm -rf %t && mkdir -p %t
// RUN: echo '{"default": "int8", "experts": {"0": {"1": "fp32"}}}' > %t/policy.json
// RUN: moec-opt %S/Inputs/layer.mlir --moe-quantize-weights="scheme= policy=%t/policy.json report" 2>&1 | FileCheck %s
// A uniform policy quantizes in place, with no split.
// RUN: echo '{"layers": {"0": "int4-g32"}}' > %t/uniform.json
// RUN: moec-opt %S/Inputs/layer.mlir --moe-quantize-weights="scheme=int8 policy=%t/uniform.json" | FileCheck %s --check-prefix=UNIFORM

// CHECK: layer 0 mixed precision: int8 for experts 0; fp32 for experts 1
// CHECK: %[[W:.*]], %[[IDS:.*]] = moe.router
// CHECK: %[[W0:.*]], %[[IDS0:.*]] = moe.remap_experts %[[W]], %[[IDS]] map = [0, -1]
// CHECK: %[[GU0:.*]] = moe.packed_weight {{.*}} -> !moe.packed<tensor<1x4x4xf32>, #moe.packing<sint8
// CHECK: %[[Y0:.*]] = moe.experts %{{.*}}, %[[W0]], %[[IDS0]] {{.*}}gate_up %[[GU0]]
// CHECK: %[[W1:.*]], %[[IDS1:.*]] = moe.remap_experts %[[W]], %[[IDS]] map = [-1, 0]
// CHECK: %[[GU1:.*]] = arith.constant dense<{{\[\[\[}}2.000000e+00, 2.000000e+00, 2.000000e+00, 2.000000e+00], {{.*}}> : tensor<1x4x4xf32>
// CHECK: %[[Y1:.*]] = moe.experts %{{.*}}, %[[W1]], %[[IDS1]] {{.*}}gate_up %[[GU1]]
// CHECK: linalg.generic {{.*}} ins(%[[Y0]], %[[Y1]]
// CHECK: arith.addf

// UNIFORM-NOT: moe.remap_experts
// UNIFORM: moe.packed_weight {{.*}}#moe.packing<sint4, block = [1, 1, 32]
// UNIFORM-NOT: moe.remap_experts
