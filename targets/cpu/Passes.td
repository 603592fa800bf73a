//===- Passes.td - CPU target passes -----------------------*- tablegen -*-===//

#ifndef MOEC_TARGETS_CPU_PASSES_TD
#define MOEC_TARGETS_CPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def CpuWeightsToArguments : Pass<"cpu-weights-to-arguments", "mlir::ModuleOp"> {
  let summary = "give the entry function the standalone binary's calling convention";
  let description = [{
    Renames the model's entry function (`@main`, or the only public
    function) to `@moec_model` and appends one argument per distinct
    `moe.weight`, which the binary's runtime fills with a pointer to the
    weight's bytes (embedded or mapped). Inputs and weights are marked
    read-only for bufferization. The module records what the runtime needs
    to call the function as attributes: `moec.inputs`, `moec.outputs`
    (name and type of each) and `moec.weights` (key, optional file and
    offset, type).
  }];
}

def CpuParallelToRuntime : Pass<"cpu-parallel-to-runtime", "mlir::ModuleOp"> {
  let summary = "run outermost scf.parallel loops on the runtime's thread pool";
  let description = [{
    Outlines each outermost `scf.parallel` (on buffers, after
    bufferization) into a function `@moec_par_body_N(begin, end, captured
    values...)` that runs iterations [begin, end) of its first dimension,
    and replaces the loop by a call to `@moec_par_launch_N(count, cost,
    captured values...)`. CPU codegen defines each launch function to pack
    the captured values and call the runtime's
    `moec_parallel_for(count, cost, thunk, context)`, the only threading
    the binary uses. `cost` estimates the work of one iteration (operations,
    times static trip counts of inner loops) so the runtime runs small
    loops inline. Loops with reductions stay sequential.
  }];
  let dependentDialects = ["mlir::func::FuncDialect"];
}

def CpuAssertToRuntime : Pass<"cpu-assert-to-runtime", "mlir::ModuleOp"> {
  let summary = "report failed run-time checks through the runtime";
  let description = [{
    Replaces each `cf.assert` and `moe.check` (the run-time checks of
    extents and indices that lowerings emit where shapes are only known at
    run time) by an `scf.if` that, when the condition is false, calls the
    runtime's `moec_check_failed(message, v0, v1, v2, v3)`. The runtime
    prints the message, which names the ONNX node, with the values of a
    `moe.check` in place of `{0}` ... `{3}`, to stderr and exits with status
    1 (bad input), where upstream's lowering would print to stdout and
    abort.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::func::FuncDialect",
    "mlir::LLVM::LLVMDialect", "mlir::scf::SCFDialect"
  ];
}

def CpuSplitModelFunction
    : Pass<"cpu-split-model-function", "mlir::ModuleOp"> {
  let summary = "compile the model function in parts of bounded size";
  let description = [{
    LLVM's greedy register allocator and instruction selection grow faster
    than the function they compile: a chain of 2,000 ONNX nodes spent 1.4 s
    in register allocation, 10,000 nodes 49 s. This pass moves runs of
    `@moec_model`'s top-level ops, about `ops-per-part` ops each (nested
    ops included), into private functions `@moec_model_part_N` that the
    model function calls in order (and that CPU codegen marks `noinline`). Values that cross a boundary
    (buffers and scalars) become arguments and results; constants and
    global addresses are repeated in each part that uses them. A function
    with a top-level `memref.alloca` (which would die with its part), or
    of no more than `ops-per-part` ops, is left as it is. Run it on
    buffers, before loops are outlined for threads.
  }];
  let options = [
    Option<"opsPerPart", "ops-per-part", "uint64_t", /*default=*/"2048",
           "Operations per part (nested ones included)">
  ];
  let dependentDialects = ["mlir::func::FuncDialect"];
}

#endif // MOEC_TARGETS_CPU_PASSES_TD
