//===- Passes.td - CUDA target passes ----------------------*- tablegen -*-===//

#ifndef MOEC_TARGETS_CUDA_PASSES_TD
#define MOEC_TARGETS_CUDA_PASSES_TD

include "mlir/Pass/PassBase.td"

def CudaOffloadToKernels : Pass<"cuda-offload-to-kernels", "mlir::ModuleOp"> {
  let summary = "run every memory access of the model's functions on the GPU";
  let description = [{
    After bufferization and `convert-linalg-to-parallel-loops`, every buffer
    of the model's functions lives in device memory (the runtime copies
    inputs and weights there, and the host code's `memref.alloc` becomes a
    device allocation). The host code keeps the control flow, the index
    arithmetic and the buffers' descriptors; everything that reads or writes
    a buffer becomes a `gpu.launch`:

    * an outermost `scf.parallel` becomes a kernel of 256-thread blocks over
      its flattened iteration space (one iteration per thread, the indices
      recovered by division; a launch is skipped when the space is empty);
      `scf.parallel` loops inside it become sequential loops;
    * any other op that touches memory and holds no `scf.parallel` (a
      sequential loop such as a counting sort, a parallel loop with
      reductions) becomes a kernel of one thread; its scalar results come
      back to the host through a one-element buffer;
    * a region op that holds an `scf.parallel` stays on the host and its
      regions are offloaded in turn;
    * a `memref.load` or `memref.store` on the host copies one element
      through the runtime's `moec_cuda_memcpy`;
    * `memref.copy` of identity layouts is a device-to-device copy through
      the same function, others a copy kernel;
    * a `memref.reshape` to sizes that are not static reads its shape on
      the host: from a host copy of the shape buffer;
    * `memref.alloca` becomes a device allocation freed at the end of its
      block, and each `memref.get_global` a device copy of the constant made
      at the function's start.

    Run-time checks (`moe.check`) inside a kernel become `cf.assert`, which
    the NVVM lowering turns into the device's `__assertfail` (unless
    `device-checks=false`: kernels emulated on the host keep them).
  }];
  let options = [
    Option<"deviceChecks", "device-checks", "bool", /*default=*/"true",
           "turn the checks inside kernels into device assertions">
  ];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::cf::ControlFlowDialect",
    "mlir::func::FuncDialect", "mlir::gpu::GPUDialect",
    "mlir::memref::MemRefDialect", "mlir::scf::SCFDialect"
  ];
}

def CudaEmulateLaunches : Pass<"cuda-emulate-launches", "mlir::ModuleOp"> {
  let summary = "run each gpu.launch as host loops (tests without a GPU)";
  let description = [{
    For `moec --cuda-emulate-kernels`: each `gpu.launch` becomes loops over
    its blocks and threads on the host, bracketed by calls of the runtime's
    `moec_cuda_emulated_kernel(1)` and `(0)`. The rest of the binary, the
    offloaded host code and the host runtime with its device copies, is the
    one a GPU runs; with a driver that emulates device memory as memory the
    host may touch only inside those brackets (the tests' fake
    libcuda.so.1), a host access to a device buffer faults.
  }];
  let dependentDialects = ["mlir::func::FuncDialect", "mlir::scf::SCFDialect"];
}

def CudaMergeKernelModules
    : Pass<"cuda-merge-kernel-modules", "mlir::ModuleOp"> {
  let summary = "gather every outlined kernel into one gpu.module";
  let description = [{
    `gpu-kernel-outlining` makes one `gpu.module` per kernel, and each
    module costs a PTX translation, a ptxas run per chip and a fatbinary
    run. This pass moves every kernel into one module, `@moec_kernels`,
    named after the module it came from (unique, where the outlined
    functions all share their parent's name), keeps one copy of each
    function they call, and points every `gpu.launch_func` at it.
  }];
}

def CudaBundleFatbin : Pass<"cuda-bundle-fatbin", "mlir::ModuleOp"> {
  let summary = "assemble each kernel module's PTX for every chip and bundle "
                "the cubins into one fatbin";
  let description = [{
    Runs after `gpu-module-to-binary{format=isa}`, which leaves one PTX
    object per `#nvvm.target` in each `gpu.binary`. For each object, ptxas
    (from `toolkit`) assembles a cubin for the object's chip; the toolkit's
    `fatbinary` bundles every cubin and the PTX of each chip (which the
    driver compiles for chips newer than those named) into one fatbin, which
    replaces the objects. The driver picks the image that matches the
    device when the binary loads the module.
  }];
  let options = [
    Option<"toolkit", "toolkit", "std::string", /*default=*/"\"/usr/local/cuda\"",
           "the CUDA toolkit holding bin/ptxas and bin/fatbinary">
  ];
}

#endif // MOEC_TARGETS_CUDA_PASSES_TD
