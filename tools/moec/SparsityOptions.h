//===- SparsityOptions.h - moec's expert-sparsity flags ----------*- C++
//-*-===//

#ifndef MOEC_TOOLS_MOEC_SPARSITYOPTIONS_H
#define MOEC_TOOLS_MOEC_SPARSITYOPTIONS_H

#include "passes/Sparsity/Passes.h"

#include "mlir/Pass/PassManager.h"

#include <optional>
#include <string>

namespace moec {

/// The flags as given; empty or zero when absent.
struct SparsityFlags {
  std::string pruneExperts;
  std::string skipExperts;
  std::string mergeExperts;
  int64_t reduceTopK = 0;
  double staticCapacity = 0;
  bool report = true;
};

/// The passes the flags ask for, with their options.
struct SparsityPlan {
  std::optional<MoeReduceTopKOptions> reduceTopK;
  std::optional<MoePruneExpertsOptions> prune;
  std::optional<MoeMergeExpertsOptions> merge;
  std::optional<MoeSkipExpertsOptions> skip;
  std::optional<MoeStaticCapacityOptions> staticCapacity;

  bool empty() const {
    return !reduceTopK && !prune && !merge && !skip && !staticCapacity;
  }
};

/// Parses the flags into `plan`. Returns an error message naming the bad
/// flag, or "".
std::string planSparsity(const SparsityFlags &flags, SparsityPlan &plan);

/// Adds the planned passes in the order they compose: top-k reduction,
/// pruning, merging, skipping, then the static-capacity rewrite.
void addSparsityPasses(mlir::PassManager &pm, const SparsityPlan &plan);

} // namespace moec

#endif // MOEC_TOOLS_MOEC_SPARSITYOPTIONS_H
