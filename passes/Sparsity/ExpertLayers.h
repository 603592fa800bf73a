//===- ExpertLayers.h - The MoE layers the sparsity passes edit --*- C++
//-*-===//
//
// Every profile-driven pass sees the same numbering: layer i is the i-th
// moe.experts op in the module's walk order, which is also the order the
// instrumented binary records (one moe.combine per moe.experts, in place).
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_PASSES_SPARSITY_EXPERTLAYERS_H
#define MOEC_PASSES_SPARSITY_EXPERTLAYERS_H

#include "dialects/moe/IR/MoeOps.h"
#include "runtime/formats/RoutingProfile.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"

namespace moec {

struct MoeLayer {
  int64_t index;
  moe::ExpertsOp experts;
  /// The router whose choices the experts take, possibly through edits
  /// (moe.skip_experts, moe.remap_experts); null when there is none.
  moe::RouterOp router;
  /// True when the experts take the router's results unedited.
  bool direct = false;
};

llvm::SmallVector<MoeLayer> collectMoeLayers(mlir::ModuleOp module);

/// Reads a routing profile for `layers`: one profile layer per MoE layer,
/// with the same number of experts and hidden size. Errors go on `module`.
mlir::FailureOr<rt::RoutingProfile>
loadRoutingProfile(llvm::StringRef path, mlir::ModuleOp module,
                   llvm::ArrayRef<MoeLayer> layers);

/// Bytes of a layer's expert weights and biases.
int64_t expertBytes(moe::ExpertsOp experts);

/// Replaces every expert weight and bias of `experts` by `rebuild(value)`
/// (a new stack along dimension 0). Fails if one rebuild fails.
mlir::LogicalResult rebuildExpertStacks(
    moe::ExpertsOp experts,
    llvm::function_ref<mlir::FailureOr<mlir::Value>(mlir::Value)> rebuild);

/// Restricts a router to the experts `keep` (ascending): its logits lose
/// the other columns (the router matmul's weight is sliced where the logits
/// come straight from one, else the logits are gathered) and its selection
/// bias the other entries.
mlir::LogicalResult restrictRouter(moe::RouterOp router,
                                   llvm::ArrayRef<int64_t> keep);

/// One report line: "PASS: TEXT" on stderr.
void reportLine(llvm::StringRef pass, const llvm::Twine &text);
/// "12.3 MiB".
std::string formatBytes(int64_t bytes);

} // namespace moec

#endif // MOEC_PASSES_SPARSITY_EXPERTLAYERS_H
