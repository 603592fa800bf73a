// RUN: moec-opt %s --convert-checks-to-runtime | FileCheck %s

// A run-time check calls the runtime with its message when it fails: a
// cf.assert's braces are doubled (the runtime reads "{0}" as a value); a
// moe.check passes its values as int64, the unused ones as 0.
// CHECK-DAG: llvm.mlir.global internal constant @moec_check_message_0("node 'a{{[{][{]}}1}': first\00")
// CHECK-DAG: llvm.mlir.global internal constant @moec_check_message_1("node 'b': index {0} of {1}\00")
// CHECK: func.func private @moec_check_failed(!llvm.ptr, i64, i64, i64, i64)
// CHECK-LABEL: func.func @f
// CHECK-SAME: (%[[OK:.*]]: i1, %[[N:.*]]: index, %[[W:.*]]: i32)
// CHECK: %[[FAILED:.*]] = arith.xori %[[OK]], %true
// CHECK: scf.if %[[FAILED]] {
// CHECK: %[[TEXT:.*]] = llvm.mlir.addressof @moec_check_message_0
// CHECK: %[[GEP:.*]] = llvm.getelementptr %[[TEXT]]
// CHECK: %[[ZERO:.*]] = arith.constant 0 : i64
// CHECK: call @moec_check_failed(%[[GEP]], %[[ZERO]], %{{.*}}, %{{.*}}, %{{.*}}) : (!llvm.ptr, i64, i64, i64, i64) -> ()
// CHECK: scf.for %[[I:.*]] =
// CHECK: scf.if
// CHECK: %[[I64:.*]] = arith.index_cast %[[I]] : index to i64
// CHECK: %[[W64:.*]] = arith.extsi %[[W]] : i32 to i64
// CHECK: call @moec_check_failed(%{{.*}}, %[[I64]], %[[W64]], %{{.*}}, %{{.*}})
// CHECK-NOT: cf.assert
// CHECK-NOT: moe.check
func.func @f(%ok: i1, %n: index, %w: i32) {
  cf.assert %ok, "node 'a{1}': first"
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %c0 to %n step %c1 {
    %in = arith.cmpi ult, %i, %n : index
    moe.check %in, "node 'b': index {0} of {1}" (%i, %w : index, i32)
  }
  return
}
