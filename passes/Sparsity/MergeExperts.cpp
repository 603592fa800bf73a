//===- MergeExperts.cpp - Merge experts with similar mean outputs ---------===//
//
// Greedy agglomerative clustering of each layer's experts on the cosine
// similarity of their mean outputs (the profile's sidecar): a cluster's
// mean output is the frequency-weighted mean of its members'. Unused
// experts (no routed token, no mean) join anything first.
//
//===----------------------------------------------------------------------===//

#include "passes/Sparsity/Passes.h"

#include "passes/Sparsity/ExpertLayers.h"
#include "passes/Sparsity/ExpertWeights.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

namespace moec {
#define GEN_PASS_DEF_MOEMERGEEXPERTS
#include "passes/Sparsity/Passes.h.inc"
} // namespace moec

using namespace mlir;
using namespace moec;

namespace {
struct Cluster {
  SmallVector<int64_t> members;
  /// Sum of members' output sums, and of their routed counts.
  std::vector<double> outputSum;
  double routed = 0;
};
} // namespace

static double cosine(const Cluster &a, const Cluster &b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.outputSum.size(); ++i) {
    dot += a.outputSum[i] * b.outputSum[i];
    na += a.outputSum[i] * a.outputSum[i];
    nb += b.outputSum[i] * b.outputSum[i];
  }
  if (na == 0 || nb == 0)
    return 1.0;
  return dot / std::sqrt(na * nb);
}

/// Clusters of experts, each sorted, ordered by their first member.
static std::vector<Cluster> clusterExperts(const rt::LayerProfile &layer,
                                           int64_t keep, double similarity) {
  std::vector<Cluster> clusters(layer.experts);
  for (int64_t e = 0; e < layer.experts; ++e) {
    clusters[e].members = {e};
    clusters[e].outputSum.assign(layer.outputSum.begin() + e * layer.hidden,
                                 layer.outputSum.begin() +
                                     (e + 1) * layer.hidden);
    clusters[e].routed = double(layer.routed[e]);
  }
  while (int64_t(clusters.size()) > std::max<int64_t>(keep, 1)) {
    double best = -2;
    size_t bestA = 0, bestB = 1;
    for (size_t a = 0; a < clusters.size(); ++a)
      for (size_t b = a + 1; b < clusters.size(); ++b) {
        double s = cosine(clusters[a], clusters[b]);
        if (s > best) {
          best = s;
          bestA = a;
          bestB = b;
        }
      }
    if (keep == 0 && best < similarity)
      break;
    Cluster &into = clusters[bestA];
    Cluster &from = clusters[bestB];
    into.members.append(from.members);
    llvm::sort(into.members);
    for (size_t i = 0; i < into.outputSum.size(); ++i)
      into.outputSum[i] += from.outputSum[i];
    into.routed += from.routed;
    clusters.erase(clusters.begin() + bestB);
  }
  return clusters;
}

namespace {
struct MoeMergeExpertsPass
    : public moec::impl::MoeMergeExpertsBase<MoeMergeExpertsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    bool bySimilarity = similarity < 1.0;
    if (profile.empty() || (keep > 0) == bySimilarity || keep < 0 ||
        similarity < -1.0) {
      module.emitError("moe-merge-experts needs profile=FILE and one of "
                       "keep=N (N >= 1) or similarity=S (-1 <= S < 1)");
      return signalPassFailure();
    }
    SmallVector<MoeLayer> layers = collectMoeLayers(module);
    FailureOr<rt::RoutingProfile> measured =
        loadRoutingProfile(profile, module, layers);
    if (failed(measured))
      return signalPassFailure();
    int64_t savedBytes = 0;
    for (MoeLayer layer : layers) {
      const rt::LayerProfile &stats = measured->layers[layer.index];
      std::vector<Cluster> clusters = clusterExperts(stats, keep, similarity);
      int64_t experts = layer.experts.getNumExperts();
      if (int64_t(clusters.size()) == experts)
        continue;
      if (!layer.direct) {
        layer.experts.emitOpError("takes edited or unknown routing choices; "
                                  "merge experts before other edits");
        return signalPassFailure();
      }
      // Member shares: frequency within the cluster (even if none routed).
      std::vector<double> share(experts);
      SmallVector<SmallVector<int64_t>> groups;
      SmallVector<int32_t> map(experts);
      for (auto [m, cluster] : llvm::enumerate(clusters)) {
        for (int64_t e : cluster.members) {
          share[e] = cluster.routed > 0
                         ? double(stats.routed[e]) / cluster.routed
                         : 1.0 / double(cluster.members.size());
          map[e] = int32_t(m);
        }
        groups.push_back(cluster.members);
      }
      int64_t before = expertBytes(layer.experts);
      OpBuilder b(layer.experts);
      if (failed(rebuildExpertStacks(layer.experts, [&](Value stack) {
            return mergeWeight(b, stack, groups, share, layer.experts);
          })))
        return signalPassFailure();
      moe::ExpertsOp layerExperts = layer.experts;
      auto remap = moe::RemapExpertsOp::create(
          b, layerExperts.getLoc(), layerExperts.getRoutingWeights().getType(),
          layerExperts.getExpertIds().getType(),
          layerExperts.getRoutingWeights(), layerExperts.getExpertIds(),
          b.getDenseI32ArrayAttr(map));
      layerExperts.getRoutingWeightsMutable().assign(remap.getNewWeights());
      layerExperts.getExpertIdsMutable().assign(remap.getNewIds());
      int64_t saved = before - expertBytes(layerExperts);
      savedBytes += saved;
      if (report) {
        SmallVector<std::string> merged;
        for (const Cluster &cluster : clusters)
          if (cluster.members.size() > 1)
            merged.push_back(
                "[" +
                llvm::join(llvm::map_range(
                               cluster.members,
                               [](int64_t e) { return std::to_string(e); }),
                           ", ") +
                "]");
        reportLine(getArgument(),
                   "layer " + Twine(layer.index) + ": " + Twine(experts) +
                       " -> " + Twine(clusters.size()) + " experts, merged " +
                       llvm::join(merged, " ") + ", " + formatBytes(saved) +
                       " saved");
      }
    }
    if (report)
      reportLine(getArgument(), formatBytes(savedBytes) + " of weights saved");
  }
};
} // namespace
