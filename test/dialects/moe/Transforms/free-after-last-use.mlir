// RUN: moec-opt %s --moe-free-after-last-use --split-input-file | FileCheck %s

// Each buffer is freed right after the last op that uses it or a view of
// it, counting uses inside nested regions as uses by the op around them.
// CHECK-LABEL: func @chain
// CHECK: %[[A:.*]] = memref.alloc
// CHECK: linalg.exp ins(%{{.*}} : memref<4xf32>) outs(%[[A]] : memref<4xf32>)
// CHECK: %[[B:.*]] = memref.alloc
// CHECK: %[[VIEW:.*]] = memref.subview %[[A]]
// CHECK: linalg.exp ins(%[[VIEW]] : memref<2xf32, strided<[1], offset: 1>>) outs(%{{.*}} : memref<2xf32
// CHECK: scf.for
// CHECK:   memref.load %[[A]]
// CHECK: }
// CHECK-NEXT: memref.dealloc %[[A]]
// CHECK: linalg.exp ins(%[[B]] : memref<4xf32>)
// CHECK-NEXT: memref.dealloc %[[B]]
// CHECK: return
func.func @chain(%x: memref<4xf32>, %y: memref<4xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %a = memref.alloc() : memref<4xf32>
  linalg.exp ins(%x : memref<4xf32>) outs(%a : memref<4xf32>)
  %b = memref.alloc() : memref<4xf32>
  %view = memref.subview %a[1] [2] [1] : memref<4xf32> to memref<2xf32, strided<[1], offset: 1>>
  %bview = memref.subview %b[0] [2] [1] : memref<4xf32> to memref<2xf32, strided<[1]>>
  linalg.exp ins(%view : memref<2xf32, strided<[1], offset: 1>>) outs(%bview : memref<2xf32, strided<[1]>>)
  scf.for %i = %c0 to %n step %c1 {
    %v = memref.load %a[%c0] : memref<4xf32>
    memref.store %v, %b[%c1] : memref<4xf32>
  }
  linalg.exp ins(%b : memref<4xf32>) outs(%y : memref<4xf32>)
  memref.dealloc %a : memref<4xf32>
  memref.dealloc %b : memref<4xf32>
  return
}

// -----

// Returned, yielded or freed in another block: left where it is.
// CHECK-LABEL: func @escapes
// CHECK: %[[R:.*]] = memref.alloc
// CHECK: %[[Y:.*]] = memref.alloc
// CHECK: %[[O:.*]] = memref.alloc
// CHECK: scf.if
// CHECK:   memref.dealloc %[[O]]
// CHECK: scf.yield %[[Y]]
// CHECK: linalg.exp
// CHECK-NEXT: memref.dealloc %[[Y]]
// CHECK-NEXT: return %[[R]]
func.func @escapes(%x: memref<4xf32>, %c: i1) -> memref<4xf32> {
  %r = memref.alloc() : memref<4xf32>
  linalg.exp ins(%x : memref<4xf32>) outs(%r : memref<4xf32>)
  %y = memref.alloc() : memref<4xf32>
  %o = memref.alloc() : memref<4xf32>
  linalg.exp ins(%x : memref<4xf32>) outs(%o : memref<4xf32>)
  %s = scf.if %c -> memref<4xf32> {
    memref.dealloc %o : memref<4xf32>
    scf.yield %y : memref<4xf32>
  } else {
    scf.yield %x : memref<4xf32>
  }
  linalg.exp ins(%x : memref<4xf32>) outs(%s : memref<4xf32>)
  memref.dealloc %y : memref<4xf32>
  return %r : memref<4xf32>
}
