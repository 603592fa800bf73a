//===- Passes.td - moe dialect passes ----------------------*- tablegen -*-===//

#ifndef MOEC_DIALECTS_MOE_TRANSFORMS_PASSES_TD
#define MOEC_DIALECTS_MOE_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def MoeVerifyWeights : Pass<"moe-verify-weights", "::mlir::ModuleOp"> {
  let summary = "Check every moe.weight against the module's weight files";
  let description = [{
    Loads the safetensors files listed in the module's `moe.weight_files`
    attribute and checks that every `moe.weight` key exists with the
    declared element type and shape. A missing or corrupt file, an unknown
    key or a mismatch is an error naming the weight.
  }];
  let dependentDialects = ["::moec::moe::MoeDialect"];
}

def MoeExternalizeConstants
    : Pass<"moe-externalize-constants", "::mlir::ModuleOp"> {
  let summary = "Move large tensor constants into the weight store";
  let description = [{
    Replaces every `arith.constant` tensor of at least `min-bytes` bytes by
    a `moe.weight` that refers to a new blob in the weight store, so large
    weights stop being attributes. The key is the constant's name location
    when it has one, else `constant`, made unique. Blobs live in memory
    until `moe-save-weights` writes them to a file.
  }];
  let options = [
    Option<"minBytes", "min-bytes", "uint64_t",
           /*default=*/"::moec::kInlineWeightMaxBytes",
           "Constants at least this large (in bytes) move to the store">
  ];
  let dependentDialects = ["::moec::moe::MoeDialect"];
}

def MoeSaveWeights : Pass<"moe-save-weights", "::mlir::ModuleOp"> {
  let summary = "Write pass-created weight blobs to a safetensors file";
  let description = [{
    Writes every weight the module refers to that exists only in memory
    (created by a pass) into a new safetensors file at `path` and appends
    the file to the module's `moe.weight_files`, so the printed IR can be
    reloaded. A relative `path` is relative to the directory of the input
    IR file. The file is written atomically; nothing is written when no
    blob is referenced.
  }];
  let options = [
    Option<"path", "path", "std::string", /*default=*/"",
           "The safetensors file to write">
  ];
  let dependentDialects = ["::moec::moe::MoeDialect"];
}

def MoeUnshareTensors : Pass<"moe-unshare-tensors", "::mlir::ModuleOp"> {
  let summary = "Give every user of a tensor.empty or a constant tensor its "
                "own copy";
  let description = [{
    CSE merges identical `tensor.empty` ops and constant tensors, so that a
    chain of N elementwise ops names one empty tensor as every destination
    and one constant (say a bias of 0.5) as an input of each. One-Shot
    Bufferize checks each operand against every other use of the tensors it
    may alias, so one tensor with N uses costs N^2 checks: a chain of 500
    Relus took 6.9 s in bufferization and 2,000 did not finish in 10 minutes
    while the empty tensor was shared; the shared constant alone took 6.4 s
    at 5,000 nodes. One copy per use states what the graph means (each op
    writes a new tensor; a constant is read, never written) and makes the
    analysis linear. Constant copies share their attribute and bufferize to
    one global. Run it right before bufferization.

    ```mlir
    %e = tensor.empty(%n) : tensor<?x32xf32>
    %a = linalg.generic ... outs(%e : tensor<?x32xf32>)
    %b = linalg.generic ... outs(%e : tensor<?x32xf32>)
    // becomes
    %e0 = tensor.empty(%n) : tensor<?x32xf32>
    %a = linalg.generic ... outs(%e0 : tensor<?x32xf32>)
    %e1 = tensor.empty(%n) : tensor<?x32xf32>
    %b = linalg.generic ... outs(%e1 : tensor<?x32xf32>)
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def MoeSplitDeallocs : Pass<"moe-split-deallocs"> {
  let summary = "One bufferization.dealloc per buffer that has its own "
                "allocation";
  let description = [{
    `ownership-based-buffer-deallocation` ends each block with one
    `bufferization.dealloc` of every buffer the block owns, and
    `buffer-deallocation-simplification` splits it by checking every buffer
    against every other: quadratic in the number of buffers (6.9 s for a
    chain of 5,000 nodes). A buffer that a `memref.alloc` produced in the
    function, and that no other operand or retained value views, is
    distinct from everything else by construction; this pass gives each
    such buffer a `bufferization.dealloc` of its own, with nothing retained,
    in one linear sweep and leaves the rest to the upstream simplification. Operands whose
    condition is a constant false are dropped. Run it between the two.

    ```mlir
    %r = bufferization.dealloc (%a, %b, %arg : ...) if (%true, %true, %false)
                               retain (%b : ...)
    // becomes (%a has its own allocation; %b is retained)
    bufferization.dealloc (%a : ...) if (%true)
    %r = bufferization.dealloc (%b : ...) if (%true) retain (%b : ...)
    ```
  }];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect"];
}

def MoeFreeAfterLastUse : Pass<"moe-free-after-last-use"> {
  let summary = "Move each memref.dealloc to right after its buffer's last "
                "use";
  let description = [{
    Deallocation frees a block's buffers at the end of the block, so a
    model's peak memory would be the sum of all its intermediates. This pass
    moves the `memref.dealloc` of each `memref.alloc` to right after the
    last op in the allocation's block that uses the buffer or a view of it.
    A buffer that is returned, yielded, branched with, converted to an
    address, or passed to an op that makes a memref from it other than a
    view keeps its dealloc where it is, as does a buffer freed in another
    block or more than once. Upstream's `optimize-allocation-liveness` does
    the same but re-numbers the block after every move, quadratic in the
    block's length (9.6 s for a chain of 10,000 nodes); this pass reads
    every position before it moves anything. Run it after the deallocation
    pipeline.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def MoeReturnStateInPlace
    : Pass<"moe-return-state-in-place", "::mlir::ModuleOp"> {
  let summary = "Return a state buffer an entry updated in place as it is, "
                "not a clone";
  let description = [{
    An entry point updates its state (a KV cache) in the buffer the runtime
    passes, and returns that buffer as the state's new value.
    `ownership-based-buffer-deallocation` gives a function's results to the
    caller, so it returns a `bufferization.clone` of such an argument: a copy
    of the whole state on every call (the full KV cache for every token),
    which the runtime then copies back. The binaries' runtime owns the state
    and never frees a returned state buffer (include/moec/Runtime/
    BinaryAbi.h), so this pass returns the argument itself when the clone
    has no other use. The state inputs are those `moec.entries` marks, of
    the functions `moe-weights-to-arguments` named `@moec_entry_N`. Run it
    after the deallocation pipeline, before the clones become copies.

    ```mlir
    %c = bufferization.clone %cache : memref<?x8x128xf32> to memref<?x8x128xf32>
    return %logits, %c
    // becomes
    return %logits, %cache
    ```
  }];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect"];
}

def MoeWeightsToArguments : Pass<"moe-weights-to-arguments", "::mlir::ModuleOp"> {
  let summary = "give the entry points the binaries' calling convention";
  let description = [{
    Every public function is an entry point of the binary (`@main` first).
    Entry N is renamed `@moec_entry_N` and gets one argument per distinct
    `moe.weight` it reads, which the binary's runtime fills with a pointer
    to the weight's bytes (embedded or mapped). Inputs and weights are
    marked read-only for bufferization, except inputs marked
    `moec.state = "NAME"`: the model's persistent state, which the entry
    may update in place (a result with the same attribute is the state's
    new value). The module records what the runtime needs as attributes:
    `moec.entries` (per entry: name, inputs and outputs with name, type and
    state, and the indices of its weights) and `moec.weights` (key,
    optional file and offset, type).
  }];
}

#endif // MOEC_DIALECTS_MOE_TRANSFORMS_PASSES_TD
