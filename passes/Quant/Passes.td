//===- Passes.td - moec quantization passes ----------------*- tablegen -*-===//

#ifndef MOEC_PASSES_QUANT_PASSES_TD
#define MOEC_PASSES_QUANT_PASSES_TD

include "mlir/Pass/PassBase.td"

def MoeQuantizeWeights : Pass<"moe-quantize-weights", "mlir::ModuleOp"> {
  let summary = "weight-only round-to-nearest quantization of expert weights";
  let description = [{
    Replaces every float expert weight of every `moe.experts` (gate_up,
    gate, up, down; `[E, N, K]`) by a `moe.packed_weight` of packed codes
    and block scales, computed at compile time with round-to-nearest:

    * `scheme=int8`: one f32 scale per output channel (`block = [1, 1, K]`),
      codes `round(w / s)` in [-127, 127], `s = max|w| / 127`;
    * `scheme=int4-g32|int4-g64|int4-g128`: one f16 scale per group of 32,
      64 or 128 consecutive K elements of an output channel (`block = [1, 1,
      G]`), codes in [-8, 7], `s = max|w| / 7`, two codes per byte, the
      first in the low nibble;
    * `,asym` after either: unsigned codes with a u8 zero point per group,
      `s = (max(w, 0) - min(w, 0)) / (2^bits - 1)`, `z = round(-min / s)`.

    Rounding is half away from zero; the scale is rounded to its stored type
    before the codes are computed. When K is not a multiple of the group,
    the last group is short: it is quantized as if padded with zeros (its
    scale comes from the elements present) and costs no padding bytes. int4
    needs an even K. The router, biases and dense weights stay in float.
    The quantized bytes replace the float ones: the binary carries no
    float copy. With `report`, prints each tensor's signal-to-quantization
    noise ratio (SQNR, dB) and the bytes saved.

    With `awq-profile` (a routing profile from `moec --profile-routing`,
    whose sidecar holds each expert's mean |input| and mean |down input|),
    activation-aware scales are folded in before rounding, as AutoAWQ does
    for MoE layers: W x = (W diag(s)) (x / s), with s = a^alpha per input
    channel (a the mean |x|, normalised to max(s) * min(s) = 1) and alpha
    searched on a grid of 0, 0.05, ..., 1 for the least expected output
    error sum_k a_k^2 (Q(W s) / s - W)_k^2 (alpha = 0 is plain RTN):

    * down: per expert, from its down inputs; 1/s goes into the up
      projection's rows, exact when the activation is linear in up
      (gated without beta or limit, ReLU, identity) and up has no bias,
      else down stays RTN;
    * gate and up: one s for all of the layer's experts (their input is
      shared), from the statistics pooled over the experts; 1/s multiplies
      the experts' input at run time.

    Experts routed fewer than `awq-min-tokens` tokens in the profile keep
    RTN for down and are left out of the gate/up statistics; the report
    lists them.

    With `policy` (QuantPolicy.h, docs/quantization.md), each expert gets
    its own scheme, or fp32, from a JSON file: per layer, per expert, or
    for the most routed share of experts in a routing profile ("hot").
    `scheme` is then the default for experts the policy does not name (an
    empty `scheme` leaves them in float). A layer whose experts differ is
    split into one `moe.experts` per choice, each behind a
    `moe.remap_experts` that keeps only its experts' choices, and the
    outputs are added.

    ```
    moec-opt model.mlir --moe-quantize-weights="scheme=int4-g64,asym report"
    moec-opt model.mlir --moe-quantize-weights="scheme=int4-g32 awq-profile=p.json report"
    ```
  }];
  let options = [
    Option<"scheme", "scheme", "std::string", "\"int4-g128\"",
           "int8 | int4-g32 | int4-g64 | int4-g128, optionally ,asym">,
    Option<"policy", "policy", "std::string", "\"\"",
           "mixed-precision policy (JSON): a scheme per layer and expert">,
    Option<"awqProfile", "awq-profile", "std::string", "\"\"",
           "routing profile (JSON) for activation-aware scales">,
    Option<"awqMinTokens", "awq-min-tokens", "int64_t", "16",
           "experts routed fewer tokens keep round-to-nearest">,
    Option<"report", "report", "bool", "false",
           "print per-tensor SQNR and bytes saved">
  ];
  let dependentDialects = ["moec::moe::MoeDialect",
                           "mlir::arith::ArithDialect",
                           "mlir::linalg::LinalgDialect",
                           "mlir::tensor::TensorDialect"];
}

def MoeQuantizeLinears : Pass<"moe-quantize-linears", "mlir::ModuleOp"> {
  let summary = "weight-only round-to-nearest quantization of dense layers";
  let description = [{
    Quantizes the weights of the dense layers the checkpoint importer marks
    with a `moec.linear` role (dialects/decoder/IR/LinearRoles.h):
    `attention` (q, k, v, o and MLA's projections), `mlp` (the MLP of a
    layer without experts), `shared_expert` and `lm_head`. The router and
    Qwen2-MoE's shared-expert gate (role `router`) and the embedding table
    stay as stored. Schemes, codes and scales are those of
    `moe-quantize-weights`; each layer `x [T, K] * W[N, K]^T` becomes a
    `moe.grouped_matmul` of one expert over all T rows on a
    `moe.packed_weight` of `[1, N, K]`, so the quantized-expert kernels
    (and `moe-quantize-activations`) apply to it.

    `roles` lists the roles `scheme` applies to (`none` for no role); a
    policy's `linears` object (docs/quantization.md) gives a role its own
    scheme or `fp32` (left as stored) and wins. A tied LM head is quantized
    as a copy: the embedding keeps reading the stored table. With `report`,
    prints per role the tensors, bytes and the worst tensor's SQNR.

    ```
    moec-opt model.mlir --moe-quantize-linears="scheme=int8 roles=attention,lm_head report"
    ```
  }];
  let options = [
    Option<"scheme", "scheme", "std::string", "\"\"",
           "int8 | int4-g32 | int4-g64 | int4-g128, optionally ,asym">,
    Option<"roles", "roles", "std::string",
           "\"attention,mlp,shared_expert,lm_head\"",
           "the roles `scheme` quantizes, comma-separated, or none">,
    Option<"policy", "policy", "std::string", "\"\"",
           "a quantization policy (JSON) whose \"linears\" win">,
    Option<"report", "report", "bool", "false",
           "print per role the bytes saved and the worst SQNR">
  ];
  let dependentDialects = ["moec::moe::MoeDialect",
                           "mlir::arith::ArithDialect",
                           "mlir::tensor::TensorDialect"];
}

def MoeQuantizeActivations
    : Pass<"moe-quantize-activations", "mlir::ModuleOp"> {
  let summary = "int8 activations for grouped matmuls on packed integer weights";
  let description = [{
    Marks every `moe.grouped_matmul` whose weight is packed in an integer
    format with `moec.int8_activations`: its rows are quantized at run
    time to int8 with one scale per row, `s = max|x| / 127`, codes
    `round(x / s)` (to nearest, ties to even), and the products are summed in
    integers before the weight and row scales are applied. Targets with
    int8 dot-product instructions (docs/targets.md: the CPU target) run
    these matmuls on them; every lowering computes the same values. Matmuls on
    float weights are left alone.
  }];
  let dependentDialects = ["moec::moe::MoeDialect"];
}

#endif // MOEC_PASSES_QUANT_PASSES_TD
