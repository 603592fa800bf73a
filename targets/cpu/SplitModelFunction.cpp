//===- SplitModelFunction.cpp - The model function in parts of bounded size
//-===//
//
// LLVM's register allocator and instruction selection grow faster than the
// function they compile (a chain of 10,000 nodes spent 49 s in register
// allocation, 2,000 nodes 1.4 s). This pass moves runs of each entry
// function's top-level ops into private functions of bounded size, called
// in order, so that code generation stays linear in the graph's length.
//
//===----------------------------------------------------------------------===//

#include "targets/cpu/Passes.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace moec::cpu {
#define GEN_PASS_DEF_CPUSPLITMODELFUNCTION
#include "targets/cpu/Passes.h.inc"
} // namespace moec::cpu

using namespace mlir;
using namespace moec;

/// Ops each part repeats rather than receives: constants, global addresses.
static bool isRematerializable(Operation *op) {
  return op->getNumOperands() == 0 && op->getNumRegions() == 0 &&
         op->getNumResults() == 1 && isMemoryEffectFree(op);
}

/// Values that can cross a call: buffers and scalars.
static bool canPass(Type type) {
  return isa<BaseMemRefType, IndexType, IntegerType, FloatType, VectorType>(
      type);
}

namespace {
/// Moves runs of a function's top-level ops into functions of their own.
class Splitter {
public:
  Splitter(func::FuncOp func, SymbolTable &symbols)
      : func(func), symbols(symbols), body(func.getBody().front()) {}

  /// Outlines `ops` (consecutive, top-level) as part `index`; leaves them
  /// in place when a value that crosses the boundary cannot be passed.
  void outline(ArrayRef<Operation *> ops, unsigned index);

private:
  func::FuncOp func;
  SymbolTable &symbols;
  Block &body;
  /// Parts follow the function in the order it calls them.
  Operation *lastPart = nullptr;
};
} // namespace

void Splitter::outline(ArrayRef<Operation *> ops, unsigned index) {
  DenseSet<Operation *> inPart(ops.begin(), ops.end());
  // What the part reads from outside (arguments, or ops it repeats) and
  // what the rest of the function reads from the part (results).
  SetVector<Value> liveIns, repeated, liveOuts;
  for (Operation *op : ops) {
    op->walk([&](Operation *nested) {
      for (Value operand : nested->getOperands()) {
        Operation *def = operand.getDefiningOp();
        if (!def) {
          // A nested block's argument belongs to an op of the part.
          if (cast<BlockArgument>(operand).getOwner() == &body)
            liveIns.insert(operand);
          continue;
        }
        Operation *top = body.findAncestorOpInBlock(*def);
        if (inPart.contains(top))
          continue;
        if (def == top && isRematerializable(def))
          repeated.insert(operand);
        else
          liveIns.insert(operand);
      }
    });
    for (Value result : op->getResults())
      for (Operation *user : result.getUsers())
        if (!inPart.contains(body.findAncestorOpInBlock(*user))) {
          liveOuts.insert(result);
          break;
        }
  }
  if (!llvm::all_of(liveIns, [](Value v) { return canPass(v.getType()); }) ||
      !llvm::all_of(liveOuts, [](Value v) { return canPass(v.getType()); }))
    return;

  OpBuilder b(func.getContext());
  b.setInsertionPointAfter(lastPart ? lastPart : func.getOperation());
  std::string name = (func.getName() + cpu::kPartInfix + Twine(index)).str();
  auto part = func::FuncOp::create(
      b, ops.front()->getLoc(), name,
      b.getFunctionType(TypeRange(liveIns.getArrayRef()),
                        TypeRange(liveOuts.getArrayRef())));
  part.setPrivate();
  symbols.insert(part);
  lastPart = part;

  b.setInsertionPoint(ops.front());
  auto call = func::CallOp::create(b, ops.front()->getLoc(), part,
                                   liveIns.getArrayRef());

  Block *entry = part.addEntryBlock();
  IRMapping inside;
  for (auto [value, argument] : llvm::zip(liveIns, entry->getArguments()))
    inside.map(value, argument);
  b.setInsertionPointToStart(entry);
  for (Value value : repeated)
    inside.map(value, b.clone(*value.getDefiningOp())->getResult(0));
  for (Operation *op : ops)
    op->moveBefore(entry, entry->end());
  for (Operation *op : ops)
    op->walk([&](Operation *nested) {
      for (OpOperand &operand : nested->getOpOperands())
        if (Value mapped = inside.lookupOrNull(operand.get()))
          operand.set(mapped);
    });
  b.setInsertionPointToEnd(entry);
  func::ReturnOp::create(b, part.getLoc(), liveOuts.getArrayRef());
  for (auto [liveOut, result] : llvm::zip(liveOuts, call.getResults()))
    Value(liveOut).replaceUsesWithIf(result, [&](OpOperand &use) {
      return !part->isAncestor(use.getOwner());
    });
}

namespace {
struct CpuSplitModelFunctionPass
    : public moec::cpu::impl::CpuSplitModelFunctionBase<
          CpuSplitModelFunctionPass> {
  using CpuSplitModelFunctionBase::CpuSplitModelFunctionBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    SmallVector<func::FuncOp> entries;
    for (auto func : module.getOps<func::FuncOp>())
      if (func.getName().starts_with(cpu::kEntryPrefix) &&
          !func.getName().contains(cpu::kPartInfix))
        entries.push_back(func);
    for (func::FuncOp func : entries)
      split(func, symbols);
  }

  void split(func::FuncOp func, SymbolTable &symbols) {
    if (func.isExternal() || !func.getBody().hasOneBlock())
      return;
    Block &body = func.getBody().front();
    // A stack allocation dies with the part that makes it.
    if (func.walk([](memref::AllocaOp) { return WalkResult::interrupt(); })
            .wasInterrupted())
      return;
    // Runs of top-level ops of about `opsPerPart` ops each, nested ones
    // included; the repeated ones stay.
    SmallVector<SmallVector<Operation *>> runs(1);
    uint64_t weight = 0, total = 0;
    for (Operation &op : body.without_terminator()) {
      if (isRematerializable(&op))
        continue;
      uint64_t size = 0;
      op.walk([&](Operation *) { ++size; });
      if (weight && weight + size > opsPerPart) {
        runs.emplace_back();
        weight = 0;
      }
      runs.back().push_back(&op);
      weight += size;
      total += size;
    }
    if (total <= opsPerPart)
      return;
    Splitter splitter(func, symbols);
    for (auto [index, run] : llvm::enumerate(runs))
      splitter.outline(run, index);
  }
};
} // namespace
