// RUN: moec-opt %s --cpu-split-model-function=ops-per-part=8 --split-input-file | FileCheck %s

// Runs of about 8 ops (nested ones included: linalg.exp counts 3, the loop
// 6) become parts, called in order. Values made in one part and read
// later are its results, then arguments; constants and globals are
// repeated in each part that reads them instead of being passed; the loop
// moves whole.
// CHECK-LABEL: func.func @moec_entry_0
// CHECK-SAME: (%[[X:.*]]: memref<?xf32>) -> memref<?xf32>
// CHECK: %[[P0:.*]]:3 = call @moec_entry_0_part_0(%[[X]]) : (memref<?xf32>) -> (index, memref<?xf32>, memref<?xf32>)
// CHECK: call @moec_entry_0_part_1(%[[P0]]#1, %[[P0]]#2, %[[P0]]#0) : (memref<?xf32>, memref<?xf32>, index) -> ()
// CHECK: return %[[P0]]#2
// CHECK: func.func private @moec_entry_0_part_0(%[[X0:.*]]: memref<?xf32>) -> (index, memref<?xf32>, memref<?xf32>)
// CHECK: %[[C0:.*]] = arith.constant 0 : index
// CHECK: %[[N:.*]] = memref.dim %[[X0]], %[[C0]]
// CHECK: %[[A:.*]] = memref.alloc(%[[N]])
// CHECK: linalg.exp ins(%[[X0]] : memref<?xf32>) outs(%[[A]] : memref<?xf32>)
// CHECK: %[[B:.*]] = memref.alloc(%[[N]])
// CHECK: return %[[N]], %[[A]], %[[B]]
// CHECK: func.func private @moec_entry_0_part_1(%[[A1:.*]]: memref<?xf32>, %[[B1:.*]]: memref<?xf32>, %[[N1:.*]]: index)
// CHECK-DAG: %[[G:.*]] = memref.get_global @scale
// CHECK-DAG: arith.constant 0 : index
// CHECK-DAG: arith.constant 1 : index
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[N1]]
// CHECK: memref.load %[[G]]
// CHECK: memref.load %[[A1]]
// CHECK: memref.store %{{.*}}, %[[B1]]
// CHECK: memref.dealloc %[[A1]]
// CHECK-NEXT: return
memref.global "private" constant @scale : memref<f32> = dense<2.0>
func.func @moec_entry_0(%x: memref<?xf32>) -> memref<?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %g = memref.get_global @scale : memref<f32>
  %n = memref.dim %x, %c0 : memref<?xf32>
  %a = memref.alloc(%n) : memref<?xf32>
  linalg.exp ins(%x : memref<?xf32>) outs(%a : memref<?xf32>)
  %b = memref.alloc(%n) : memref<?xf32>
  scf.for %i = %c0 to %n step %c1 {
    %s = memref.load %g[] : memref<f32>
    %v = memref.load %a[%i] : memref<?xf32>
    %p = arith.mulf %s, %v : f32
    memref.store %p, %b[%i] : memref<?xf32>
  }
  memref.dealloc %a : memref<?xf32>
  return %b : memref<?xf32>
}

// -----

// A stack buffer would die with its part: the function stays whole.
// CHECK-LABEL: func.func @moec_entry_0
// CHECK-NOT: call
// CHECK-NOT: func.func private
func.func @moec_entry_0(%x: memref<4xf32>) -> memref<4xf32> {
  %t = memref.alloca() : memref<4xf32>
  linalg.exp ins(%x : memref<4xf32>) outs(%t : memref<4xf32>)
  %a = memref.alloc() : memref<4xf32>
  linalg.exp ins(%t : memref<4xf32>) outs(%a : memref<4xf32>)
  %b = memref.alloc() : memref<4xf32>
  linalg.exp ins(%a : memref<4xf32>) outs(%b : memref<4xf32>)
  memref.dealloc %a : memref<4xf32>
  return %b : memref<4xf32>
}
