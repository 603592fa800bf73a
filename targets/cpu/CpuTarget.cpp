//===- CpuTarget.cpp - The CPU target: LLVM codegen, a native binary ------===//

#include "targets/cpu/CpuTarget.h"

#include "targets/cpu/CpuMachine.h"
#include "targets/cpu/CpuOptions.h"
#include "targets/cpu/Passes.h"

#include "dialects/moe/Transforms/Passes.h"
#include "moec/Target/HostExecutable.h"
#include "moec/Target/TargetRegistry.h"
#include "passes/Conversion/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace moec;

/// The lowering after moe-sparse-dispatch (docs/cpu-target.md): the moe
/// ops and dense matmuls on the CPU's kernels, then upstream passes except
/// for the calling convention, the threading and the run-time checks.
static void buildCpuPipeline(OpPassManager &pm, const cpu::VectorIsa &isa,
                             cpu::SoftConversions soft, int64_t bf16DotRows,
                             unsigned tileDepth) {
  moe::MoeExternalizeConstantsOptions externalize;
  externalize.minBytes = 256;
  pm.addPass(moe::createMoeExternalizeConstants(externalize));
  // Register tiles of the target's shape (CpuMachine.cpp); --tile-depth 0
  // keeps the passes' default depth.
  cpu::CpuLowerMoeOptions moeOptions;
  if (isa.lanes) {
    moeOptions.vectorWidth = isa.lanes;
    moeOptions.tilePanels = isa.panels;
    if (tileDepth)
      moeOptions.tileDepth = tileDepth;
    moeOptions.int8Dot = isa.int8Dot;
    moeOptions.bf16DotRows = bf16DotRows;
  }
  pm.addPass(cpu::createCpuLowerMoe(moeOptions));
  if (isa.lanes) {
    cpu::CpuLinearToDotsOptions linearOptions;
    linearOptions.vectorWidth = isa.lanes;
    linearOptions.bf16DotRows = bf16DotRows;
    pm.addPass(cpu::createCpuLinearToDots(linearOptions));
    cpu::CpuMatmulToTilesOptions matmulOptions;
    matmulOptions.vectorWidth = isa.lanes;
    matmulOptions.tilePanels = isa.panels;
    if (tileDepth)
      matmulOptions.tileDepth = tileDepth;
    pm.addPass(cpu::createCpuMatmulToTiles(matmulOptions));
  }
  pm.addPass(moe::createMoeWeightsToArguments());
  moe::addBufferizationPasses(pm);
  pm.addPass(cpu::createCpuSplitModelFunction());
  pm.addPass(createConvertLinalgToParallelLoopsPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(cpu::createCpuParallelToRuntime());
  if (soft.f16 || soft.bf16)
    pm.addPass(cpu::createCpuSoftHalfConversions({soft.f16, soft.bf16}));
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createConvertMathToFuncs());
  pm.addPass(createConvertChecksToRuntime());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

namespace {
class CpuTarget final : public TargetBackend {
public:
  llvm::StringRef getName() const override { return "cpu"; }
  llvm::StringRef getDescription() const override {
    return "CPUs through LLVM: this machine's, or x86-64, aarch64, riscv64 "
           "and loongarch64 Linux (--triple)";
  }
  void registerDialects(DialectRegistry &registry) const override {
    registry.insert<LLVM::LLVMDialect>();
    registerBuiltinDialectTranslation(registry);
    registerLLVMDialectTranslation(registry);
  }
  void registerPasses() const override { cpu::registerMoecCpuPasses(); }
  llvm::cl::OptionCategory *getOptionCategory() const override {
    return &cpu::getCpuOptionCategory();
  }
  void buildPreDispatchPipeline(OpPassManager &pm,
                                const TargetOptions &options) const override {
    // Attention on the CPU's streaming kernel, before decoder-to-linalg
    // decomposes it (vector ISAs only).
    if (int64_t lanes = cpu::getVectorIsa(options).lanes) {
      cpu::CpuLowerAttentionOptions attention;
      attention.vectorWidth = lanes;
      pm.addPass(cpu::createCpuLowerAttention(attention));
    }
  }
  void buildLoweringPipeline(OpPassManager &pm,
                             const TargetOptions &options) const override {
    cpu::VectorIsa isa = cpu::getVectorIsa(options);
    // bf16 products of prefill on vdpbf16ps (--bf16-dot-rows).
    cpu::CpuOptions cpuOptions = cpu::getCpuOptions();
    int64_t bf16DotRows = isa.bf16Dots ? cpuOptions.bf16DotRows : 0;
    buildCpuPipeline(pm, isa, cpu::getSoftConversions(options), bf16DotRows,
                     cpuOptions.tileDepth);
  }
  LogicalResult serialize(ModuleOp module, const TargetOptions &options,
                          SerializedModule &result) const override {
    return cpu::serializeToObject(module, options, result);
  }
  LogicalResult link(ModuleOp module, const SerializedModule &serialized,
                     const TargetOptions &options) const override {
    // The manifest, weights and runtime around the object (docs/cpu-target.md).
    std::string sysroot = cpu::getCpuOptions().sysroot;
    std::vector<std::string> flags;
    if (!sysroot.empty())
      flags.push_back("--sysroot=" + sysroot);
    return linkHostExecutable(module, serialized, options, {}, flags,
                              cpu::getCrossTriple());
  }
};
} // namespace

extern "C" bool moecRegisterTarget_cpu(uint32_t apiVersion,
                                       TargetRegistry *registry) {
  if (apiVersion != kTargetApiVersion)
    return false;
  return registry->add(std::make_unique<CpuTarget>());
}
