//===- QuantizeLinears.cpp - Round-to-nearest dense layers ----------------===//
//
// Quantizes the weight of every dense layer the importer marked with a
// quantizable role (LinearRoles.h) and replaces the layer by a
// moe.grouped_matmul of one expert over all rows, on a moe.packed_weight:
// the kernels of quantized experts then run the attention projections, the
// dense and shared MLPs and the LM head too.
//
//===----------------------------------------------------------------------===//

#include "passes/Quant/Passes.h"

#include "passes/Quant/PackWeights.h"
#include "passes/Quant/QuantPolicy.h"
#include "passes/Sparsity/ExpertLayers.h"

#include "dialects/decoder/IR/DecoderOps.h"
#include "dialects/decoder/IR/LinearRoles.h"
#include "dialects/moe/IR/MoeOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <map>

namespace moec {
#define GEN_PASS_DEF_MOEQUANTIZELINEARS
#include "passes/Quant/Passes.h.inc"
} // namespace moec

using namespace mlir;
using namespace moec;

/// Whether `init` is a tensor of zeros (linalg.fill of 0.0).
static bool isZeros(Value init) {
  auto fill = init.getDefiningOp<linalg::FillOp>();
  return fill && matchPattern(fill.getInputs()[0], m_AnyZeroFloat());
}

namespace {
/// What the report says of one role.
struct RoleTotals {
  int64_t tensors = 0, before = 0, after = 0;
  double worstSqnr = INFINITY;
};

struct MoeQuantizeLinearsPass
    : public moec::impl::MoeQuantizeLinearsBase<MoeQuantizeLinearsPass> {
  using Base::Base;

  /// Replaces the dense layer `op` (x [T, K] times w [N, K], from zeros) by
  /// a grouped matmul on `w` quantized with `scheme`.
  LogicalResult quantize(linalg::GenericOp op, const QuantScheme &scheme,
                         RoleTotals &totals) {
    Value x = op.getDpsInputs()[0], w = op.getDpsInputs()[1];
    auto type = cast<RankedTensorType>(w.getType());
    int64_t n = type.getDimSize(0), k = type.getDimSize(1);
    if (!isZeros(op.getDpsInits()[0]))
      return op.emitOpError("a moec.linear layer must start from zeros");
    if (scheme.bits == 4 && k % 2 != 0)
      return op.emitOpError("cannot pack the weight ")
             << type << " as int4: K must be even (two codes per byte)";
    FailureOr<WeightData> data = readWeight(w, op);
    if (failed(data))
      return failure();
    std::optional<std::vector<float>> values =
        readFloats(data->bytes(), type.getElementType());
    if (!values || int64_t(values->size()) != type.getNumElements())
      return op.emitOpError("cannot read the weight ") << type << " as floats";
    OpBuilder b(op);
    Location loc = op.getLoc();
    QuantizedMatrix quantized;
    Value packed = packWeight(b, loc, *data, *values, 1, n, k,
                              type.getElementType(), scheme, quantized);
    // One group: rows 0 .. T of expert 0.
    Value count = tensor::DimOp::create(b, loc, x, 0);
    Value offsets = tensor::FromElementsOp::create(
        b, loc, RankedTensorType::get({2}, b.getI32Type()),
        ValueRange{arith::ConstantIntOp::create(b, loc, 0, 32),
                   arith::IndexCastOp::create(b, loc, b.getI32Type(), count)});
    auto product = moe::GroupedMatmulOp::create(b, loc, x, packed, offsets);
    product->setAttr(decoder::kLinearRoleAttr,
                     op->getAttr(decoder::kLinearRoleAttr));
    op->getResult(0).replaceAllUsesWith(product.getOutput());
    op.erase();
    // A tied table the LM head no longer reads: an embedding reads a row
    // of it per token (the binary's bandwidth report counts that much).
    Operation *table = w.getDefiningOp();
    if (table && !table->use_empty() &&
        llvm::all_of(table->getUsers(), [](Operation *user) {
          return isa<decoder::EmbeddingOp>(user);
        }))
      table->setAttr("moec.routed_fraction", b.getF64FloatAttr(1.0 / n));
    ++totals.tensors;
    totals.before += int64_t(data->bytes().size());
    totals.after += weightBytes(packed);
    totals.worstSqnr = std::min(totals.worstSqnr, quantized.sqnrDb());
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<QuantChoice> parsed =
        parseSchemeOption(module, "moe-quantize-linears", scheme);
    if (failed(parsed))
      return signalPassFailure();
    QuantChoice fallback = *parsed;
    // Each quantizable role's choice: the policy's, else the scheme for
    // the roles listed.
    std::map<std::string, QuantChoice> choices;
    SmallVector<StringRef> listed;
    StringRef(roles).split(listed, ',', -1, /*KeepEmpty=*/false);
    for (StringRef role : listed) {
      role = role.trim();
      if (role == "none")
        continue;
      if (!llvm::is_contained(decoder::kQuantizableRoles, role)) {
        module.emitError("moe-quantize-linears: unknown role '")
            << role << "' (expected attention, mlp, shared_expert, lm_head "
            << "or none)";
        return signalPassFailure();
      }
      choices[role.str()] = fallback;
    }
    if (!policy.empty()) {
      std::string error;
      std::optional<QuantPolicy> loaded = QuantPolicy::load(policy, error);
      if (!loaded) {
        module.emitError(error);
        return signalPassFailure();
      }
      for (const auto &[role, choice] : loaded->linears)
        choices[role] = choice;
    }
    SmallVector<std::pair<linalg::GenericOp, QuantScheme>> work;
    module.walk([&](linalg::GenericOp op) {
      auto role = op->getAttrOfType<StringAttr>(decoder::kLinearRoleAttr);
      if (!role)
        return;
      auto it = choices.find(role.getValue().str());
      if (it != choices.end() && it->second)
        work.push_back({op, *it->second});
    });
    std::map<std::string, RoleTotals> totals;
    for (auto &[op, quant] : work) {
      std::string key =
          op->getAttrOfType<StringAttr>(decoder::kLinearRoleAttr).str() + " " +
          quant.str();
      if (failed(quantize(op, quant, totals[key])))
        return signalPassFailure();
    }
    if (!report)
      return;
    for (const auto &[key, t] : totals)
      reportLine("moe-quantize-linears",
                 llvm::formatv("{0}: {1} tensors, {2} -> {3}, SQNR >= {4:f1} "
                               "dB",
                               key, t.tensors, formatBytes(t.before),
                               formatBytes(t.after), t.worstSqnr));
  }
};
} // namespace
