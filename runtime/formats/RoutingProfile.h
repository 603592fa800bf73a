//===- RoutingProfile.h - What an instrumented binary measures -*- C++ -*-===//
//
// A routing profile: per MoE layer and expert, how often the router picks
// it, with what weight, how much its output matters (REAP saliency), which
// experts it is picked with, and how the weights of a token's choices
// compare; a safetensors sidecar holds per-expert means of the expert's
// output and of |input| per channel. Everything is kept as sums, so
// profiles of several calibration runs merge by addition. The binary writes
// profiles; the compiler's sparsity passes and `moec profile merge` read
// them. docs/sparsity.md documents the files.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_RUNTIME_FORMATS_ROUTINGPROFILE_H
#define MOEC_RUNTIME_FORMATS_ROUTINGPROFILE_H

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

namespace moec::rt {

/// Histogram bins of a weight ratio over [0, 1].
constexpr int64_t kRatioBins = 20;

/// Expert indices by decreasing value of `perExpert` (any indexable range,
/// e.g. routed counts or shares), the lower index first on ties.
template <typename Range>
std::vector<int64_t> rankExperts(const Range &perExpert) {
  std::vector<int64_t> order(perExpert.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return perExpert[a] > perExpert[b];
  });
  return order;
}

struct LayerProfile {
  int64_t experts = 0, topK = 0, hidden = 0, intermediate = 0;
  /// Tokens seen.
  int64_t tokens = 0;
  /// Per expert: tokens routed to it, and sums over them of the routing
  /// weight and of weight * ||expert output||_2.
  std::vector<int64_t> routed;
  std::vector<double> weightSum, saliencySum;
  /// [E, E]: tokens that picked both experts (symmetric; the diagonal is
  /// `routed`).
  std::vector<int64_t> coselected;
  /// For r = 1 .. k-1, the ratio of a token's (r+1)-th largest weight to its
  /// largest: sum, min, max over tokens, and a histogram of kRatioBins bins
  /// over [0, 1]; index r - 1.
  std::vector<double> ratioSum, ratioMin, ratioMax;
  std::vector<int64_t> ratioHistogram;
  /// Sidecar, as sums over the routed tokens: [E, H] expert output,
  /// [E, H] |expert input|, [E, I] |down projection input|.
  std::vector<double> outputSum, inputAbsSum, hiddenAbsSum;

  /// Sizes every statistic for the given shape, all zero; the sidecar's
  /// [E, H] and [E, I] sums only with `allocateMeans` (a reader sizes them
  /// once the file shows it holds them).
  void reset(int64_t numExperts, int64_t topK, int64_t hidden,
             int64_t intermediate, bool allocateMeans = true);
  /// Adds one token's choices: expert ids and weights, k of each.
  void addRouting(const int32_t *ids, const float *weights);
  /// Adds one routed (token, expert) row: the expert's input, its hidden
  /// activation and its output, and the routing weight.
  void addExpertRow(int64_t expert, float weight, const float *input,
                    const float *hiddenRow, const float *output);
};

struct RoutingProfile {
  /// The model the profile was measured on.
  std::string model;
  std::vector<LayerProfile> layers;
};

/// The sidecar beside a profile: PATH with .json replaced by .safetensors.
std::string profileSidecarPath(const std::string &path);

/// Writes the JSON profile at `path` and its sidecar, each atomically.
bool writeRoutingProfile(const RoutingProfile &profile, const std::string &path,
                         std::string &error);
/// Reads a profile and its sidecar; an error names the file and the field.
bool readRoutingProfile(const std::string &path, RoutingProfile &profile,
                        std::string &error);
/// Adds `other` into `into`; both must describe the same layers.
bool mergeRoutingProfiles(RoutingProfile &into, const RoutingProfile &other,
                          std::string &error);

} // namespace moec::rt

#endif // MOEC_RUNTIME_FORMATS_ROUTINGPROFILE_H
