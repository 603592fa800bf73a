//===- WeightsToArguments.cpp - The binary's calling convention -----------===//
//
// After this pass the entry function sees every weight as an argument, in
// the order recorded in `moec.weights`, right after the model inputs.
//
//===----------------------------------------------------------------------===//

#include "targets/cpu/Passes.h"

#include "dialects/moe/IR/MoeOps.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/MapVector.h"

namespace moec::cpu {
#define GEN_PASS_DEF_CPUWEIGHTSTOARGUMENTS
#include "targets/cpu/Passes.h.inc"
} // namespace moec::cpu

using namespace mlir;
using namespace moec;

/// The model's entry function: @main, else the only public definition.
static func::FuncOp findEntry(ModuleOp module) {
  if (auto main = module.lookupSymbol<func::FuncOp>("main"))
    return main;
  func::FuncOp entry;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isDeclaration() || func.isPrivate())
      continue;
    if (entry)
      return {};
    entry = func;
  }
  return entry;
}

/// {name, type} for each input or output; names from `moe.name` attributes.
static ArrayAttr describeValues(Builder &b, TypeRange types,
                                ArrayRef<DictionaryAttr> attrs,
                                StringRef fallback) {
  SmallVector<Attribute> entries;
  for (auto [i, type] : llvm::enumerate(types)) {
    StringAttr name;
    if (i < attrs.size() && attrs[i])
      name = attrs[i].getAs<StringAttr>("moe.name");
    if (!name)
      name = b.getStringAttr(fallback + Twine(i));
    entries.push_back(
        b.getDictionaryAttr({b.getNamedAttr("name", name),
                             b.getNamedAttr("type", TypeAttr::get(type))}));
  }
  return b.getArrayAttr(entries);
}

static Type signlessOf(Type type) {
  auto tensor = cast<RankedTensorType>(type);
  auto integer = dyn_cast<IntegerType>(tensor.getElementType());
  if (!integer || integer.isSignless())
    return type;
  return tensor.clone(IntegerType::get(type.getContext(), integer.getWidth()));
}

/// Unsigned tensors cross the function boundary as signless ones (the
/// bytes are the same; the manifest keeps the dtype). The importer's
/// lowerings compute on signless bitcasts of them, so the bitcasts added
/// here cancel against theirs and nothing unsigned reaches bufferization.
static void makeBoundarySignless(func::FuncOp entry) {
  OpBuilder b(entry.getBody());
  for (BlockArgument arg : entry.getArguments()) {
    Type original = arg.getType();
    Type signless = signlessOf(original);
    if (signless == original)
      continue;
    arg.setType(signless);
    auto cast = tensor::BitcastOp::create(b, arg.getLoc(), original, arg);
    arg.replaceAllUsesExcept(cast, cast);
  }
  entry.walk([&](func::ReturnOp ret) {
    b.setInsertionPoint(ret);
    for (OpOperand &operand : ret->getOpOperands()) {
      Type signless = signlessOf(operand.get().getType());
      if (signless != operand.get().getType())
        operand.set(tensor::BitcastOp::create(b, ret.getLoc(), signless,
                                              operand.get()));
    }
  });
  SmallVector<Type> results;
  for (Type type : entry.getResultTypes())
    results.push_back(signlessOf(type));
  entry.setType(FunctionType::get(entry.getContext(),
                                  entry.front().getArgumentTypes(), results));
}

namespace {
struct CpuWeightsToArgumentsPass
    : public moec::cpu::impl::CpuWeightsToArgumentsBase<
          CpuWeightsToArgumentsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    func::FuncOp entry = findEntry(module);
    if (!entry) {
      module.emitError("no entry function: expected @main or exactly one "
                       "public function");
      return signalPassFailure();
    }
    for (Type type : llvm::concat<const Type>(entry.getArgumentTypes(),
                                              entry.getResultTypes()))
      if (!isa<RankedTensorType>(type)) {
        entry.emitError("the CPU target needs ranked tensor inputs and "
                        "outputs, got ")
            << type;
        return signalPassFailure();
      }
    Builder b(&getContext());
    SmallVector<DictionaryAttr> argAttrs, resultAttrs;
    entry.getAllArgAttrs(argAttrs);
    entry.getAllResultAttrs(resultAttrs);
    module->setAttr("moec.inputs", describeValues(b, entry.getArgumentTypes(),
                                                  argAttrs, "input"));
    module->setAttr("moec.outputs", describeValues(b, entry.getResultTypes(),
                                                   resultAttrs, "output"));
    // The names now live in the module; LLVM has no use for them.
    for (unsigned i = 0; i < entry.getNumArguments(); ++i)
      entry.removeArgAttr(i, "moe.name");
    for (unsigned i = 0; i < entry.getNumResults(); ++i)
      entry.removeResultAttr(i, b.getStringAttr("moe.name"));

    // One argument per distinct weight, in first-use order.
    llvm::MapVector<Attribute, SmallVector<moe::WeightOp>> weights;
    SmallVector<moe::WeightOp> dead;
    entry.walk([&](moe::WeightOp op) {
      if (op->use_empty()) {
        dead.push_back(op);
        return;
      }
      Attribute identity = b.getArrayAttr(
          {op.getKeyAttr(), op.getFileAttr() ? op.getFileAttr() : Attribute(),
           op.getOffsetAttr() ? op.getOffsetAttr() : Attribute(),
           TypeAttr::get(op.getType())});
      weights[identity].push_back(op);
    });
    for (moe::WeightOp op : dead)
      op.erase();
    if (module
            ->walk([&](moe::WeightOp op) {
              if (op->getParentOfType<func::FuncOp>() == entry)
                return WalkResult::advance();
              op.emitError("weights outside the entry function are not "
                           "supported by the CPU target");
              return WalkResult::interrupt();
            })
            .wasInterrupted())
      return signalPassFailure();

    unsigned numInputs = entry.getNumArguments();
    auto readOnly =
        b.getNamedAttr(bufferization::BufferizationDialect::kWritableAttrName,
                       b.getBoolAttr(false));
    for (unsigned i = 0; i < numInputs; ++i)
      entry.setArgAttr(i, readOnly.getName(), readOnly.getValue());
    SmallVector<Attribute> records;
    for (auto &[identity, ops] : weights) {
      moe::WeightOp first = ops.front();
      auto type = cast<RankedTensorType>(first.getType());
      unsigned index = entry.getNumArguments();
      if (failed(entry.insertArgument(
              index, type, b.getDictionaryAttr({readOnly}), first.getLoc())))
        return signalPassFailure();
      SmallVector<NamedAttribute> record = {
          b.getNamedAttr("key", first.getKeyAttr()),
          b.getNamedAttr("type", TypeAttr::get(type))};
      if (first.getFileAttr())
        record.push_back(b.getNamedAttr("file", first.getFileAttr()));
      if (first.getOffsetAttr())
        record.push_back(b.getNamedAttr("offset", first.getOffsetAttr()));
      for (moe::WeightOp op : ops)
        if (Attribute fraction = op->getAttr("moec.routed_fraction")) {
          record.push_back(b.getNamedAttr("routed_fraction", fraction));
          break;
        }
      records.push_back(b.getDictionaryAttr(record));
      for (moe::WeightOp op : ops) {
        op.replaceAllUsesWith(entry.getArgument(index));
        op.erase();
      }
    }
    module->setAttr("moec.weights", b.getArrayAttr(records));
    makeBoundarySignless(entry);
    entry.setName(moec::cpu::kEntryFunction);
    entry->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  }
};
} // namespace
