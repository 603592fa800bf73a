//===- CTarget.cpp - Target `c`: portable C, built by the C compiler ------===//
//
// The target a vendor whose chip has only a C toolchain starts from. It
// registers as a plugin (MOEC_DEFINE_TARGET_PLUGIN), brings one flag
// (--cc), and leaves everything else to moec: import, the target-independent
// passes, the packager and the binary runtime.
//
//===----------------------------------------------------------------------===//

#include "CTarget.h"

#include "moec/Conversion/MoeToLoops.h"
#include "moec/Target/Packager.h"
#include "moec/Target/TargetPlugin.h"

#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;

static llvm::cl::OptionCategory category("c target");
static llvm::cl::opt<std::string>
    compiler("cc",
             llvm::cl::desc("The C11 compiler that builds the model's C and "
                            "links the binary (a name on PATH or a path)"),
             llvm::cl::value_desc("compiler"), llvm::cl::init("cc"),
             llvm::cl::cat(category));

llvm::cl::OptionCategory &moec::c::getOptionCategory() { return category; }
const std::string &moec::c::getCompiler() { return compiler; }

namespace {
class CTarget final : public moec::TargetBackend {
public:
  StringRef getName() const override { return "c"; }
  StringRef getDescription() const override {
    return "portable C11 built by the system C compiler (--cc)";
  }
  void registerDialects(DialectRegistry &registry) const override {
    moec::getMoeToLoopsDependentDialects(registry);
    registry.insert<cf::ControlFlowDialect, func::FuncDialect,
                    memref::MemRefDialect, scf::SCFDialect>();
  }
  void registerPasses() const override { moec::c::registerPasses(); }
  llvm::cl::OptionCategory *getOptionCategory() const override {
    return &moec::c::getOptionCategory();
  }
  void buildLoweringPipeline(OpPassManager &pm,
                             const moec::TargetOptions &) const override {
    moec::c::buildLoweringPipeline(pm);
  }
  /// The C source (--emit=llvm writes it) and its object (--emit=obj).
  LogicalResult serialize(ModuleOp module, const moec::TargetOptions &options,
                          moec::SerializedModule &result) const override {
    llvm::raw_string_ostream os(result.targetIR);
    if (failed(moec::c::printModule(module, os)))
      return failure();
    return moec::c::compileObject(module, result.targetIR, options.optLevel,
                                  result.object);
  }
  LogicalResult link(ModuleOp module, const moec::SerializedModule &serialized,
                     const moec::TargetOptions &options) const override {
    moec::PackagedModel package;
    if (failed(moec::packageModel(module, options, package)))
      return failure();
    std::string data;
    llvm::raw_string_ostream os(data);
    moec::c::printDataFile(package.manifest, package.embedded, os);
    // The weights file first: the binary is useless without it.
    if (failed(moec::writeWeightsFile(module, options, package)))
      return failure();
    return moec::c::linkExecutable(module, serialized.object, data,
                                   options.optLevel, options.outputPath);
  }
};
} // namespace

static bool registerCTarget(uint32_t apiVersion,
                            moec::TargetRegistry *registry) {
  return apiVersion == moec::kTargetApiVersion &&
         registry->add(std::make_unique<CTarget>());
}

MOEC_DEFINE_TARGET_PLUGIN("c", registerCTarget)
