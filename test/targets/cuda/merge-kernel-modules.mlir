// RUN: moec-opt %s --cuda-offload-to-kernels --gpu-kernel-outlining --cuda-merge-kernel-modules | FileCheck %s

// Outlining makes a gpu.module per kernel, each kernel named after the
// function; merged, the kernels take their modules' unique names, the
// function they both call is kept once, and the launches follow.
// CHECK: gpu.launch_func @moec_kernels::@[[K0:[a-z_0-9]+]]
// CHECK: gpu.launch_func @moec_kernels::@[[K1:[a-z_0-9]+]]
// CHECK: gpu.module @moec_kernels
// CHECK-DAG: func.func private @twice
// CHECK-DAG: gpu.func @[[K0]]({{.*}}) kernel
// CHECK-DAG: gpu.func @[[K1]]({{.*}}) kernel
// CHECK-NOT: gpu.module
func.func private @twice(%x: f32) -> f32 {
  %y = arith.addf %x, %x : f32
  return %y : f32
}
func.func @f(%a: memref<4xf32>, %b: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    %v = memref.load %a[%i] : memref<4xf32>
    %w = func.call @twice(%v) : (f32) -> f32
    memref.store %w, %b[%i] : memref<4xf32>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    %v = memref.load %b[%i] : memref<4xf32>
    %w = func.call @twice(%v) : (f32) -> f32
    memref.store %w, %a[%i] : memref<4xf32>
    scf.reduce
  }
  return
}
