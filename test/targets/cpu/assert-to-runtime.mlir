// RUN: moec-opt %s --cpu-assert-to-runtime | FileCheck %s

// A run-time check calls the runtime with its message when it fails.
// CHECK-DAG: llvm.mlir.global internal constant @moec_check_message_0("node 'a': first\00")
// CHECK-DAG: llvm.mlir.global internal constant @moec_check_message_1("node 'b': second\00")
// CHECK: func.func private @moec_check_failed(!llvm.ptr)
// CHECK-LABEL: func.func @f
// CHECK-SAME: (%[[OK:.*]]: i1, %[[N:.*]]: index)
// CHECK: %[[FAILED:.*]] = arith.xori %[[OK]], %true
// CHECK: scf.if %[[FAILED]] {
// CHECK: llvm.mlir.addressof @moec_check_message_0
// CHECK: call @moec_check_failed(%{{.*}}) : (!llvm.ptr) -> ()
// CHECK: scf.for
// CHECK: scf.if
// CHECK: call @moec_check_failed
// CHECK-NOT: cf.assert
func.func @f(%ok: i1, %n: index) {
  cf.assert %ok, "node 'a': first"
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %c0 to %n step %c1 {
    %in = arith.cmpi ult, %i, %n : index
    cf.assert %in, "node 'b': second"
  }
  return
}
