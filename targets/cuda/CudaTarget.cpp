//===- CudaTarget.cpp - NVIDIA GPUs: kernels through NVVM and ptxas -------===//

#include "targets/cuda/CudaTarget.h"

#include "targets/cuda/Passes.h"

#include "dialects/moe/Transforms/Passes.h"
#include "moec/Target/HostExecutable.h"
#include "moec/Target/LinkSupport.h"
#include "moec/Target/TargetRegistry.h"
#include "passes/Conversion/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace moec;

static void addHostLowering(OpPassManager &pm);

/// The lowering after moe-sparse-dispatch (docs/cuda.md): the reference
/// loops over buffers, every buffer access in a kernel, the kernels through
/// NVVM to PTX and a fatbin, the host code to LLVM with the runtime's
/// device allocation behind memref.alloc.
static void buildCudaPipeline(OpPassManager &pm,
                              const cuda::CudaOptions &cuda) {
  moe::MoeExternalizeConstantsOptions externalize;
  externalize.minBytes = 256;
  pm.addPass(moe::createMoeExternalizeConstants(externalize));
  pm.addPass(createConvertMoeToSCF());
  pm.addPass(moe::createMoeWeightsToArguments());
  moe::addBufferizationPasses(pm);
  pm.addPass(createConvertLinalgToParallelLoopsPass());
  pm.addPass(createCanonicalizerPass());
  cuda::CudaOffloadToKernelsOptions offload;
  offload.deviceChecks = !cuda.emulateKernels;
  pm.addPass(cuda::createCudaOffloadToKernels(offload));
  // Integer powers become functions, which outlining copies into the
  // kernels' module.
  pm.addPass(createConvertMathToFuncs());
  if (cuda.emulateKernels) {
    pm.addPass(cuda::createCudaEmulateLaunches());
    pm.addPass(createConvertChecksToRuntime());
    addHostLowering(pm);
    return;
  }
  pm.addPass(createGpuKernelOutliningPass());
  pm.addPass(cuda::createCudaMergeKernelModules());
  pm.addPass(createConvertChecksToRuntime());
  for (const std::string &chip : cuda.chips) {
    GpuNVVMAttachTargetOptions target;
    target.chip = chip;
    target.features = "+ptx80";
    target.optLevel = 3;
    pm.addPass(createGpuNVVMAttachTarget(target));
  }
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  kernels.addPass(memref::createExpandStridedMetadataPass());
  kernels.addPass(createLowerAffinePass());
  kernels.addPass(createSCFToControlFlowPass());
  kernels.addPass(createConvertGpuOpsToNVVMOps());
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createCSEPass());
  kernels.addPass(createReconcileUnrealizedCastsPass());
  GpuModuleToBinaryPassOptions binary;
  binary.toolkitPath = cuda.toolkit;
  binary.compilationTarget = "isa";
  pm.addPass(createGpuModuleToBinaryPass(binary));
  cuda::CudaBundleFatbinOptions bundle;
  bundle.toolkit = cuda.toolkit;
  pm.addPass(cuda::createCudaBundleFatbin(bundle));
  addHostLowering(pm);
}

/// The host code to the LLVM dialect; memref.alloc becomes the runtime's
/// device allocation.
static void addHostLowering(OpPassManager &pm) {
  // bf16 conversions as integer arithmetic: generic x86-64 has no
  // instruction for them and the binary no __truncsfbf2 (the kernels'
  // module converts on the device).
  arith::ArithExpandOpsPassOptions expand;
  expand.includeBf16 = true;
  pm.addNestedPass<func::FuncOp>(arith::createArithExpandOpsPass(expand));
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  FinalizeMemRefToLLVMConversionPassOptions memrefs;
  memrefs.useGenericFunctions = true; // device allocations (host/)
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefs));
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createGpuToLLVMConversionPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

namespace {
class CudaTarget final : public TargetBackend {
public:
  llvm::StringRef getName() const override { return "cuda"; }
  llvm::StringRef getDescription() const override {
    return "NVIDIA GPUs (sm_80, sm_90, ...) through NVVM, PTX and ptxas; the "
           "binary reaches the driver through libcuda.so.1";
  }
  void registerDialects(DialectRegistry &registry) const override {
    registry.insert<gpu::GPUDialect, LLVM::LLVMDialect, NVVM::NVVMDialect>();
    registerBuiltinDialectTranslation(registry);
    registerLLVMDialectTranslation(registry);
    registerGPUDialectTranslation(registry);
    registerNVVMDialectTranslation(registry);
    NVVM::registerNVVMTargetInterfaceExternalModels(registry);
    gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(registry);
  }
  void registerPasses() const override { cuda::registerMoecCudaPasses(); }
  llvm::cl::OptionCategory *getOptionCategory() const override {
    return &cuda::getCudaOptionCategory();
  }
  void buildLoweringPipeline(OpPassManager &pm,
                             const TargetOptions &options) const override {
    buildCudaPipeline(pm, cuda::getCudaOptions());
  }
  LogicalResult serialize(ModuleOp module, const TargetOptions &options,
                          SerializedModule &result) const override {
    return cuda::serializeHost(module, options, result);
  }
  LogicalResult link(ModuleOp module, const SerializedModule &serialized,
                     const TargetOptions &options) const override {
    // As the CPU binary, with the CUDA host runtime: the driver through
    // dlopen, so no link-time dependency on CUDA.
    return linkHostExecutable(
        module, serialized, options,
        {findRuntimeLibrary("libMoecCudaRuntime.a", MOEC_CUDA_RUNTIME_LIBRARY)},
        {"-ldl"});
  }
};
} // namespace

extern "C" bool moecRegisterTarget_cuda(uint32_t apiVersion,
                                        TargetRegistry *registry) {
  if (apiVersion != kTargetApiVersion)
    return false;
  return registry->add(std::make_unique<CudaTarget>());
}
