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

def MoeUnshareEmptyTensors
    : Pass<"moe-unshare-empty-tensors", "::mlir::ModuleOp"> {
  let summary = "Give every user of a tensor.empty its own copy";
  let description = [{
    CSE merges identical `tensor.empty` ops, so that a chain of N
    elementwise ops all name one empty tensor as their destination. One-Shot
    Bufferize then checks each of the N writes against every other use of
    that tensor: compile time grew with the cube of the graph's length (a
    chain of 500 Relus took 6.9 s in bufferization, 2,000 did not finish in
    10 minutes). One `tensor.empty` per use states what the graph means
    (each op writes a new tensor) and makes the analysis linear. Run it
    right before bufferization.

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
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

#endif // MOEC_DIALECTS_MOE_TRANSFORMS_PASSES_TD
