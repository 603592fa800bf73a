//===- SparsityOptions.h - moec's expert-sparsity flags ----------*- C++
//-*-===//

#ifndef MOEC_TOOLS_MOEC_SPARSITYOPTIONS_H
#define MOEC_TOOLS_MOEC_SPARSITYOPTIONS_H

#include "mlir/Pass/PassManager.h"

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

  bool any() const {
    return !pruneExperts.empty() || !skipExperts.empty() ||
           !mergeExperts.empty() || reduceTopK > 0 || staticCapacity > 0;
  }
};

/// Adds the passes the flags ask for, in the order they compose: top-k
/// reduction, pruning, merging, skipping, then the static-capacity
/// rewrite. Returns an error message naming the bad flag, or "".
std::string addSparsityPasses(mlir::PassManager &pm,
                              const SparsityFlags &flags);

} // namespace moec

#endif // MOEC_TOOLS_MOEC_SPARSITYOPTIONS_H
