//===- Passes.td - The NPU target's passes -----------------*- tablegen -*-===//

#ifndef MOEC_TARGETS_NPU_TRANSFORMS_PASSES_TD
#define MOEC_TARGETS_NPU_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertToNpu : Pass<"convert-to-npu", "::mlir::ModuleOp"> {
  let summary = "Lower every entry point to npu command streams";
  let description = [{
    Compiles each entry point (a function of moe ops, dense matmuls and
    elementwise ops on tensors, after moe-sparse-dispatch) into one
    `npu.program` per token-count bucket: every tensor in global memory,
    one phase of commands per op on every core, weights packed into the
    cube's fractal tiles in `cube-type`. The function's body becomes an
    `npu.run` of its inputs and the packed weights (`moe.weight`s). What the
    chip cannot do is an error naming the op.
  }];
  let options = [
    Option<"chip", "chip", "std::string", /*default=*/"\"\"",
           "Chip description file (default: the built-in davinci-ref)">,
    ListOption<"buckets", "buckets", "int64_t",
               "Token counts to compile for (default: 1, 16, 64, 256 and "
               "max-tokens, those not above max-tokens)">,
    Option<"maxTokens", "max-tokens", "int64_t", /*default=*/"512",
           "The largest token count a call may have">,
    Option<"cubeType", "cube-type", "std::string", /*default=*/"\"f16\"",
           "The cube's input type for float matmuls: f16 or bf16">,
  ];
  let dependentDialects = ["::moec::npu::NpuDialect",
                           "::moec::moe::MoeDialect"];
}

def NpuKeepDecoderOps : Pass<"npu-keep-decoder-ops", "::mlir::ModuleOp"> {
  let summary = "Keep the decoder ops for convert-to-npu";
  let description = [{
    Marks every `decoder.embedding`, `decoder.rms_norm`, `decoder.rope` and
    `decoder.attention` with `decoder.target_kernel`, so that
    decoder-to-linalg leaves them to convert-to-npu, which lowers each to
    its own phase (the attention on the cube and the vector unit). The npu
    target's pre-dispatch pipeline runs it.
  }];
}

#endif // MOEC_TARGETS_NPU_TRANSFORMS_PASSES_TD
