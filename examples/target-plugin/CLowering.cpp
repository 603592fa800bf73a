//===- CLowering.cpp - From target-independent IR to loops over buffers ---===//
//
// The SDK's reference patterns lower the moe ops; the SDK's bufferization
// passes free each buffer after its last use; upstream passes lower linalg
// to loops; expand-strided-metadata
// leaves only descriptors CPrinter builds field by field. What remains is
// func, scf, memref, arith, math and the run-time checks.
//
//===----------------------------------------------------------------------===//

#include "CTarget.h"

#include "dialects/moe/Transforms/Passes.h"
#include "moec/Conversion/MoeToLoops.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace {
struct CLowerMoePass
    : public PassWrapper<CLowerMoePass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(CLowerMoePass)
  StringRef getArgument() const final { return "c-lower-moe"; }
  StringRef getDescription() const final {
    return "lower the moe ops with the SDK's reference patterns";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    moec::getMoeToLoopsDependentDialects(registry);
  }
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    moec::populateMoeToLoopsPatterns(patterns);
    if (failed(moec::applyMoeLoweringPatterns(getOperation(),
                                              std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void moec::c::registerPasses() { PassRegistration<CLowerMoePass>(); }

void moec::c::buildLoweringPipeline(OpPassManager &pm) {
  // Large constants become weights, which the packager places; small ones
  // stay and print as C arrays.
  moe::MoeExternalizeConstantsOptions externalize;
  externalize.minBytes = 256;
  pm.addPass(moe::createMoeExternalizeConstants(externalize));
  pm.addPass(std::make_unique<CLowerMoePass>());
  pm.addPass(moe::createMoeWeightsToArguments());
  moe::addBufferizationPasses(pm);
  pm.addPass(createConvertLinalgToLoopsPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}
