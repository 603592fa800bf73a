// moe-merge-experts: Inputs/make_profile.py's mean outputs put experts 0 and
// 2 together (cosine 0.99995); their weights average by frequency (50 and 30
// routed tokens): gate/up (50 * 1 + 30 * 3) / 80 = 1.75, down 17.5.
// RUN: %python %S/Inputs/make_profile.py %t.json
// RUN: moec-opt %S/Inputs/layer.mlir --moe-merge-experts="profile=%t.json keep=3 report" --canonicalize 2>&1 | FileCheck %s
// RUN: moec-opt %S/Inputs/layer.mlir --moe-merge-experts="profile=%t.json similarity=0.9 report" --canonicalize 2>&1 | FileCheck %s
// RUN: moec-opt %S/Inputs/layer.mlir --moe-merge-experts="profile=%t.json keep=2" --canonicalize 2>&1 | FileCheck %s --check-prefix=TWO
// RUN: not moec-opt %S/Inputs/layer.mlir --moe-merge-experts="profile=%t.json keep=2 similarity=0.5" 2>&1 | FileCheck %s --check-prefix=OPTIONS

// CHECK: moe-merge-experts: layer 0: 4 -> 3 experts, merged [0, 2], 96 B saved
// CHECK-DAG: %[[GU:.*]] = arith.constant dense<{{\[\[\[}}1.750000e+00, {{.*}}2.000000e+00, {{.*}}4.000000e+00{{.*}}> : tensor<3x4x4xf32>
// CHECK-DAG: %[[DOWN:.*]] = arith.constant dense<{{\[\[\[}}1.750000e+01, {{.*}}> : tensor<3x4x2xf32>
// The router still scores all four experts; the ids are renamed after it.
// CHECK: %[[W:.*]], %[[IDS:.*]] = moe.router %{{.*}} : tensor<?x4xf32>
// CHECK: %[[W2:.*]], %[[IDS2:.*]] = moe.remap_experts %[[W]], %[[IDS]] map = [0, 1, 0, 2]
// CHECK: moe.experts %{{.*}}, %[[W2]], %[[IDS2]] {{.*}} gate_up %[[GU]] {{.*}} down %[[DOWN]]

// Then expert 1 joins them (its mean output is closer than expert 3's).
// TWO: moe.remap_experts %{{.*}}, %{{.*}} map = [0, 0, 0, 1]

// OPTIONS: moe-merge-experts needs profile=FILE and one of keep=N
