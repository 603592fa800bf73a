// RUN: moec-opt %s --cpu-parallel-to-runtime | FileCheck %s

// The outermost parallel loop becomes a launch call with its trip count,
// a cost per iteration and the values it captures; its body moves to a
// function running a sub-range of iterations.
// CHECK-LABEL: func.func @f
// CHECK-SAME: (%[[A:.*]]: memref<?x64xf32>, %[[N:.*]]: index)
// CHECK: %[[COUNT:.*]] = arith.divui
// CHECK: %[[COST:.*]] = arith.constant 130 : index
// CHECK: call @moec_par_launch_0(%[[COUNT]], %[[COST]], %[[A]], %[[N]]) : (index, index, memref<?x64xf32>, index) -> ()
// CHECK-NOT: scf.parallel
func.func @f(%a: memref<?x64xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %one = arith.constant 1.0 : f32
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    scf.for %j = %c0 to %c64 step %c1 {
      memref.store %one, %a[%i, %j] : memref<?x64xf32>
    }
  }
  return
}

// A loop with a reduction stays where it is.
// CHECK-LABEL: func.func @reduction
// CHECK: scf.parallel
// CHECK: scf.reduce
func.func @reduction(%a: memref<?xf32>, %n: index) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %sum = scf.parallel (%i) = (%c0) to (%n) step (%c1) init (%zero) -> f32 {
    %v = memref.load %a[%i] : memref<?xf32>
    scf.reduce(%v : f32) {
    ^bb0(%l: f32, %r: f32):
      %s = arith.addf %l, %r : f32
      scf.reduce.return %s : f32
    }
  }
  return %sum : f32
}

// Outlined functions follow the functions they came from.
// CHECK-LABEL: func.func private @moec_par_body_0
// CHECK-SAME: (%{{.*}}: index, %{{.*}}: index, %{{.*}}: memref<?x64xf32>, %{{.*}}: index)
// CHECK: scf.parallel
// CHECK: scf.for
// CHECK: func.func private @moec_par_launch_0(index, index, memref<?x64xf32>, index)
