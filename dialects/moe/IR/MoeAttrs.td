//===- MoeAttrs.td - moe dialect enums and attributes ------*- tablegen -*-===//

#ifndef MOEC_DIALECTS_MOE_IR_MOEATTRS_TD
#define MOEC_DIALECTS_MOE_IR_MOEATTRS_TD

include "dialects/moe/IR/MoeDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Moe_RouterScoring : I32EnumAttr<"RouterScoring",
    "how a router turns logits into routing weights", [
  // p = softmax(logits) over all experts; select the top-k of p.
  I32EnumAttrCase<"Softmax", 0, "softmax">,
  // p = sigmoid(logits) per expert; select the top-k of p.
  I32EnumAttrCase<"Sigmoid", 1, "sigmoid">,
  // Select the top-k logits, then softmax over those k values (GPT-OSS).
  I32EnumAttrCase<"SoftmaxAfterTopK", 2, "softmax_after_topk">
]> {
  let cppNamespace = "::moec::moe";
  let genSpecializedAttr = 0;
}
def Moe_RouterScoringAttr : EnumAttr<Moe_Dialect, Moe_RouterScoring, "scoring">;

def Moe_GroupScore : I32EnumAttr<"GroupScore",
    "how group-limited routing scores a group of experts", [
  // The group's best expert score (DeepSeek-V2 group_limited_greedy).
  I32EnumAttrCase<"Max", 0, "max">,
  // The sum of the group's two best selection scores (DeepSeek-V3 noaux_tc).
  I32EnumAttrCase<"SumTop2", 1, "sum_top2">
]> {
  let cppNamespace = "::moec::moe";
  let genSpecializedAttr = 0;
}

def Moe_ActivationKind : I32EnumAttr<"ActivationKind",
    "the nonlinearity of an expert FFN", [
  // silu(gate) * up.
  I32EnumAttrCase<"SiluGated", 0, "silu_gated">,
  // clamp(g, max=limit) * sigmoid(alpha * clamp(g, max=limit))
  //   * (clamp(u, -limit, limit) + beta).
  I32EnumAttrCase<"Swiglu", 1, "swiglu">,
  // gelu(x) with the exact erf form.
  I32EnumAttrCase<"Gelu", 2, "gelu">,
  // gelu(x) with the tanh approximation.
  I32EnumAttrCase<"GeluTanh", 3, "gelu_tanh">,
  I32EnumAttrCase<"Relu", 4, "relu">,
  I32EnumAttrCase<"Identity", 5, "identity">
]> {
  let cppNamespace = "::moec::moe";
  let genSpecializedAttr = 0;
}

def Moe_GateUpLayout : I32EnumAttr<"GateUpLayout",
    "how gate and up projections share one fused weight", [
  // Rows alternate: row 2j is gate_j, row 2j+1 is up_j (GPT-OSS, ORT
  // swiglu_fusion=1).
  I32EnumAttrCase<"Interleaved", 0, "interleaved">,
  // The first half of the rows is gate, the second half up (transformers
  // v5 gate_up_proj, ORT swiglu_fusion=2).
  I32EnumAttrCase<"Concatenated", 1, "concatenated">
]> {
  let cppNamespace = "::moec::moe";
  let genSpecializedAttr = 0;
}
def Moe_GateUpLayoutAttr : EnumAttr<Moe_Dialect, Moe_GateUpLayout, "layout">;

def Moe_PackedFormat : I32EnumAttr<"PackedFormat",
    "the encoding of one packed weight element", [
  I32EnumAttrCase<"Sint2", 0, "sint2">,
  I32EnumAttrCase<"Sint4", 1, "sint4">,
  I32EnumAttrCase<"Sint8", 2, "sint8">,
  I32EnumAttrCase<"Uint2", 3, "uint2">,
  I32EnumAttrCase<"Uint4", 4, "uint4">,
  I32EnumAttrCase<"Uint8", 5, "uint8">,
  // FP4 E2M1 (MXFP4 elements).
  I32EnumAttrCase<"E2M1", 6, "e2m1">,
  // FP8 E4M3FN (DeepSeek-V3 and Kimi-K2 block-scaled weights).
  I32EnumAttrCase<"E4M3FN", 7, "e4m3fn">,
  I32EnumAttrCase<"E5M2", 8, "e5m2">
]> {
  let cppNamespace = "::moec::moe";
  let genSpecializedAttr = 0;
}

def Moe_PackingOrder : I32EnumAttr<"PackingOrder",
    "which bits of a byte hold the first of several packed elements", [
  // The first element sits in the least significant bits (MatMulNBits,
  // QMoE, MXFP4).
  I32EnumAttrCase<"LowFirst", 0, "low_first">,
  I32EnumAttrCase<"HighFirst", 1, "high_first">
]> {
  let cppNamespace = "::moec::moe";
  let genSpecializedAttr = 0;
}

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

class Moe_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Moe_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def Moe_GroupLimitAttr : Moe_Attr<"GroupLimit", "group_limit"> {
  let summary = "group-limited expert selection";
  let description = [{
    Experts are split into `n_group` equal, contiguous groups. Each group is
    scored (`max`: its best selection score; `sum_top2`: the sum of its two
    best), only the `topk_group` best groups stay eligible, and top-k then
    selects among their experts. DeepSeek-V2 uses `max`, DeepSeek-V3 and
    Kimi-K2 `sum_top2`.

    Without `fill`, the experts of dropped groups are ineligible. With
    `fill`, their selection score becomes that value and they still compete:
    Hugging Face's DeepSeek-V3 writes `masked_fill(~mask, 0.0)`, so a dropped
    expert at 0.0 beats an eligible one whose biased score is negative.

    ```mlir
    #moe.group_limit<n_group = 8, topk_group = 4, score = sum_top2>
    #moe.group_limit<n_group = 8, topk_group = 4, score = sum_top2,
                     fill = 0.000000e+00 : f64>
    ```
  }];
  let parameters = (ins "int64_t":$n_group, "int64_t":$topk_group,
                        EnumParameter<Moe_GroupScore>:$score,
                        OptionalParameter<"::mlir::FloatAttr">:$fill);
  let builders = [
    AttrBuilder<(ins "int64_t":$n_group, "int64_t":$topk_group,
                     "GroupScore":$score), [{
      return $_get($_ctxt, n_group, topk_group, score, ::mlir::FloatAttr());
    }]>
  ];
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Moe_ActivationAttr : Moe_Attr<"Activation", "activation"> {
  let summary = "the nonlinearity of an expert FFN";
  let description = [{
    `silu_gated`, `swiglu`: gated; they combine a gate and an up projection.
    `swiglu` computes, with `g` the gate and `u` the up projection,
    `clamp(g, max=limit) * sigmoid(alpha * clamp(g, max=limit)) *
    (clamp(u, -limit, limit) + beta)`; without `limit` nothing is clamped.
    `silu_gated` is `swiglu` with alpha 1, beta 0 and no limit, and is the
    canonical spelling of it.

    `gelu` (erf), `gelu_tanh`, `relu`, `identity`: ungated, elementwise.

    ```mlir
    #moe.activation<silu_gated>
    #moe.activation<swiglu, alpha = 1.702, beta = 1.0, limit = 7.0>
    #moe.activation<gelu>
    ```

    Ops print it inline, without the attribute prefix:
    `activation swiglu<alpha = 1.702, beta = 1.0, limit = 7.0>`.
  }];
  let parameters = (ins
    EnumParameter<Moe_ActivationKind>:$kind,
    DefaultValuedParameter<"::llvm::APFloat", "::llvm::APFloat(1.0)">:$alpha,
    DefaultValuedParameter<"::llvm::APFloat", "::llvm::APFloat(0.0)">:$beta,
    OptionalParameter<"std::optional<::llvm::APFloat>">:$limit
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let builders = [
    AttrBuilder<(ins "ActivationKind":$kind), [{
      return $_get($_ctxt, kind, ::llvm::APFloat(1.0), ::llvm::APFloat(0.0),
                   std::nullopt);
    }]>
  ];
  let extraClassDeclaration = [{
    /// Whether the activation combines a gate and an up projection.
    bool isGated() const;
    /// The canonical spelling: swiglu with alpha 1, beta 0 and no limit is
    /// silu_gated.
    ActivationAttr getCanonical() const;
    /// The inline form ops use: `kind` or `kind<name = value, ...>`.
    static ActivationAttr parseInline(::mlir::AsmParser &parser);
    void printInline(::mlir::AsmPrinter &printer) const;
  }];
}

def Moe_PackingAttr : Moe_Attr<"Packing", "packing"> {
  let summary = "how a quantized weight is packed into bytes";
  let description = [{
    Describes a weight stored as packed bytes with block scales:

    * `format`: the element encoding (`sint2|4|8`, `uint2|4|8`, `e2m1`,
      `e4m3fn`, `e5m2`), which fixes the bits per element;
    * `block`: the block shape, one entry per dimension of the logical
      weight. Each block shares one scale (and zero point), so the scales
      have shape `ceildiv(dim, block)` per dimension: `[1, 1, 32]` is a
      K-group of 32 on an `[E, N, K]` weight, `[1, 1, K]` one scale per
      output channel, `[1, 128, 128]` the FP8 128x128 blocks of DeepSeek-V3;
    * `scale`: the scale element type (f32, f16, bf16, or f8E8M0FNU for
      MXFP4's power-of-two scales);
    * `zero_point`: the zero point element type, absent for symmetric
      schemes and float formats; an integer type, or a float type for
      formats such as llama.cpp's Q4_K whose offsets are not integral;
    * `order`: for sub-byte formats, whether the first of the elements
      sharing a byte sits in its low or its high bits (default `low_first`).

    Only the innermost dimension is packed: the byte tensor has the logical
    shape with its last dimension `K` replaced by `K * bits / 8`. A value of
    element `q` with scale `s` and zero point `z` dequantizes to
    `(q - z) * s` (integers) or `decode(q) * s` (float formats).

    ```mlir
    #moe.packing<uint4, block = [1, 1, 32], scale = f16, zero_point = ui8>
    #moe.packing<e2m1, block = [1, 1, 32], scale = f8E8M0FNU>
    #moe.packing<e4m3fn, block = [1, 128, 128], scale = f32>
    ```
  }];
  let parameters = (ins
    EnumParameter<Moe_PackedFormat>:$format,
    ArrayRefParameter<"int64_t">:$block,
    "::mlir::Type":$scale,
    OptionalParameter<"::mlir::Type">:$zero_point,
    DefaultValuedParameter<"PackingOrder", "PackingOrder::LowFirst">:$order
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Bits per packed element: 2, 4 or 8.
    unsigned getBits() const;
    bool isIntegerFormat() const;
  }];
}

#endif // MOEC_DIALECTS_MOE_IR_MOEATTRS_TD
