//===- BufferizationPipeline.cpp - Tensors to buffers for loop targets ----===//

#include "dialects/moe/Transforms/Passes.h"

#include "mlir/Conversion/BufferizationToMemRef/BufferizationToMemRef.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void moec::moe::addBufferizationPasses(OpPassManager &pm) {
  // No CSE before bufferization: the loop lowerings read tensors through
  // bufferization.to_buffer, and CSE merges two reads of one tensor into
  // the first, which hides the later read from One-Shot Bufferize; it may
  // then write that buffer in place in between (a MatMul + bias Add feeding
  // a MatMul computed garbage). Canonicalization folds the signless bitcast
  // pairs, which do not bufferize.
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createMoeUnshareTensors());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  // Upstream's buffer-deallocation-pipeline, with the split of distinct
  // allocations done in linear time first, then each buffer freed right
  // after its last use rather than at the end of its block.
  OpPassManager &funcs = pm.nest<func::FuncOp>();
  funcs.addPass(memref::createExpandReallocPass({/*emitDeallocs=*/false}));
  funcs.addPass(createCanonicalizerPass());
  funcs.addPass(bufferization::createOwnershipBasedBufferDeallocationPass());
  funcs.addPass(createCanonicalizerPass());
  funcs.addPass(createMoeSplitDeallocs());
  funcs.addPass(bufferization::createBufferDeallocationSimplificationPass());
  pm.addPass(bufferization::createLowerDeallocationsPass());
  pm.addPass(createMoeReturnStateInPlace());
  OpPassManager &cleanup = pm.nest<func::FuncOp>();
  cleanup.addPass(createCSEPass());
  cleanup.addPass(createCanonicalizerPass());
  pm.addPass(createMoeFreeAfterLastUse());
  pm.addPass(createConvertBufferizationToMemRefPass());
}
