// RUN: moec-opt %s --moe-split-deallocs --split-input-file | FileCheck %s

// Buffers with allocations of their own get a dealloc each; the retained
// (returned) buffer and the argument with a false condition stay out.
// CHECK-LABEL: func @distinct
// CHECK-SAME: (%[[ARG:.*]]: memref<4xf32>, %[[C:.*]]: i1)
// CHECK: %[[A:.*]] = memref.alloc() : memref<4xf32>
// CHECK: %[[B:.*]] = memref.alloc() : memref<4xf32>
// CHECK: %[[R:.*]] = memref.alloc() : memref<4xf32>
// CHECK: bufferization.dealloc (%[[A]] : memref<4xf32>) if (%[[C]])
// CHECK-NOT: retain
// CHECK: bufferization.dealloc (%[[B]] : memref<4xf32>) if (%true)
// CHECK-NOT: retain
// CHECK: %[[U:.*]] = bufferization.dealloc (%[[R]] : memref<4xf32>) if (%true) retain (%[[R]] : memref<4xf32>)
// CHECK: return %[[R]], %[[U]]
func.func @distinct(%arg: memref<4xf32>, %c: i1) -> (memref<4xf32>, i1) {
  %true = arith.constant true
  %false = arith.constant false
  %a = memref.alloc() : memref<4xf32>
  %b = memref.alloc() : memref<4xf32>
  %r = memref.alloc() : memref<4xf32>
  %u = bufferization.dealloc (%a, %arg, %b, %r : memref<4xf32>, memref<4xf32>, memref<4xf32>, memref<4xf32>)
      if (%c, %false, %true, %true) retain (%r : memref<4xf32>)
  return %r, %u : memref<4xf32>, i1
}

// -----

// The base buffer of an allocation is that allocation: freed by name. A
// view of the same allocation elsewhere in the list keeps both together.
// CHECK-LABEL: func @views
// CHECK: %[[A:.*]] = memref.alloc() : memref<8xf32>
// CHECK: %[[B:.*]] = memref.alloc() : memref<8xf32>
// CHECK: %[[BASE:.*]], %{{.*}}, %{{.*}}, %{{.*}} = memref.extract_strided_metadata %[[A]]
// CHECK: %[[VIEW:.*]] = memref.subview %[[B]]
// CHECK: bufferization.dealloc (%[[A]] : memref<8xf32>) if (%true)
// CHECK: bufferization.dealloc (%[[B]], %[[VIEW]] : memref<8xf32>, memref<4xf32, strided<[1], offset: 2>>) if (%true, %true)
func.func @views() {
  %true = arith.constant true
  %a = memref.alloc() : memref<8xf32>
  %b = memref.alloc() : memref<8xf32>
  %base, %offset, %size, %stride = memref.extract_strided_metadata %a : memref<8xf32> -> memref<f32>, index, index, index
  %view = memref.subview %b[2] [4] [1] : memref<8xf32> to memref<4xf32, strided<[1], offset: 2>>
  bufferization.dealloc (%base, %b, %view : memref<f32>, memref<8xf32>, memref<4xf32, strided<[1], offset: 2>>) if (%true, %true, %true)
  return
}

// -----

// A loop's iteration argument may be any allocation: nothing is split.
// CHECK-LABEL: func @unknown
// CHECK: bufferization.dealloc (%{{.*}}, %{{.*}} : memref<4xf32>, memref<4xf32>) if (%true, %true)
func.func @unknown(%n: index) {
  %true = arith.constant true
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %init = memref.alloc() : memref<4xf32>
  %out = scf.for %i = %c0 to %n step %c1 iter_args(%it = %init) -> memref<4xf32> {
    %a = memref.alloc() : memref<4xf32>
    bufferization.dealloc (%a, %it : memref<4xf32>, memref<4xf32>) if (%true, %true)
    %next = memref.alloc() : memref<4xf32>
    scf.yield %next : memref<4xf32>
  }
  return
}
