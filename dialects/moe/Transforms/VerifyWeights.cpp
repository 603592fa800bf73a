//===- VerifyWeights.cpp - Check moe.weight ops against their files -------===//

#include "dialects/moe/Transforms/Passes.h"

#include "dialects/moe/IR/WeightFiles.h"

namespace moec::moe {
#define GEN_PASS_DEF_MOEVERIFYWEIGHTS
#include "dialects/moe/Transforms/Passes.h.inc"
} // namespace moec::moe

using namespace mlir;
using namespace moec::moe;

namespace {
struct VerifyWeightsPass
    : public moec::moe::impl::MoeVerifyWeightsBase<VerifyWeightsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (failed(loadWeightFiles(module)) || failed(loadWeightRanges(module)))
      return signalPassFailure();
    WalkResult result = module.walk([](WeightOp op) {
      return failed(verifyWeightInStore(op)) ? WalkResult::interrupt()
                                             : WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
