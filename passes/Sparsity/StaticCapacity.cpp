//===- StaticCapacity.cpp - Fixed token slots per expert ------------------===//

#include "passes/Sparsity/Passes.h"

#include "passes/Sparsity/ExpertLayers.h"

#include <cmath>

namespace moec {
#define GEN_PASS_DEF_MOESTATICCAPACITY
#include "passes/Sparsity/Passes.h.inc"
} // namespace moec

using namespace mlir;
using namespace moec;

namespace {
struct MoeStaticCapacityPass
    : public moec::impl::MoeStaticCapacityBase<MoeStaticCapacityPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (!(capacityFactor > 0)) {
      module.emitError("moe-static-capacity needs capacity-factor > 0");
      return signalPassFailure();
    }
    IRRewriter rewriter(&getContext());
    for (MoeLayer layer : collectMoeLayers(module)) {
      moe::ExpertsOp experts = layer.experts;
      // The token count, also where an import cast it to dynamic.
      Value input = experts.getInput();
      while (auto cast = input.getDefiningOp<tensor::CastOp>())
        input = cast.getSource();
      int64_t tokens = cast<RankedTensorType>(input.getType()).getDimSize(0);
      int64_t k = experts.getExpertIds().getType().getDimSize(1);
      if (ShapedType::isDynamic(tokens) || ShapedType::isDynamic(k)) {
        experts.emitOpError("needs a static token count for a static "
                            "capacity (moec --input-shape)");
        return signalPassFailure();
      }
      int64_t numExperts = experts.getNumExperts();
      // At most `tokens` slots: a token picks an expert once.
      int64_t capacity = std::clamp<int64_t>(
          int64_t(std::ceil(
              capacityFactor * double(tokens * k) / double(numExperts) - 1e-9)),
          1, tokens);
      rewriteToSparseDispatch(rewriter, experts, capacity);
      if (report)
        reportLine(getArgument(), "layer " + Twine(layer.index) + ": " +
                                      Twine(capacity) +
                                      " slots per expert for " + Twine(tokens) +
                                      " x " + Twine(k) + " choices over " +
                                      Twine(numExperts) + " experts");
    }
  }
};
} // namespace
