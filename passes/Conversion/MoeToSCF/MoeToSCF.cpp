//===- MoeToSCF.cpp - The moe ops to loops over buffers -------------------===//

#include "passes/Conversion/MoeToSCF/RegisterTile.h"
#include "passes/Conversion/Passes.h"

#include "llvm/ADT/TypeSwitch.h"

namespace moec {
#define GEN_PASS_DEF_CONVERTMOETOSCF
#include "passes/Conversion/Passes.h.inc"
} // namespace moec

using namespace mlir;
using namespace moec;

namespace {
struct ConvertMoeToSCFPass
    : public moec::impl::ConvertMoeToSCFBase<ConvertMoeToSCFPass> {
  using Base::Base;

  void runOnOperation() override {
    TileShape tiles{vectorWidth, tilePanels, tileRows, tileDepth, int8DotBytes};
    if (vectorWidth < 0 || tileRows < 1 || tilePanels < 1 || tileDepth < 1 ||
        (vectorWidth > 0 && 64 % (vectorWidth * tilePanels) != 0) ||
        (int8DotBytes != 0 && int8DotBytes != 32 && int8DotBytes != 64)) {
      getOperation().emitError(
          "convert-moe-to-scf: vector-width * tile-panels must divide 64, "
          "the tile sizes must be positive and int8-dot-bytes 0, 32 or 64");
      return signalPassFailure();
    }
    SmallVector<Operation *> worklist, dispatches;
    WalkResult walk = getOperation().walk([&](Operation *op) {
      if (isa<moe::ExpertsOp>(op)) {
        op->emitOpError("must be rewritten by moe-sparse-dispatch before "
                        "lowering to loops");
        return WalkResult::interrupt();
      }
      // Dispatches last: a grouped matmul reads top_k off its dispatch.
      if (isa<moe::DispatchOp>(op))
        dispatches.push_back(op);
      else if (isa<moe::RouterOp, moe::SkipExpertsOp, moe::RemapExpertsOp,
                   moe::GroupedMatmulOp, moe::ActivationOp, moe::CombineOp>(op))
        worklist.push_back(op);
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    worklist.append(dispatches);
    for (Operation *op : worklist) {
      LogicalResult lowered =
          llvm::TypeSwitch<Operation *, LogicalResult>(op)
              .Case([](moe::RouterOp op) { return lowerRouter(op); })
              .Case([](moe::SkipExpertsOp op) { return lowerSkipExperts(op); })
              .Case(
                  [](moe::RemapExpertsOp op) { return lowerRemapExperts(op); })
              .Case([](moe::DispatchOp op) { return lowerDispatch(op); })
              .Case([&](moe::GroupedMatmulOp op) {
                return lowerGroupedMatmul(op, tiles);
              })
              .Case([](moe::ActivationOp op) { return lowerActivation(op); })
              .Case([](moe::CombineOp op) { return lowerCombine(op); });
      if (failed(lowered))
        return signalPassFailure();
    }
    // Packed weights are only read through the ops just lowered.
    getOperation().walk([](moe::PackedWeightOp op) {
      if (op->use_empty())
        op.erase();
    });
  }
};
} // namespace
