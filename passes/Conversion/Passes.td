//===- Passes.td - moec conversion passes ------------------*- tablegen -*-===//

#ifndef MOEC_PASSES_CONVERSION_PASSES_TD
#define MOEC_PASSES_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertOnnxToLinalg : Pass<"convert-onnx-to-linalg", "mlir::ModuleOp"> {
  let summary = "lower onnx.node ops to linalg, tensor, arith, math, scf and cf";
  let description = [{
    Lowers every `onnx.node` left after MoE raising to upstream dialects,
    node by node in graph order. Each lowering sees the real types of its
    operands (static where known, dynamic dimensions as `?`), builds the
    node's semantics, and replaces the node's results; a result whose type
    the model declared must agree with what the lowering computed. Integer
    shape arithmetic on constants (Shape, Gather, Concat, Slice, ... of
    constants) folds to constants as it lowers, so reshapes driven by shape
    subgraphs get static types; shape vectors that mix run-time and static
    extents keep their static entries. Extents that only the run time knows
    (Expand, Tile, Reshape, scatters on computed shapes) are checked there
    with `cf.assert`, whose message names the node. Function signatures are
    updated to the lowered result types.

    A node whose op type, domain or attributes are not supported is an
    error naming the node, op type, domain and opset. The op list and the
    upstream ops each lowers to are in docs/onnx-import.md.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::cf::ControlFlowDialect",
    "mlir::linalg::LinalgDialect", "mlir::math::MathDialect",
    "mlir::scf::SCFDialect", "mlir::tensor::TensorDialect",
    "moec::moe::MoeDialect"
  ];
}

def DecoderToLinalg : Pass<"decoder-to-linalg", "mlir::ModuleOp"> {
  let summary = "decompose the decoder dialect's ops into linalg, tensor, "
                "arith, math and scf";
  let description = [{
    The reference decomposition of `decoder.embedding`, `decoder.rms_norm`,
    `decoder.rope` and `decoder.attention` (docs/dialects/decoder.md):
    `linalg.generic` ops over tensors in f32 (RoPE's angles in f64: a
    table of the cosines and sines per position and frequency, which CSE
    shares among the ropes of one call, then the rotation per element), the
    embedding's ids checked with `moe.check` before the gather. Attention
    materializes the scores `[H, Tq, Tk]`; it is the plain definition, not
    a fast kernel. An op with the `decoder.target_kernel` attribute is left
    alone: a target's pre-dispatch pipeline sets it on the ops the target
    lowers itself.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::linalg::LinalgDialect",
    "mlir::math::MathDialect", "mlir::scf::SCFDialect",
    "mlir::tensor::TensorDialect", "moec::moe::MoeDialect"
  ];
}

def MoeRaiseOnnxPatterns : Pass<"moe-raise-onnx-patterns", "mlir::ModuleOp"> {
  let summary = "raise every ONNX export form of an MoE block to moe ops";
  let description = [{
    Recognises Mixture-of-Experts blocks in an imported ONNX graph
    (`onnx.node` ops) and replaces each with `moe.router` + `moe.experts`,
    so that everything downstream sees one representation whatever the
    exporter wrote. It anchors on every `TopK` and on every
    `com.microsoft.MoE` / `QMoE` node:

    * the router: `TopK` over a router projection `MatMul(x, Wr[H, E])`
      or `Gemm` (plus bias), through Softmax or Sigmoid or neither (then
      the TopK values must be softmax-ed: GPT-OSS), with DeepSeek-V3's
      selection bias and group-limited mask (sum of top-2 or max per group;
      the masked fill value, 0.0 or -inf, is kept), and the routing
      weights' renormalisation and scaling; no-op Casts, Identities and
      [T, E] Reshapes are looked through;
    * the experts, in one of five forms: the contrib ops (router input is
      logits; `swiglu_fusion` 0/1/2; QMoE weights stay packed bytes as
      `!moe.packed`), the indices Gather-ing stacked `[E, ...]` weights
      before batched MatMuls, an unrolled per-expert loop (the tokens of
      expert e by Equal or OneHot masks and NonZero, their routing weights
      by GatherND, flat index arithmetic or a dense routing matrix, the
      results added back by ScatterND, ScatterElements or torch's
      index_add_), a dense fallback that masks every expert's output by its
      column of a routing matrix, or every expert batched over the tokens
      tiled per expert (GPT-OSS's bmm path). The glue is matched by what it
      means (Glue.h), not by one exporter's spelling.

    Expert FFNs are SiLU-gated, clamped SwiGLU (alpha, beta, limit) or
    ReLU, with separate, interleaved or concatenated gate/up projections and
    optional biases. Shared experts are not part of the block: they stay
    ordinary dense MLPs beside it. A near miss (TopK on another axis, the
    smallest values, a mask that is not the top-k, a missing expert, expert
    outputs not scaled by the routing weights) is left alone. With
    `report`, a line per anchor on stderr says what was raised or why not.
  }];
  let options = [
    Option<"report", "report", "bool", /*default=*/"false",
           "print, for each TopK and MoE contrib node, what was raised or "
           "why not">,
    Option<"reportUnraised", "report-unraised", "bool", /*default=*/"false",
           "print the reason for each TopK and MoE contrib node not raised">
  ];
  let dependentDialects = [
    "moec::moe::MoeDialect", "mlir::arith::ArithDialect",
    "mlir::tensor::TensorDialect"
  ];
}

def ConvertMoeToSCF : Pass<"convert-moe-to-scf", "mlir::ModuleOp"> {
  let summary = "lower the router and the sparse-path moe ops to loops over "
                "buffers (the reference lowering)";
  let description = [{
    Lowers `moe.router`, `moe.skip_experts`, `moe.remap_experts`,
    `moe.dispatch`, `moe.grouped_matmul`, `moe.activation` and
    `moe.combine` to scf loop nests with the reference patterns of
    include/moec/Conversion/MoeToLoops.h (run `moe-sparse-dispatch` first:
    `moe.experts` is an error here). A target's own lowering pass adds its
    patterns of higher benefit to the same set (the CPU target's is
    `cpu-lower-moe`; docs/targets.md). The IR stays at tensor level:
    operands are read through read-only `bufferization.to_buffer`, results
    are fresh buffers that become tensors again through
    `bufferization.to_tensor restrict writable`, so One-Shot Bufferize
    handles the rest of the program as usual.

    * router: per token, the scores, the group mask, `top_k` rounds of
      "best expert not yet taken" (the lower index wins a tie), then the
      weights, renormalised and scaled as the op says;
    * dispatch: a stable counting sort of the `T * k` pairs by expert;
    * grouped_matmul: one parallel iteration per (64 output columns,
      expert), dot products that carry `reassoc` so the target may
      vectorize them. Packed weights are unpacked and scaled element by
      element in the inner loop; no dequantized copy of a weight is ever
      made. Rows of a `moec.int8_activations` matmul are quantized to int8
      per row first;
    * activation, combine: one parallel iteration per row / token; combine
      sums a token's k rows in choice order.

    Parallel loops are `scf.parallel`; targets decide how they map to
    threads. Packed float formats (e2m1, fp8) are reported as unsupported.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::bufferization::BufferizationDialect",
    "mlir::math::MathDialect", "mlir::memref::MemRefDialect",
    "mlir::scf::SCFDialect"
  ];
}

def ConvertChecksToRuntime
    : Pass<"convert-checks-to-runtime", "mlir::ModuleOp"> {
  let summary = "report failed run-time checks through the runtime";
  let description = [{
    Replaces each `cf.assert` and `moe.check` (the run-time checks of
    extents and indices that lowerings emit where shapes are only known at
    run time) by an `scf.if` that, when the condition is false, calls the
    runtime's `moec_check_failed(message, v0, v1, v2, v3)`. The runtime
    prints the message, which names the ONNX node, with the values of a
    `moe.check` in place of `{0}` ... `{3}`, to stderr and exits with status
    1 (bad input), where upstream's lowering would print to stdout and
    abort. Only the module's functions are visited: kernels in a
    `gpu.module` report failed checks their own way.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::func::FuncDialect",
    "mlir::LLVM::LLVMDialect", "mlir::scf::SCFDialect"
  ];
}

#endif // MOEC_PASSES_CONVERSION_PASSES_TD
