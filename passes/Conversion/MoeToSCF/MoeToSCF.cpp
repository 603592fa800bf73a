//===- MoeToSCF.cpp - The moe ops to loops over buffers -------------------===//

#include "moec/Conversion/MoeToLoops.h"
#include "passes/Conversion/Passes.h"

namespace moec {
#define GEN_PASS_DEF_CONVERTMOETOSCF
#include "passes/Conversion/Passes.h.inc"
} // namespace moec

using namespace mlir;
using namespace moec;

namespace {
struct ConvertMoeToSCFPass
    : public moec::impl::ConvertMoeToSCFBase<ConvertMoeToSCFPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateMoeToLoopsPatterns(patterns);
    if (failed(applyMoeLoweringPatterns(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
