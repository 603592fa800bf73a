//===- SkipExperts.cpp - Drop low-weight choices at run time --------------===//
//
// Inserts moe.skip_experts before every moe.experts. The threshold is one
// beta for all layers, or per layer the beta that skips a given share of
// the non-top choices on a routing profile.
//
//===----------------------------------------------------------------------===//

#include "passes/Sparsity/Passes.h"

#include "passes/Sparsity/ExpertLayers.h"

#include "llvm/Support/FormatVariadic.h"

namespace moec {
#define GEN_PASS_DEF_MOESKIPEXPERTS
#include "passes/Sparsity/Passes.h.inc"
} // namespace moec

using namespace mlir;
using namespace moec;

/// The share of a layer's non-top choices whose weight ratio to the top
/// weight is below `beta` (a bin edge), from the profile's histograms.
static double skippedShare(const rt::LayerProfile &layer, int64_t edgeBin) {
  int64_t below = 0, all = 0;
  for (int64_t r = 0; r + 1 < layer.topK; ++r)
    for (int64_t bin = 0; bin < rt::kRatioBins; ++bin) {
      int64_t count = layer.ratioHistogram[r * rt::kRatioBins + bin];
      all += count;
      below += bin < edgeBin ? count : 0;
    }
  return all ? double(below) / double(all) : 0.0;
}

/// The largest histogram edge at which at most `fraction` of the non-top
/// choices are skipped, as (beta, measured share).
static std::pair<double, double> betaForShare(const rt::LayerProfile &layer,
                                              double fraction) {
  int64_t edge = 0;
  while (edge < rt::kRatioBins &&
         skippedShare(layer, edge + 1) <= fraction + 1e-12)
    ++edge;
  return {double(edge) / double(rt::kRatioBins), skippedShare(layer, edge)};
}

namespace {
struct MoeSkipExpertsPass
    : public moec::impl::MoeSkipExpertsBase<MoeSkipExpertsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    bool fixed = beta >= 0;
    if (fixed == !profile.empty() || (fixed && beta > 1) || skipFraction < 0 ||
        skipFraction > 1) {
      module.emitError("moe-skip-experts needs either beta=B (0 <= B <= 1) "
                       "or profile=FILE with skip-fraction in [0, 1]");
      return signalPassFailure();
    }
    SmallVector<MoeLayer> layers = collectMoeLayers(module);
    rt::RoutingProfile measured;
    if (!fixed) {
      FailureOr<rt::RoutingProfile> loaded =
          loadRoutingProfile(profile, module, layers);
      if (failed(loaded))
        return signalPassFailure();
      measured = std::move(*loaded);
    }
    for (MoeLayer layer : layers) {
      double layerBeta = beta;
      std::string share;
      if (!fixed) {
        auto [chosen, skipped] =
            betaForShare(measured.layers[layer.index], skipFraction);
        layerBeta = chosen;
        share = ", skips " + llvm::formatv("{0:F1}", 100.0 * skipped).str() +
                "% of non-top choices on the profile";
      }
      if (layerBeta <= 0) {
        if (report)
          reportLine(getArgument(), "layer " + Twine(layer.index) +
                                        ": nothing to skip" + share);
        continue;
      }
      moe::ExpertsOp experts = layer.experts;
      bool renormalize = layer.router && layer.router.getNormalize();
      OpBuilder b(experts);
      auto skip = moe::SkipExpertsOp::create(
          b, experts.getLoc(), experts.getRoutingWeights().getType(),
          experts.getExpertIds().getType(), experts.getRoutingWeights(),
          experts.getExpertIds(), b.getF64FloatAttr(layerBeta),
          renormalize ? b.getUnitAttr() : UnitAttr());
      experts.getRoutingWeightsMutable().assign(skip.getNewWeights());
      experts.getExpertIdsMutable().assign(skip.getNewIds());
      if (report)
        reportLine(getArgument(),
                   "layer " + Twine(layer.index) + ": beta " +
                       llvm::formatv("{0:F2}", layerBeta).str() +
                       (renormalize ? ", renormalised" : ", not renormalised") +
                       share);
    }
  }
};
} // namespace
