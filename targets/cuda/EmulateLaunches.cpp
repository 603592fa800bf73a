//===- EmulateLaunches.cpp - Kernels as host loops, for tests -------------===//

#include "targets/cuda/Passes.h"

#include "mlir/IR/IRMapping.h"

namespace moec::cuda {
#define GEN_PASS_DEF_CUDAEMULATELAUNCHES
#include "targets/cuda/Passes.h.inc"
} // namespace moec::cuda

using namespace mlir;
using namespace moec;

namespace {
struct CudaEmulateLaunchesPass
    : public cuda::impl::CudaEmulateLaunchesBase<CudaEmulateLaunchesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    OpBuilder b(&getContext());
    auto bracket = module.lookupSymbol<func::FuncOp>(cuda::kEmulatedKernel);
    if (!bracket) {
      b.setInsertionPointToStart(module.getBody());
      bracket = func::FuncOp::create(b, module.getLoc(), cuda::kEmulatedKernel,
                                     b.getFunctionType({b.getI64Type()}, {}));
      bracket.setPrivate();
    }
    SmallVector<gpu::LaunchOp> launches;
    module.walk([&](gpu::LaunchOp launch) { launches.push_back(launch); });
    for (gpu::LaunchOp launch : launches) {
      Location loc = launch.getLoc();
      b.setInsertionPoint(launch);
      auto flag = [&](int64_t inside) {
        func::CallOp::create(b, loc, bracket,
                             ValueRange{arith::ConstantOp::create(
                                 b, loc, b.getI64IntegerAttr(inside))});
      };
      flag(1);
      Value zero = arith::ConstantIndexOp::create(b, loc, 0);
      Value one = arith::ConstantIndexOp::create(b, loc, 1);
      gpu::KernelDim3 grid = launch.getGridSizeOperandValues();
      gpu::KernelDim3 block = launch.getBlockSizeOperandValues();
      // Grids and blocks of this target are one-dimensional.
      auto blocks = scf::ForOp::create(b, loc, zero, grid.x, one);
      b.setInsertionPointToStart(blocks.getBody());
      auto threads = scf::ForOp::create(b, loc, zero, block.x, one);
      b.setInsertionPointToStart(threads.getBody());
      IRMapping mapping;
      gpu::KernelDim3 blockIds = launch.getBlockIds();
      gpu::KernelDim3 threadIds = launch.getThreadIds();
      gpu::KernelDim3 gridSize = launch.getGridSize();
      gpu::KernelDim3 blockSize = launch.getBlockSize();
      mapping.map(blockIds.x, blocks.getInductionVar());
      mapping.map(threadIds.x, threads.getInductionVar());
      for (Value id : {blockIds.y, blockIds.z, threadIds.y, threadIds.z})
        mapping.map(id, zero);
      mapping.map(gridSize.x, grid.x);
      mapping.map(blockSize.x, block.x);
      for (Value size : {gridSize.y, gridSize.z, blockSize.y, blockSize.z})
        mapping.map(size, one);
      for (Operation &op : launch.getBody().front().without_terminator())
        b.clone(op, mapping);
      b.setInsertionPointAfter(blocks);
      flag(0);
      launch.erase();
    }
  }
};
} // namespace
