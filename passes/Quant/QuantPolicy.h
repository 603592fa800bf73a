//===- QuantPolicy.h - Mixed-precision choices per layer and expert -*- C++
//-*-===//
//
// A JSON policy that picks each expert's scheme:
//
//   {
//     "default": "int4-g128",
//     "layers":  {"1": "int8"},
//     "experts": {"0": {"3": "int8", "5": "fp32"}},
//     "hot":     {"profile": "profile.json", "fraction": 0.25,
//                 "scheme": "int8"},
//     "linears": {"attention": "int8", "lm_head": "fp32"}
//   }
//
// A scheme is one QuantScheme::parse takes, or "fp32" (left in float).
// The first that names an expert wins: "experts" (layer, then expert
// index), "hot" (the ceil(fraction * E) experts of each layer with the
// most routed tokens in the routing profile, a path relative to the policy
// file), "layers", "default" (else the caller's scheme). Layers are
// numbered as the profile-driven passes number them (ExpertLayers.h).
// "linears" gives the dense layers of a checkpoint's model a scheme, or
// "fp32" (left as stored), by role.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_PASSES_QUANT_QUANTPOLICY_H
#define MOEC_PASSES_QUANT_QUANTPOLICY_H

#include "passes/Quant/QuantScheme.h"

#include "llvm/ADT/StringRef.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace moec {

/// A scheme, or std::nullopt for float.
using QuantChoice = std::optional<QuantScheme>;

struct QuantPolicy {
  std::optional<QuantChoice> defaultChoice;
  std::map<int64_t, QuantChoice> layers;
  std::map<int64_t, std::map<int64_t, QuantChoice>> experts;
  struct Hot {
    std::string profile;
    double fraction = 0.0;
    QuantChoice choice;
  };
  std::optional<Hot> hot;
  /// Dense layers by role (LinearRoles.h: attention, mlp, shared_expert,
  /// lm_head), for moe-quantize-linears.
  std::map<std::string, QuantChoice> linears;

  /// Parses the policy file at `path`; on failure, `error` names the
  /// problem.
  static std::optional<QuantPolicy> load(llvm::StringRef path,
                                         std::string &error);

  /// The choices for a layer of `numExperts` experts, `fallback` where the
  /// policy names none. `routed` (per expert, from the profile) is needed
  /// when the policy has "hot".
  std::vector<QuantChoice> choicesFor(int64_t layer, int64_t numExperts,
                                      const std::vector<int64_t> *routed,
                                      const QuantChoice &fallback) const;
};

/// "fp32" or the scheme's spelling.
std::string choiceName(const QuantChoice &choice);

} // namespace moec

#endif // MOEC_PASSES_QUANT_QUANTPOLICY_H
