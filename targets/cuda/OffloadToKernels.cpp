//===- OffloadToKernels.cpp - Every buffer access on the GPU --------------===//
//
// The host keeps the model function's control flow, index arithmetic and
// buffer descriptors; whatever reads or writes a buffer (all of which live
// in device memory) runs as a kernel. Parallel loops become kernels of one
// iteration per thread, sequential code a kernel of one thread, and the
// few scalars the host reads or writes cross through the runtime's copy.
//
//===----------------------------------------------------------------------===//

#include "targets/cuda/Passes.h"

#include "dialects/moe/IR/MoeOps.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace moec::cuda {
#define GEN_PASS_DEF_CUDAOFFLOADTOKERNELS
#include "targets/cuda/Passes.h.inc"
} // namespace moec::cuda

using namespace mlir;
using namespace moec;

/// Bytes of one element in memory; 0 for a type a kernel cannot move.
static int64_t elementBytes(Type type) {
  if (type.isIndex())
    return 8;
  if (type.isIntOrFloat())
    return (type.getIntOrFloatBitWidth() + 7) / 8;
  return 0;
}

/// Whether `op` (or an op inside it) reads or writes a buffer. Allocation
/// and freeing are host calls; an op of unknown effects touches memory when
/// it takes a buffer.
static bool touchesMemory(Operation *op) {
  return op
      ->walk([](Operation *inner) {
        if (auto effects = dyn_cast<MemoryEffectOpInterface>(inner)) {
          SmallVector<MemoryEffects::EffectInstance> list;
          effects.getEffects(list);
          for (auto &effect : list)
            if (isa<MemoryEffects::Read, MemoryEffects::Write>(
                    effect.getEffect()))
              return WalkResult::interrupt();
          return WalkResult::advance();
        }
        if (inner->hasTrait<OpTrait::HasRecursiveMemoryEffects>())
          return WalkResult::advance();
        for (Value operand : inner->getOperands())
          if (isa<BaseMemRefType>(operand.getType()))
            return WalkResult::interrupt();
        return WalkResult::advance();
      })
      .wasInterrupted();
}

/// Whether `op` holds a parallel loop (without reductions) that deserves
/// a kernel of its own.
static bool holdsParallelLoop(Operation *op) {
  return op
      ->walk([&](scf::ParallelOp loop) {
        return loop != op && loop.getNumResults() == 0 ? WalkResult::interrupt()
                                                       : WalkResult::advance();
      })
      .wasInterrupted();
}

/// A check's message with "?" for each value ("{0}" ... "{3}"), which the
/// device's assertion cannot print.
static std::string withoutValues(StringRef message) {
  std::string text;
  for (size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '{' && i + 2 < message.size() &&
        isdigit(message[i + 1]) && message[i + 2] == '}') {
      text += '?';
      i += 2;
    } else {
      text += message[i];
    }
  }
  return text;
}

namespace {
class Offloader {
public:
  Offloader(func::FuncOp function, func::FuncOp memcpy, bool deviceChecks)
      : function(function), memcpy(memcpy), deviceChecks(deviceChecks),
        b(function.getContext()) {}

  LogicalResult run() {
    if (failed(copyGlobals()))
      return failure();
    return offloadBlock(function.getBody().front());
  }

private:
  Value index(Location loc, int64_t value) {
    return arith::ConstantIndexOp::create(b, loc, value);
  }

  /// The address of element `indices` of `buffer`, as an index.
  Value address(Location loc, Value buffer, ValueRange indices) {
    auto type = cast<MemRefType>(buffer.getType());
    auto metadata = memref::ExtractStridedMetadataOp::create(b, loc, buffer);
    Value linear = metadata.getOffset();
    for (auto [i, position] : llvm::enumerate(indices))
      linear = arith::AddIOp::create(
          b, loc, linear,
          arith::MulIOp::create(b, loc, position, metadata.getStrides()[i]));
    Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, buffer);
    Value bytes = arith::MulIOp::create(
        b, loc, linear, index(loc, elementBytes(type.getElementType())));
    return arith::AddIOp::create(b, loc, base, bytes);
  }

  void copyBytes(Location loc, Value to, Value from, Value bytes) {
    func::CallOp::create(b, loc, memcpy, ValueRange{to, from, bytes});
  }

  /// A host buffer of static `type`, on the function's stack frame (an
  /// alloca in a host loop would grow the stack with every iteration).
  Value hostAlloca(Location loc, MemRefType type) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&function.getBody().front());
    return memref::AllocaOp::create(b, loc, type);
  }

  /// A host scalar holding `type`, and its address.
  std::pair<Value, Value> hostScalar(Location loc, Type type) {
    Value slot = hostAlloca(loc, MemRefType::get({}, type));
    return {slot, address(loc, slot, {})};
  }

  /// The number of elements of `buffer` times its element's bytes.
  Value byteSize(Location loc, Value buffer) {
    auto type = cast<MemRefType>(buffer.getType());
    Value bytes = index(loc, elementBytes(type.getElementType()));
    for (int64_t d = 0; d < type.getRank(); ++d)
      bytes = arith::MulIOp::create(b, loc, bytes,
                                    memref::DimOp::create(b, loc, buffer, d));
    return bytes;
  }

  /// Each memref.get_global (a constant in host memory) becomes a device
  /// copy made at the function's start, freed before each return that
  /// does not return it.
  LogicalResult copyGlobals() {
    SmallVector<memref::GetGlobalOp> globals;
    function.walk([&](memref::GetGlobalOp op) { globals.push_back(op); });
    Block &entry = function.getBody().front();
    for (memref::GetGlobalOp global : globals) {
      Location loc = global.getLoc();
      auto type = global.getType();
      if (!type.hasStaticShape() || !type.getLayout().isIdentity() ||
          !elementBytes(type.getElementType()))
        return global.emitError("the cuda target copies only constants of "
                                "static shape and scalar elements, not ")
               << type;
      b.setInsertionPointToStart(&entry);
      Value host = b.clone(*global)->getResult(0);
      Value device = memref::AllocOp::create(b, loc, type);
      copyBytes(loc, address(loc, device, {}), address(loc, host, {}),
                byteSize(loc, host));
      global.getResult().replaceAllUsesWith(device);
      global.erase();
      if (reachesReturn(device))
        continue;
      function.walk([&](func::ReturnOp ret) {
        b.setInsertionPoint(ret);
        memref::DeallocOp::create(b, loc, device);
      });
    }
    return success();
  }

  /// Whether `buffer`, or a view of it, is returned.
  static bool reachesReturn(Value buffer) {
    for (Operation *user : buffer.getUsers()) {
      if (isa<func::ReturnOp>(user))
        return true;
      if (auto view = dyn_cast<ViewLikeOpInterface>(user))
        if (view.getViewSource() == buffer && reachesReturn(user->getResult(0)))
          return true;
    }
    return false;
  }

  LogicalResult offloadBlock(Block &block) {
    for (Operation &op : llvm::make_early_inc_range(block)) {
      if (failed(offload(&op)))
        return failure();
    }
    return success();
  }

  LogicalResult offload(Operation *op) {
    if (auto loop = dyn_cast<scf::ParallelOp>(op);
        loop && loop.getNumResults() == 0)
      return parallelKernel(loop);
    if (op->getNumRegions() && holdsParallelLoop(op)) {
      for (Region &region : op->getRegions())
        for (Block &block : region)
          if (failed(offloadBlock(block)))
            return failure();
      return success();
    }
    if (auto load = dyn_cast<memref::LoadOp>(op))
      return hostLoad(load);
    if (auto store = dyn_cast<memref::StoreOp>(op))
      return hostStore(store);
    if (auto copy = dyn_cast<memref::CopyOp>(op))
      return deviceCopy(copy);
    if (auto alloca = dyn_cast<memref::AllocaOp>(op))
      return deviceAlloca(alloca);
    if (auto reshape = dyn_cast<memref::ReshapeOp>(op))
      return hostShape(reshape);
    // Host calls: the runtime, another function of the model, checks of
    // scalars (already on the host), allocation.
    if (isa<func::CallOp, func::ReturnOp, cf::AssertOp, moe::CheckOp,
            memref::AllocOp, memref::DeallocOp>(op))
      return success();
    if (touchesMemory(op))
      return serialKernel(op);
    return success();
  }

  /// A launch of `blocks` blocks of `threads` threads; the builder is left
  /// at the start of its body.
  gpu::LaunchOp launch(Location loc, Value blocks, Value threads) {
    Value one = index(loc, 1);
    auto kernel =
        gpu::LaunchOp::create(b, loc, blocks, one, one, threads, one, one);
    Block &body = kernel.getBody().front();
    b.setInsertionPointToEnd(&body);
    gpu::TerminatorOp::create(b, loc);
    b.setInsertionPointToStart(&body);
    return kernel;
  }

  /// for (i...) in one kernel thread per iteration of the flattened space.
  LogicalResult parallelKernel(scf::ParallelOp loop) {
    Location loc = loop.getLoc();
    b.setInsertionPoint(loop);
    Value zero = index(loc, 0);
    SmallVector<Value> counts;
    Value total = index(loc, 1);
    for (auto [lower, upper, step] : llvm::zip(
             loop.getLowerBound(), loop.getUpperBound(), loop.getStep())) {
      Value span = arith::SubIOp::create(b, loc, upper, lower);
      Value count = arith::MaxSIOp::create(
          b, loc, arith::CeilDivSIOp::create(b, loc, span, step), zero);
      counts.push_back(count);
      total = arith::MulIOp::create(b, loc, total, count);
    }
    Value any =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, total, zero);
    auto ifAny = scf::IfOp::create(b, loc, any, /*withElseRegion=*/false);
    b.setInsertionPointToStart(ifAny.thenBlock());
    Value threads = index(loc, cuda::kBlockThreads);
    Value blocks = arith::CeilDivSIOp::create(b, loc, total, threads);
    gpu::LaunchOp kernel = launch(loc, blocks, threads);
    Value id = arith::AddIOp::create(
        b, loc,
        arith::MulIOp::create(b, loc, kernel.getBlockIds().x,
                              kernel.getBlockSize().x),
        kernel.getThreadIds().x);
    Value inside =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, id, total);
    auto ifInside = scf::IfOp::create(b, loc, inside, false);
    b.setInsertionPointToStart(ifInside.thenBlock());
    IRMapping mapping;
    Value rest = id;
    for (int64_t d = int64_t(counts.size()) - 1; d >= 0; --d) {
      Value position = arith::RemSIOp::create(b, loc, rest, counts[d]);
      rest = arith::DivSIOp::create(b, loc, rest, counts[d]);
      mapping.map(
          loop.getInductionVars()[d],
          arith::AddIOp::create(
              b, loc, loop.getLowerBound()[d],
              arith::MulIOp::create(b, loc, position, loop.getStep()[d])));
    }
    for (Operation &op : loop.getBody()->without_terminator())
      b.clone(op, mapping);
    loop.erase();
    return finishKernel(kernel);
  }

  /// `op` in a kernel of one thread; its scalar results come back through
  /// one-element device buffers.
  LogicalResult serialKernel(Operation *op) {
    Location loc = op->getLoc();
    b.setInsertionPoint(op);
    SmallVector<Value> slots;
    for (Type type : op->getResultTypes()) {
      if (!elementBytes(type))
        return op->emitError("the cuda target cannot return a ")
               << type << " from device code to the host";
      slots.push_back(
          memref::AllocOp::create(b, loc, MemRefType::get({}, type)));
    }
    Value one = index(loc, 1);
    gpu::LaunchOp kernel = launch(loc, one, one);
    Operation *clone = b.clone(*op);
    for (auto [result, slot] : llvm::zip(clone->getResults(), slots))
      memref::StoreOp::create(b, loc, result, slot);
    b.setInsertionPointAfter(kernel);
    for (auto [result, slot] : llvm::zip(op->getResults(), slots)) {
      auto [host, hostAddress] = hostScalar(loc, result.getType());
      copyBytes(loc, hostAddress, address(loc, slot, {}),
                index(loc, elementBytes(result.getType())));
      result.replaceAllUsesWith(
          memref::LoadOp::create(b, loc, host).getResult());
      memref::DeallocOp::create(b, loc, slot);
    }
    op->erase();
    return finishKernel(kernel);
  }

  LogicalResult hostLoad(memref::LoadOp load) {
    Location loc = load.getLoc();
    b.setInsertionPoint(load);
    Type type = load.getType();
    if (!elementBytes(type))
      return load.emitError("the cuda target cannot read a ") << type;
    auto [host, hostAddress] = hostScalar(loc, type);
    copyBytes(loc, hostAddress,
              address(loc, load.getMemRef(), load.getIndices()),
              index(loc, elementBytes(type)));
    load.replaceAllUsesWith(memref::LoadOp::create(b, loc, host).getResult());
    load.erase();
    return success();
  }

  LogicalResult hostStore(memref::StoreOp store) {
    Location loc = store.getLoc();
    b.setInsertionPoint(store);
    Type type = store.getValueToStore().getType();
    if (!elementBytes(type))
      return store.emitError("the cuda target cannot write a ") << type;
    auto [host, hostAddress] = hostScalar(loc, type);
    memref::StoreOp::create(b, loc, store.getValueToStore(), host);
    copyBytes(loc, address(loc, store.getMemRef(), store.getIndices()),
              hostAddress, index(loc, elementBytes(type)));
    store.erase();
    return success();
  }

  /// Identity layouts: one device-to-device copy; others: a copy kernel.
  LogicalResult deviceCopy(memref::CopyOp copy) {
    Location loc = copy.getLoc();
    b.setInsertionPoint(copy);
    auto source = cast<MemRefType>(copy.getSource().getType());
    auto target = cast<MemRefType>(copy.getTarget().getType());
    if (!elementBytes(source.getElementType()))
      return copy.emitError("the cuda target cannot copy a ") << source;
    if (source.getLayout().isIdentity() && target.getLayout().isIdentity()) {
      SmallVector<Value> origin(source.getRank(), index(loc, 0));
      copyBytes(loc, address(loc, copy.getTarget(), origin),
                address(loc, copy.getSource(), origin),
                byteSize(loc, copy.getSource()));
      copy.erase();
      return success();
    }
    SmallVector<Value> lower, upper, steps;
    for (int64_t d = 0; d < source.getRank(); ++d) {
      lower.push_back(index(loc, 0));
      upper.push_back(memref::DimOp::create(b, loc, copy.getSource(), d));
      steps.push_back(index(loc, 1));
    }
    auto loop = scf::ParallelOp::create(
        b, loc, lower, upper, steps,
        [&](OpBuilder &nested, Location nestedLoc, ValueRange ivs) {
          Value value =
              memref::LoadOp::create(nested, nestedLoc, copy.getSource(), ivs);
          memref::StoreOp::create(nested, nestedLoc, value, copy.getTarget(),
                                  ivs);
        });
    copy.erase();
    return parallelKernel(loop);
  }

  /// A reshape reads its shape on the host (when the result's sizes are not
  /// static): a host copy of the shape takes the device buffer's place.
  LogicalResult hostShape(memref::ReshapeOp reshape) {
    if (reshape.getType().hasStaticShape())
      return success();
    auto shapeType = cast<MemRefType>(reshape.getShape().getType());
    if (!shapeType.hasStaticShape() || !shapeType.getLayout().isIdentity())
      return reshape.emitError("the cuda target reshapes only by a shape of "
                               "static length, not ")
             << shapeType;
    Location loc = reshape.getLoc();
    b.setInsertionPoint(reshape);
    Value host = hostAlloca(loc, shapeType);
    copyBytes(loc, address(loc, host, {}), address(loc, reshape.getShape(), {}),
              byteSize(loc, host));
    reshape.getShapeMutable().set(host);
    return success();
  }

  /// A stack buffer becomes a device buffer freed at the end of its block.
  LogicalResult deviceAlloca(memref::AllocaOp alloca) {
    b.setInsertionPoint(alloca);
    auto alloc = memref::AllocOp::create(
        b, alloca.getLoc(), alloca.getType(), alloca.getDynamicSizes(),
        alloca.getSymbolOperands(), alloca.getAlignmentAttr());
    b.setInsertionPoint(alloca->getBlock()->getTerminator());
    memref::DeallocOp::create(b, alloca.getLoc(), alloc);
    alloca.replaceAllUsesWith(alloc.getResult());
    alloca.erase();
    return success();
  }

  /// Inside a kernel: nested parallel loops run sequentially in their
  /// thread, checks become the device's assertions.
  LogicalResult finishKernel(gpu::LaunchOp kernel) {
    SmallVector<scf::ParallelOp> loops;
    kernel.walk([&](scf::ParallelOp loop) { loops.push_back(loop); });
    IRRewriter rewriter(b.getContext());
    for (scf::ParallelOp loop : loops) {
      rewriter.setInsertionPoint(loop);
      if (failed(scf::parallelForToNestedFors(rewriter, loop)))
        return loop.emitError("the cuda target cannot run this parallel "
                              "loop (with reductions) inside a kernel");
    }
    if (!deviceChecks)
      return success();
    SmallVector<moe::CheckOp> checks;
    kernel.walk([&](moe::CheckOp check) { checks.push_back(check); });
    for (moe::CheckOp check : checks) {
      b.setInsertionPoint(check);
      cf::AssertOp::create(b, check.getLoc(), check.getCondition(),
                           withoutValues(check.getMessage()));
      check.erase();
    }
    return success();
  }

  func::FuncOp function;
  func::FuncOp memcpy;
  bool deviceChecks;
  OpBuilder b;
};

struct CudaOffloadToKernelsPass
    : public cuda::impl::CudaOffloadToKernelsBase<CudaOffloadToKernelsPass> {
  using CudaOffloadToKernelsBase::CudaOffloadToKernelsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    UnitAttr::get(&getContext()));
    OpBuilder b(&getContext());
    auto memcpy = module.lookupSymbol<func::FuncOp>(cuda::kMemcpy);
    if (!memcpy) {
      b.setInsertionPointToStart(module.getBody());
      Type index = b.getIndexType();
      memcpy =
          func::FuncOp::create(b, module.getLoc(), cuda::kMemcpy,
                               b.getFunctionType({index, index, index}, {}));
      memcpy.setPrivate();
    }
    for (auto function : llvm::to_vector(module.getOps<func::FuncOp>()))
      if (!function.isExternal() &&
          failed(Offloader(function, memcpy, deviceChecks).run()))
        return signalPassFailure();
  }
};
} // namespace
