//===- UnshareTensors.cpp - One tensor.empty or constant tensor per use ---===//
//
// Undoes CSE's sharing of tensor.empty destinations and constant tensor
// inputs before bufferization, which otherwise makes One-Shot Bufferize's
// conflict analysis grow with the square (shared constant) or the cube
// (shared destination) of a chain's length.
//
//===----------------------------------------------------------------------===//

#include "dialects/moe/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace moec::moe {
#define GEN_PASS_DEF_MOEUNSHARETENSORS
#include "dialects/moe/Transforms/Passes.h.inc"
} // namespace moec::moe

using namespace mlir;

static bool isSharedTensorSource(Operation *op) {
  if (op->hasOneUse() || op->use_empty())
    return false;
  if (isa<tensor::EmptyOp>(op))
    return true;
  auto constant = dyn_cast<arith::ConstantOp>(op);
  return constant && isa<RankedTensorType>(constant.getType());
}

namespace {
struct UnshareTensorsPass
    : public moec::moe::impl::MoeUnshareTensorsBase<UnshareTensorsPass> {
  void runOnOperation() override {
    SmallVector<Operation *> shared;
    getOperation().walk([&](Operation *op) {
      if (isSharedTensorSource(op))
        shared.push_back(op);
    });
    OpBuilder b(&getContext());
    for (Operation *op : shared) {
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
      op->erase();
    }
  }
};
} // namespace
