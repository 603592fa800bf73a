// RUN: moec-opt %s --cuda-offload-to-kernels --split-input-file | FileCheck %s

// An outermost parallel loop: one thread per iteration of the flattened
// space, in blocks of 256, the indices recovered by division; no launch
// when the space is empty.
// CHECK-LABEL: func.func @parallel
// CHECK-SAME: (%[[A:.*]]: memref<?x8xf32>, %[[N:.*]]: index)
// CHECK: arith.muli
// CHECK: %[[TOTAL:.*]] = arith.muli
// CHECK-NEXT: %[[ANY:.*]] = arith.cmpi sgt, %[[TOTAL]], %c0
// CHECK: scf.if %[[ANY]] {
// CHECK: %[[BLOCKS:.*]] = arith.ceildivsi %[[TOTAL]], %c256
// CHECK: gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[BLOCKS]], %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%[[BS:.*]] = %c256
// CHECK: %[[ID:.*]] = arith.addi %{{.*}}, %[[TX]]
// CHECK: %[[IN:.*]] = arith.cmpi slt, %[[ID]], %[[TOTAL]]
// CHECK: scf.if %[[IN]] {
// CHECK: arith.remsi %[[ID]]
// CHECK: arith.divsi %[[ID]]
// CHECK: memref.load %[[A]]
// CHECK: math.exp
// CHECK: memref.store
// CHECK: gpu.terminator
// CHECK-NOT: scf.parallel
func.func @parallel(%a: memref<?x8xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c8) step (%c1, %c1) {
    %v = memref.load %a[%i, %j] : memref<?x8xf32>
    %e = math.exp %v : f32
    memref.store %e, %a[%i, %j] : memref<?x8xf32>
    scf.reduce
  }
  return
}

// -----

// Sequential code that touches memory runs in one thread; its result comes
// back through a one-element device buffer and the runtime's copy. A load
// on the host copies one element to a host scalar. Host scalars live in
// the function's frame (an alloca in a host loop would grow the stack).
// CHECK-LABEL: func.func @serial
// CHECK-DAG: %[[ELEMENT:.*]] = memref.alloca() : memref<i32>
// CHECK-DAG: %[[HOST:.*]] = memref.alloca() : memref<index>
// CHECK: %[[SLOT:.*]] = memref.alloc() : memref<index>
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c1{{.*}}) threads
// CHECK: %[[SUM:.*]] = scf.for
// CHECK: memref.store %[[SUM]], %[[SLOT]][]
// CHECK: gpu.terminator
// CHECK: call @moec_cuda_memcpy(%{{.*}}, %{{.*}}, %c8{{.*}})
// CHECK: %[[BACK:.*]] = memref.load %[[HOST]][]
// CHECK: memref.dealloc %[[SLOT]]
// CHECK: call @moec_cuda_memcpy(%{{.*}}, %{{.*}}, %c4{{.*}})
// CHECK: memref.load %[[ELEMENT]][]
// CHECK: return
func.func @serial(%a: memref<16xindex>, %b: memref<4xi32>) -> (index, i32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %sum = scf.for %i = %c0 to %c16 step %c1 iter_args(%s = %c0) -> index {
    %v = memref.load %a[%i] : memref<16xindex>
    %t = arith.addi %s, %v : index
    scf.yield %t : index
  }
  %e = memref.load %b[%c1] : memref<4xi32>
  return %sum, %e : index, i32
}

// -----

// Copies of identity layouts are one device copy; stack buffers become
// device buffers freed at the end of their block; a constant is copied to
// the device at the start.
// CHECK-LABEL: func.func @buffers
// CHECK: %[[GLOBAL:.*]] = memref.get_global @table
// CHECK: %[[TABLE:.*]] = memref.alloc() : memref<4xf32>
// CHECK: call @moec_cuda_memcpy
// CHECK: %[[STACK:.*]] = memref.alloc() : memref<4xf32>
// CHECK: call @moec_cuda_memcpy
// CHECK-NOT: memref.copy
// CHECK: gpu.launch
// CHECK: memref.load %[[TABLE]]
// CHECK: memref.dealloc %[[TABLE]]
// CHECK: memref.dealloc %[[STACK]]
// CHECK: return
memref.global "private" constant @table : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
func.func @buffers(%a: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %t = memref.get_global @table : memref<4xf32>
  %s = memref.alloca() : memref<4xf32>
  memref.copy %a, %s : memref<4xf32> to memref<4xf32>
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    %x = memref.load %s[%i] : memref<4xf32>
    %y = memref.load %t[%i] : memref<4xf32>
    %z = arith.addf %x, %y : f32
    memref.store %z, %a[%i] : memref<4xf32>
    scf.reduce
  }
  return
}

// -----

// A host loop holding a parallel loop stays on the host; its body is
// offloaded, and a parallel loop nested inside a kernel runs sequentially
// in its thread.
// CHECK-LABEL: func.func @nested
// CHECK: scf.for
// CHECK: gpu.launch
// CHECK: scf.for
// CHECK-NOT: scf.parallel
// CHECK: gpu.terminator
func.func @nested(%a: memref<4x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  scf.for %k = %c0 to %c4 step %c1 {
    scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
      scf.parallel (%j) = (%c0) to (%c4) step (%c1) {
        %v = memref.load %a[%i, %j] : memref<4x4xf32>
        %w = arith.addf %v, %v : f32
        memref.store %w, %a[%i, %j] : memref<4x4xf32>
        scf.reduce
      }
      scf.reduce
    }
  }
  return
}

// -----

// A reshape whose sizes are not static reads its shape on the host: from a
// host copy of the device buffer.
// CHECK-LABEL: func.func @reshape
// CHECK: %[[HOST:.*]] = memref.alloca() : memref<2xindex>
// CHECK: call @moec_cuda_memcpy
// CHECK: memref.reshape %{{.*}}(%[[HOST]])
func.func @reshape(%a: memref<?xf32>, %shape: memref<2xindex>) -> memref<?x?xf32> {
  %r = memref.reshape %a(%shape) : (memref<?xf32>, memref<2xindex>) -> memref<?x?xf32>
  return %r : memref<?x?xf32>
}
