//===- PruneExperts.cpp - Remove experts a routing profile rates low ------===//
//
// Scores come from the profile (frequency or REAP saliency), are
// normalised per layer into shares, and select the experts to keep. The
// layer then loses the others entirely: new weight stacks, a sliced router.
//
//===----------------------------------------------------------------------===//

#include "passes/Sparsity/Passes.h"

#include "passes/Sparsity/ExpertLayers.h"
#include "passes/Sparsity/ExpertWeights.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

#include <cmath>
#include <numeric>

namespace moec {
#define GEN_PASS_DEF_MOEPRUNEEXPERTS
#include "passes/Sparsity/Passes.h.inc"
} // namespace moec

using namespace mlir;
using namespace moec;

/// Each expert's share of its layer's score.
static std::vector<double> scoreShares(const rt::LayerProfile &layer,
                                       bool saliency) {
  std::vector<double> scores(layer.experts);
  for (int64_t e = 0; e < layer.experts; ++e)
    scores[e] = saliency ? (layer.routed[e]
                                ? layer.saliencySum[e] / double(layer.routed[e])
                                : 0.0)
                         : double(layer.routed[e]);
  double total = std::accumulate(scores.begin(), scores.end(), 0.0);
  for (double &score : scores)
    score = total > 0 ? score / total : 1.0 / double(layer.experts);
  return scores;
}

namespace {
struct MoePruneExpertsPass
    : public moec::impl::MoePruneExpertsBase<MoePruneExpertsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    int modes = (keep > 0) + (threshold > 0) + (budget > 0);
    if (profile.empty() || modes != 1 || keep < 0 || threshold < 0 ||
        budget < 0 || budget > 1 ||
        (metric != "frequency" && metric != "saliency")) {
      module.emitError("moe-prune-experts needs profile=FILE and exactly one "
                       "of keep=N, threshold=X (0 < X), budget=F (0 < F <= "
                       "1); metric is frequency or saliency");
      return signalPassFailure();
    }
    SmallVector<MoeLayer> layers = collectMoeLayers(module);
    FailureOr<rt::RoutingProfile> measured =
        loadRoutingProfile(profile, module, layers);
    if (failed(measured))
      return signalPassFailure();

    std::vector<std::vector<double>> shares;
    for (const rt::LayerProfile &layer : measured->layers)
      shares.push_back(scoreShares(layer, metric == "saliency"));
    std::vector<SmallVector<int64_t>> kept = chooseExperts(layers, shares);

    int64_t removedExperts = 0, totalExperts = 0, savedBytes = 0;
    for (MoeLayer layer : layers) {
      int64_t experts = layer.experts.getNumExperts();
      totalExperts += experts;
      SmallVector<int64_t> &keepHere = kept[layer.index];
      if (int64_t(keepHere.size()) == experts)
        continue;
      if (!layer.direct || layer.router.getGroups()) {
        if (report)
          reportLine(getArgument(),
                     "layer " + Twine(layer.index) + ": left alone (" +
                         (layer.direct ? "group-limited routing"
                                       : "no router, or its choices were "
                                         "edited before pruning") +
                         ")");
        continue;
      }
      int64_t before = expertBytes(layer.experts);
      OpBuilder b(layer.experts);
      if (failed(restrictRouter(layer.router, keepHere)) ||
          failed(rebuildExpertStacks(layer.experts, [&](Value stack) {
            return gatherWeight(b, stack, 0, keepHere, layer.experts);
          })))
        return signalPassFailure();
      int64_t saved = before - expertBytes(layer.experts);
      savedBytes += saved;
      removedExperts += experts - int64_t(keepHere.size());
      if (report) {
        SmallVector<std::string> removed;
        for (int64_t e = 0; e < experts; ++e)
          if (!llvm::is_contained(keepHere, e))
            removed.push_back(std::to_string(e));
        reportLine(getArgument(), "layer " + Twine(layer.index) + ": kept " +
                                      Twine(keepHere.size()) + " of " +
                                      Twine(experts) + " experts, removed [" +
                                      llvm::join(removed, ", ") + "], " +
                                      formatBytes(saved) + " saved");
      }
    }
    if (report)
      reportLine(getArgument(), "removed " + Twine(removedExperts) + " of " +
                                    Twine(totalExperts) + " experts, " +
                                    formatBytes(savedBytes) + " of weights");
  }

  /// The experts each layer keeps, ascending; never fewer than top_k.
  std::vector<SmallVector<int64_t>>
  chooseExperts(ArrayRef<MoeLayer> layers,
                const std::vector<std::vector<double>> &shares) {
    std::vector<SmallVector<int64_t>> kept(layers.size());
    if (budget > 0) {
      // The best (share, layer, expert) triples across layers.
      std::vector<std::tuple<double, int64_t, int64_t>> all;
      for (MoeLayer layer : layers)
        for (auto [e, share] : llvm::enumerate(shares[layer.index]))
          all.emplace_back(share, layer.index, int64_t(e));
      llvm::stable_sort(all, [](const auto &a, const auto &b) {
        return std::get<0>(a) > std::get<0>(b);
      });
      int64_t count = int64_t(std::ceil(budget * double(all.size()) - 1e-9));
      for (const auto &[share, layer, e] :
           llvm::ArrayRef(all).take_front(count))
        kept[layer].push_back(e);
    }

    for (MoeLayer layer : layers) {
      ArrayRef<double> layerShares = shares[layer.index];
      std::vector<int64_t> order = rt::rankExperts(layerShares);
      int64_t topK = layer.experts.getExpertIds().getType().getDimSize(1);
      SmallVector<int64_t> &keepHere = kept[layer.index];
      if (keep > 0)
        keepHere.assign(order.begin(),
                        order.begin() + std::min<int64_t>(keep, order.size()));
      if (threshold > 0)
        for (int64_t e : order)
          if (layerShares[e] >= threshold)
            keepHere.push_back(e);
      // Never below top_k: add the best experts not yet kept.
      for (int64_t e : order)
        if (int64_t(keepHere.size()) < topK && !llvm::is_contained(keepHere, e))
          keepHere.push_back(e);
      llvm::sort(keepHere);
    }
    return kept;
  }
};
} // namespace
