// moe-reduce-topk: the router picks fewer experts and keeps its scoring.
// RUN: moec-opt %S/Inputs/layer.mlir --moe-reduce-topk="top-k=1 report" 2>&1 | FileCheck %s
// RUN: moec-opt %S/Inputs/layer.mlir --moe-reduce-topk="top-k=2 report" 2>&1 | FileCheck %s --check-prefix=SAME
// RUN: not moec-opt %S/Inputs/layer.mlir --moe-reduce-topk 2>&1 | FileCheck %s --check-prefix=OPTIONS

// CHECK: moe-reduce-topk: layer 0: top_k 2 -> 1
// CHECK: %[[W:.*]], %[[IDS:.*]] = moe.router %{{.*}} top_k = 1 scoring = softmax normalize : tensor<?x4xf32> -> tensor<?x1xf32>, tensor<?x1xi32>
// CHECK: moe.experts %{{.*}}, %[[W]], %[[IDS]] {{.*}} : (tensor<?x4xf32>, tensor<?x1xf32>, tensor<?x1xi32>,

// SAME-NOT: moe-reduce-topk:
// SAME: moe.router %{{.*}} top_k = 2

// OPTIONS: moe-reduce-topk needs top-k=K with K >= 1
