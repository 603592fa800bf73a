// moe-instrument-routing: one moec_profile_record call per sparse path,
// after its moe.combine, with every operand's shape erased.
// RUN: moec-opt %S/Inputs/layer.mlir --moe-sparse-dispatch --moe-instrument-routing | FileCheck %s
// RUN: not moec-opt %S/Inputs/layer.mlir --moe-instrument-routing 2>&1 | FileCheck %s --check-prefix=ORDER

// CHECK: module attributes {moec.profiled_layers = 1 : i64}
// CHECK: func.func private @moec_profile_record(i64, tensor<?x?xi32>, tensor<?x?xf32>, tensor<?x?xf32>, tensor<?xi32>, tensor<?xi32>, tensor<?x?xf32>, tensor<?x?xf32>) attributes {llvm.emit_c_interface}
// CHECK: %[[W:.*]], %[[IDS:.*]] = moe.router
// CHECK: %[[ROWS:.*]], %[[PERM:.*]], %[[OFFSETS:.*]] = moe.dispatch
// CHECK: %[[HIDDEN:.*]] = moe.activation
// CHECK: %[[OUT:.*]] = moe.grouped_matmul %[[HIDDEN]]
// CHECK: %[[Y:.*]] = moe.combine %[[OUT]], %[[PERM]], %[[W]]
// CHECK: %[[LAYER:.*]] = arith.constant 0 : i64
// CHECK-COUNT-7: tensor.cast
// CHECK: call @moec_profile_record(%[[LAYER]],
// CHECK: return %[[Y]]

// ORDER: 'moe.experts' op has no sparse path to record yet; run moe-sparse-dispatch before moe-instrument-routing
