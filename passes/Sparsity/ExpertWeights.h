//===- ExpertWeights.h - New expert stacks from old ones ---------*- C++
//-*-===//
//
// Pruning and merging build new weights from a layer's [E, ...] stacks:
// a subset of experts, or frequency-weighted averages of groups of them.
// The bytes come from the weight store (moe.weight) or from a constant and
// go back the same way: a store blob for a moe.weight, a constant for a
// constant. Removed experts therefore leave no bytes in the binary.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_PASSES_SPARSITY_EXPERTWEIGHTS_H
#define MOEC_PASSES_SPARSITY_EXPERTWEIGHTS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include <string>
#include <vector>

namespace moec {

/// A weight's row-major bytes and where they came from: a view into the
/// weight store (never copied), or a constant's bytes.
struct WeightData {
  /// The store key of a moe.weight; empty for a constant.
  std::string key;
  llvm::ArrayRef<uint8_t> stored;
  std::vector<uint8_t> constant;

  llvm::ArrayRef<uint8_t> bytes() const {
    return key.empty() ? llvm::ArrayRef<uint8_t>(constant) : stored;
  }
};

/// The bytes of a moe.weight or a constant; an error on `user` otherwise.
mlir::FailureOr<WeightData> readWeight(mlir::Value weight,
                                       mlir::Operation *user);

/// A new weight of `type` holding `bytes`, made the way `source` was: a
/// store blob named after its key plus `suffix`, or a constant.
mlir::Value writeWeight(mlir::OpBuilder &b, mlir::Location loc,
                        const WeightData &source, mlir::RankedTensorType type,
                        std::vector<uint8_t> bytes, llvm::StringRef suffix);

/// The slices `keep` (in that order) of dimension `dim` of a weight known
/// at compile time: a moe.weight, a constant, or a moe.packed_weight of
/// those (dim 0 only). Fails with an error on `user` for anything else.
mlir::FailureOr<mlir::Value> gatherWeight(mlir::OpBuilder &b,
                                          mlir::Value weight, int64_t dim,
                                          llvm::ArrayRef<int64_t> keep,
                                          mlir::Operation *user);

/// Expert m of the result is sum_e share[e] * weight[e] over e in
/// groups[m], for an f32 [E, ...] moe.weight or constant; shares of a
/// group sum to 1. Fails with an error on `user` for other weights.
mlir::FailureOr<mlir::Value>
mergeWeight(mlir::OpBuilder &b, mlir::Value weight,
            llvm::ArrayRef<llvm::SmallVector<int64_t>> groups,
            llvm::ArrayRef<double> share, mlir::Operation *user);

/// Bytes a weight's values occupy (packed bytes and scales for a packed
/// weight); 0 for a null value.
int64_t weightBytes(mlir::Value weight);

} // namespace moec

#endif // MOEC_PASSES_SPARSITY_EXPERTWEIGHTS_H
