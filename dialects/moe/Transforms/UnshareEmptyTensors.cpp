//===- UnshareEmptyTensors.cpp - One tensor.empty per use -----------------===//
//
// Undoes CSE's sharing of tensor.empty destinations before bufferization,
// which otherwise makes One-Shot Bufferize's conflict analysis grow with
// the cube of a chain's length.
//
//===----------------------------------------------------------------------===//

#include "dialects/moe/Transforms/Passes.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace moec::moe {
#define GEN_PASS_DEF_MOEUNSHAREEMPTYTENSORS
#include "dialects/moe/Transforms/Passes.h.inc"
} // namespace moec::moe

using namespace mlir;

namespace {
struct UnshareEmptyTensorsPass
    : public moec::moe::impl::MoeUnshareEmptyTensorsBase<
          UnshareEmptyTensorsPass> {
  void runOnOperation() override {
    SmallVector<tensor::EmptyOp> shared;
    getOperation().walk([&](tensor::EmptyOp op) {
      if (!op->hasOneUse() && !op->use_empty())
        shared.push_back(op);
    });
    OpBuilder b(&getContext());
    for (tensor::EmptyOp op : shared) {
      // Each use gets a clone right before its user, or, for a user in a
      // nested region (a loop), where the original was, so that no
      // allocation moves into the loop.
      for (OpOperand &use : llvm::make_early_inc_range(op->getUses())) {
        Operation *user = use.getOwner();
        if (user->getBlock() == op->getBlock())
          b.setInsertionPoint(user);
        else
          b.setInsertionPoint(op);
        use.set(b.clone(*op)->getResult(0));
      }
      op.erase();
    }
  }
};
} // namespace
