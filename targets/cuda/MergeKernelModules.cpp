//===- MergeKernelModules.cpp - One gpu.module for every kernel -----------===//

#include "targets/cuda/Passes.h"

namespace moec::cuda {
#define GEN_PASS_DEF_CUDAMERGEKERNELMODULES
#include "targets/cuda/Passes.h.inc"
} // namespace moec::cuda

using namespace mlir;
using namespace moec;

namespace {
struct CudaMergeKernelModulesPass
    : public cuda::impl::CudaMergeKernelModulesBase<
          CudaMergeKernelModulesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto kernels = llvm::to_vector(module.getOps<gpu::GPUModuleOp>());
    if (kernels.empty())
      return;
    OpBuilder b(&getContext());
    b.setInsertionPoint(kernels.front());
    auto merged = gpu::GPUModuleOp::create(b, module.getLoc(), "moec_kernels");
    SymbolTable mergedSymbols(merged);
    // Each kernel is renamed after its (unique) module.
    llvm::DenseMap<Attribute, SymbolRefAttr> renamed;
    for (gpu::GPUModuleOp kernelModule : kernels) {
      for (Operation &op : llvm::make_early_inc_range(
               kernelModule.getBody()->getOperations())) {
        auto symbol = dyn_cast<SymbolOpInterface>(&op);
        if (auto function = dyn_cast<gpu::GPUFuncOp>(&op);
            function && function.isKernel()) {
          SymbolRefAttr old = SymbolRefAttr::get(
              kernelModule.getNameAttr(),
              {FlatSymbolRefAttr::get(function.getNameAttr())});
          function.setName(kernelModule.getName());
          renamed[old] = SymbolRefAttr::get(
              merged.getNameAttr(),
              {FlatSymbolRefAttr::get(function.getNameAttr())});
        } else if (symbol && mergedSymbols.lookup(symbol.getName())) {
          continue; // a callee already there, cloned by each outlining
        }
        op.moveBefore(merged.getBody(), merged.getBody()->end());
        if (symbol)
          mergedSymbols.insert(&op);
      }
      kernelModule.erase();
    }
    WalkResult walk = module.walk([&](gpu::LaunchFuncOp launch) {
      auto it = renamed.find(launch.getKernel());
      if (it == renamed.end()) {
        launch.emitError("launches a kernel that is not in a gpu.module");
        return WalkResult::interrupt();
      }
      launch.setKernelAttr(it->second);
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
