//===- MoeDialect.td - The moe dialect ---------------------*- tablegen -*-===//
//
// The moe dialect: one representation for every way Mixture-of-Experts
// appears in the wild, from router to combine.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_DIALECTS_MOE_IR_MOEDIALECT_TD
#define MOEC_DIALECTS_MOE_IR_MOEDIALECT_TD

include "mlir/IR/OpBase.td"

def Moe_Dialect : Dialect {
  let name = "moe";
  let cppNamespace = "::moec::moe";
  let summary = "Mixture-of-Experts routing, expert computation and weights";
  let description = [{
    The `moe` dialect represents Mixture-of-Experts blocks independently of
    the framework or file format they came from. Every export form (fused
    contrib ops, gathered stacked weights, unrolled per-expert loops, dense
    masked fallbacks) is raised to the same two semantic ops:

    * `moe.router`: logits to (routing weights, expert ids), with every
      routing variant of current open-weight models (softmax or sigmoid
      scoring, softmax after top-k, renormalisation, scaling, a selection
      bias, group-limited selection);
    * `moe.experts`: the grouped expert FFN over stacked weights
      `[E, N, K]`, with the activation and gate/up layout of the model.

    Shared experts and dense layers are ordinary dense MLPs beside them.
    The target-independent sparse path rewrites `moe.experts` into
    `moe.dispatch` -> `moe.grouped_matmul` -> `moe.activation` ->
    `moe.grouped_matmul` -> `moe.combine`, so that only routed experts are
    computed.

    Weights are referenced, not embedded: `moe.weight "key"` names a tensor
    in the weight store, whose files the module lists in its
    `moe.weight_files` attribute. Quantized weights stay packed: a
    `!moe.packed` value bundles the packed bytes with their scales and zero
    points, and no op ever dequantizes a whole weight.
  }];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let hasOperationAttrVerify = 1;
  let extraClassDeclaration = [{
    /// The module attribute listing the safetensors files that hold the
    /// weights `moe.weight` ops refer to. Relative paths are relative to the
    /// directory of the IR file.
    static constexpr ::llvm::StringLiteral kWeightFilesAttrName =
        "moe.weight_files";

    /// The weight store of this context: one per MLIRContext, shared by all
    /// passes, so blobs a pass creates are visible to the next one.
    ::moec::WeightStore &getWeightStore() { return *weightStore; }

  private:
    void registerAttributes();
    void registerTypes();
    std::unique_ptr<::moec::WeightStore> weightStore;

  public:
  }];
}

class Moe_Op<string mnemonic, list<Trait> traits = []>
    : Op<Moe_Dialect, mnemonic, traits>;

#endif // MOEC_DIALECTS_MOE_IR_MOEDIALECT_TD
