// moe-skip-experts: a fixed beta, or per layer from a profile's weight-ratio
// histogram (Inputs/make_profile.py: 10 of 50 second choices below 0.05, 10
// in [0.15, 0.2), 30 in [0.5, 0.55)).
// RUN: %python %S/Inputs/make_profile.py %t.json
// RUN: moec-opt %S/Inputs/layer.mlir --moe-skip-experts="beta=0.3 report" 2>&1 | FileCheck %s --check-prefix=BETA
// RUN: sed 's/ normalize//' %S/Inputs/layer.mlir | moec-opt --moe-skip-experts="beta=0.3" | FileCheck %s --check-prefix=PLAIN
// RUN: moec-opt %S/Inputs/layer.mlir --moe-skip-experts="profile=%t.json skip-fraction=0.2 report" 2>&1 | FileCheck %s --check-prefix=PROFILE
// RUN: moec-opt %S/Inputs/layer.mlir --moe-skip-experts="profile=%t.json skip-fraction=0.5 report" 2>&1 | FileCheck %s --check-prefix=HALF
// RUN: moec-opt %S/Inputs/layer.mlir --moe-skip-experts="profile=%t.json skip-fraction=0.1 report" 2>&1 | FileCheck %s --check-prefix=NONE
// RUN: not moec-opt %S/Inputs/layer.mlir --moe-skip-experts="beta=0.3 profile=%t.json" 2>&1 | FileCheck %s --check-prefix=OPTIONS
// RUN: not moec-opt %S/Inputs/layer.mlir --moe-skip-experts="beta=2" 2>&1 | FileCheck %s --check-prefix=OPTIONS

// The router normalises its top-2 weights, so the skip renormalises.
// BETA: moe-skip-experts: layer 0: beta 0.30, renormalised
// BETA: %[[W:.*]], %[[IDS:.*]] = moe.router
// BETA: %[[W2:.*]], %[[IDS2:.*]] = moe.skip_experts %[[W]], %[[IDS]] threshold = 3.000000e-01 renormalize : tensor<?x2xf32>, tensor<?x2xi32>
// BETA: moe.experts %{{.*}}, %[[W2]], %[[IDS2]]

// A router that does not normalise: the kept weights stay as they are.
// PLAIN: moe.skip_experts %{{.*}}, %{{.*}} threshold = 3.000000e-01 :

// Skipping at most 20%: the edge at 0.15 skips the 10 below 0.05 (20%).
// PROFILE: layer 0: beta 0.15, renormalised, skips 20.0% of non-top choices on the profile
// PROFILE: moe.skip_experts {{.*}} threshold = 1.500000e-01 renormalize
// HALF: layer 0: beta 0.50, renormalised, skips 40.0% of non-top choices
// NONE: layer 0: nothing to skip, skips 0.0% of non-top choices
// NONE-NOT: moe.skip_experts

// OPTIONS: moe-skip-experts needs either beta=B (0 <= B <= 1) or profile=FILE
