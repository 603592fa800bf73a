// moe-prune-experts on Inputs/layer.mlir (4 experts, top-2) with the profile
// of Inputs/make_profile.py: frequency order 0, 2, 3, 1; saliency 1, 3, 0, 2.
// RUN: %python %S/Inputs/make_profile.py %t.json
// RUN: moec-opt %S/Inputs/layer.mlir --moe-prune-experts="profile=%t.json keep=2 report" --canonicalize 2>&1 | FileCheck %s --check-prefixes=KEEP,REPORT
// RUN: moec-opt %S/Inputs/layer.mlir --moe-prune-experts="profile=%t.json threshold=0.2" --canonicalize | FileCheck %s --check-prefix=KEEP
// RUN: moec-opt %S/Inputs/layer.mlir --moe-prune-experts="profile=%t.json budget=0.5" --canonicalize | FileCheck %s --check-prefix=KEEP
// RUN: moec-opt %S/Inputs/layer.mlir --moe-prune-experts="profile=%t.json metric=saliency keep=2 report" --canonicalize 2>&1 | FileCheck %s --check-prefix=SALIENCY
// RUN: moec-opt %S/Inputs/layer.mlir --moe-prune-experts="profile=%t.json keep=1 report" 2>&1 | FileCheck %s --check-prefix=TOPK
// RUN: moec-opt %S/Inputs/layer.mlir --moe-prune-experts="profile=%t.json keep=4 report" 2>&1 | FileCheck %s --check-prefix=ALL
// RUN: not moec-opt %S/Inputs/layer.mlir --moe-prune-experts="profile=%t.json" 2>&1 | FileCheck %s --check-prefix=OPTIONS
// RUN: not moec-opt %S/Inputs/layer.mlir --moe-prune-experts="profile=%t.missing.json keep=2" 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: %python %S/Inputs/make_profile.py %t.other.json --experts 8
// RUN: not moec-opt %S/Inputs/layer.mlir --moe-prune-experts="profile=%t.other.json keep=2" 2>&1 | FileCheck %s --check-prefix=MISMATCH

// Experts 0 and 2 stay: the router's weight keeps its columns 0 and 2
// (0.1 h + e), the stacks their slices (values e + 1 and 10 (e + 1)).
// REPORT: moe-prune-experts: layer 0: kept 2 of 4 experts, removed [1, 3], 192 B saved
// REPORT: moe-prune-experts: removed 2 of 4 experts, 192 B of weights
// KEEP-DAG: arith.constant dense<{{\[\[}}1.000000e-01, 2.100000e+00], [2.000000e-01, 2.200000e+00], [3.000000e-01, 2.300000e+00], [4.000000e-01, 2.400000e+00]]> : tensor<4x2xf32>
// KEEP-DAG: %[[GU:.*]] = arith.constant dense<{{\[\[\[}}1.000000e+00, {{.*}}3.000000e+00{{.*}}> : tensor<2x4x4xf32>
// KEEP-DAG: %[[DOWN:.*]] = arith.constant dense<{{\[\[\[}}1.000000e+01, {{.*}}3.000000e+01{{.*}}> : tensor<2x4x2xf32>
// KEEP: %[[LOGITS:.*]] = linalg.matmul {{.*}} -> tensor<?x2xf32>
// KEEP: moe.router %[[LOGITS]] top_k = 2 scoring = softmax normalize : tensor<?x2xf32>
// KEEP: moe.experts {{.*}} gate_up %[[GU]] layout interleaved down %[[DOWN]]
// KEEP-NOT: tensor<4x4x4xf32>

// SALIENCY: layer 0: kept 2 of 4 experts, removed [0, 2]
// SALIENCY: arith.constant dense<{{\[\[\[}}2.000000e+00, {{.*}}4.000000e+00{{.*}}> : tensor<2x4x4xf32>

// Never below top_k: keep=1 keeps the two best.
// TOPK: layer 0: kept 2 of 4 experts, removed [1, 3]

// ALL-NOT: layer 0
// ALL: removed 0 of 4 experts, 0 B of weights

// OPTIONS: moe-prune-experts needs profile=FILE and exactly one of keep=N
// MISSING: routing profile: cannot open '{{.*}}.missing.json'
// MISMATCH: routing profile '{{.*}}' layer 0 has 8 experts of hidden size 4, this layer 4 of 4
