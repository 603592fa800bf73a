//===- RefLoopsTarget.cpp - An SDK test fixture: the reference lowering ---===//
//
// Target `ref-loops` lowers the moe ops with the SDK's reference patterns
// and stops at MLIR (moec --emit=mlir); it registers that lowering as the
// pass `ref-loops-lower` for moec-opt. It tests what a vendor's plugin
// relies on: the installed headers and libraries, the versioned entry
// point, its own flag, and sharing the tool's moe dialect.
//
//===----------------------------------------------------------------------===//

#include "dialects/moe/IR/MoeDialect.h"
#include "dialects/moe/Transforms/Passes.h"
#include "moec/Conversion/MoeToLoops.h"
#include "moec/Target/TargetPlugin.h"

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"

#ifndef REF_LOOPS_API_VERSION
#define REF_LOOPS_API_VERSION moec::kTargetApiVersion
#endif

using namespace mlir;

static llvm::cl::OptionCategory category("ref-loops target");
static llvm::cl::opt<bool>
    annotate("ref-loops-annotate",
             llvm::cl::desc("Mark the module as lowered by ref-loops"),
             llvm::cl::cat(category));

namespace {
struct RefLoopsLowerPass
    : public PassWrapper<RefLoopsLowerPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(RefLoopsLowerPass)
  StringRef getArgument() const final { return "ref-loops-lower"; }
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
      return signalPassFailure();
    if (annotate)
      getOperation()->setAttr("ref_loops.lowered",
                              UnitAttr::get(&getContext()));
  }
};

class RefLoopsTarget final : public moec::TargetBackend {
public:
  StringRef getName() const override { return "ref-loops"; }
  StringRef getDescription() const override {
    return "SDK test fixture: the reference lowering, MLIR only";
  }
  void registerDialects(DialectRegistry &registry) const override {
    moec::getMoeToLoopsDependentDialects(registry);
  }
  void registerPasses() const override {
    PassRegistration<RefLoopsLowerPass>();
  }
  llvm::cl::OptionCategory *getOptionCategory() const override {
    return &category;
  }
  void buildLoweringPipeline(OpPassManager &pm,
                             const moec::TargetOptions &) const override {
    pm.addPass(std::make_unique<RefLoopsLowerPass>());
    pm.addPass(moec::moe::createMoeWeightsToArguments());
  }
  LogicalResult serialize(ModuleOp module, const moec::TargetOptions &,
                          moec::SerializedModule &) const override {
    return module.emitError("target 'ref-loops' stops at MLIR: use "
                            "--emit=mlir");
  }
  LogicalResult link(ModuleOp module, const moec::SerializedModule &,
                     const moec::TargetOptions &) const override {
    return module.emitError("target 'ref-loops' links nothing");
  }
};
} // namespace

static bool registerRefLoops(uint32_t apiVersion,
                             moec::TargetRegistry *registry) {
  return apiVersion == moec::kTargetApiVersion &&
         registry->add(std::make_unique<RefLoopsTarget>());
}

extern "C" __attribute__((visibility("default"))) MoecTargetPluginInfo
moecGetTargetPluginInfo() {
  return {REF_LOOPS_API_VERSION, "ref-loops", registerRefLoops};
}
