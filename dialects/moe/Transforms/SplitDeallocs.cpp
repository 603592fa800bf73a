//===- SplitDeallocs.cpp - One bufferization.dealloc per distinct alloc ---===//
//
// Ownership-based deallocation ends a block with one bufferization.dealloc
// of every buffer the block owns. Upstream's simplification splits it by
// checking each buffer against every other, which is quadratic in the
// number of buffers; a buffer that a memref.alloc of its own produced is
// distinct from every other allocation by construction, which this pass
// sees in one linear sweep.
//
//===----------------------------------------------------------------------===//

#include "dialects/moe/Transforms/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace moec::moe {
#define GEN_PASS_DEF_MOESPLITDEALLOCS
#include "dialects/moe/Transforms/Passes.h.inc"
} // namespace moec::moe

using namespace mlir;

namespace {
/// Where a memref's storage comes from, as far as this pass can tell.
struct Origin {
  enum Kind { Allocated, Outside, Unknown } kind;
  /// The allocating result, for Allocated.
  Value allocation;
};
} // namespace

/// Follows views (subview, casts, extract_strided_metadata's base buffer)
/// back to the value that owns the storage.
static Value getViewRoot(Value value) {
  while (auto view = value.getDefiningOp<ViewLikeOpInterface>())
    value = view.getViewSource();
  return value;
}

/// An allocation made inside `func` is distinct from its entry arguments
/// and from globals; anything else (a loop's block argument, an scf.if
/// result) may be any allocation.
static Origin getOrigin(Value value, Block &entry) {
  Value root = getViewRoot(value);
  if (auto arg = dyn_cast<BlockArgument>(root))
    return {arg.getOwner() == &entry ? Origin::Outside : Origin::Unknown, {}};
  Operation *def = root.getDefiningOp();
  if (isa<memref::GetGlobalOp>(def))
    return {Origin::Outside, {}};
  if (hasEffect<MemoryEffects::Allocate>(def, root))
    return {Origin::Allocated, root};
  return {Origin::Unknown, {}};
}

/// Splits `dealloc` into one dealloc per buffer whose allocation no other
/// operand or retained value can share, plus one of the rest; drops buffers
/// whose condition is a constant false.
static void splitDealloc(bufferization::DeallocOp dealloc, Block &entry) {
  llvm::DenseMap<Value, unsigned> uses;
  unsigned unknown = 0;
  auto count = [&](Value value) {
    Origin origin = getOrigin(value, entry);
    if (origin.kind == Origin::Allocated)
      ++uses[origin.allocation];
    else if (origin.kind == Origin::Unknown)
      ++unknown;
  };
  for (Value value : dealloc.getMemrefs())
    count(value);
  for (Value value : dealloc.getRetained())
    count(value);

  OpBuilder b(dealloc);
  SmallVector<Value> memrefs, conditions;
  bool changed = false;
  for (auto [memref, condition] :
       llvm::zip(dealloc.getMemrefs(), dealloc.getConditions())) {
    if (matchPattern(condition, m_Zero())) {
      changed = true;
      continue;
    }
    Origin origin = getOrigin(memref, entry);
    if (origin.kind == Origin::Allocated && unknown == 0 &&
        uses.lookup(origin.allocation) == 1) {
      bufferization::DeallocOp::create(b, dealloc.getLoc(),
                                       ValueRange{origin.allocation},
                                       ValueRange{condition}, ValueRange{});
      changed = true;
      continue;
    }
    memrefs.push_back(memref);
    conditions.push_back(condition);
  }
  if (!changed)
    return;
  // The split buffers alias no retained value, so the retained values'
  // updated conditions are those of the rest.
  auto rest = bufferization::DeallocOp::create(
      b, dealloc.getLoc(), memrefs, conditions, dealloc.getRetained());
  dealloc.replaceAllUsesWith(rest.getUpdatedConditions());
  dealloc.erase();
  if (memrefs.empty() && rest.getRetained().empty())
    rest.erase();
}

namespace {
struct SplitDeallocsPass
    : public moec::moe::impl::MoeSplitDeallocsBase<SplitDeallocsPass> {
  void runOnOperation() override {
    SmallVector<bufferization::DeallocOp> deallocs;
    getOperation()->walk(
        [&](bufferization::DeallocOp op) { deallocs.push_back(op); });
    for (bufferization::DeallocOp dealloc : deallocs) {
      auto func = dealloc->getParentOfType<FunctionOpInterface>();
      if (func)
        splitDealloc(dealloc, func.getFunctionBody().front());
    }
  }
};
} // namespace
