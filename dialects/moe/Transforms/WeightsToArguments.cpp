//===- WeightsToArguments.cpp - The binaries' calling convention ----------===//
//
// After this pass each entry point sees the weights it reads as arguments
// after its inputs, and the module records what the packager and the
// runtime need (include/moec/Runtime/BinaryAbi.h, docs/targets.md).
//
//===----------------------------------------------------------------------===//

#include "dialects/moe/Transforms/Passes.h"

#include "dialects/moe/IR/MoeOps.h"
#include "moec/Runtime/BinaryAbi.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/MapVector.h"

#include <algorithm>

namespace moec::moe {
#define GEN_PASS_DEF_MOEWEIGHTSTOARGUMENTS
#include "dialects/moe/Transforms/Passes.h.inc"
} // namespace moec::moe

using namespace mlir;
using namespace moec;

/// Marks an argument or result as the model's persistent state of that name.
static constexpr llvm::StringLiteral kStateAttr = "moec.state";

/// The model's entry points: every public function definition, @main
/// first.
static SmallVector<func::FuncOp> findEntries(ModuleOp module) {
  SmallVector<func::FuncOp> entries;
  for (auto func : module.getOps<func::FuncOp>())
    if (!func.isDeclaration() && func.isPublic())
      entries.push_back(func);
  std::stable_partition(entries.begin(), entries.end(), [](func::FuncOp func) {
    return func.getName() == "main";
  });
  return entries;
}

/// {name, type[, state]} for each input or output; names from `moe.name`
/// attributes, state from `moec.state`.
static ArrayAttr describeValues(Builder &b, TypeRange types,
                                ArrayRef<DictionaryAttr> attrs,
                                StringRef fallback) {
  SmallVector<Attribute> entries;
  for (auto [i, type] : llvm::enumerate(types)) {
    StringAttr name, state;
    if (i < attrs.size() && attrs[i]) {
      name = attrs[i].getAs<StringAttr>("moe.name");
      state = attrs[i].getAs<StringAttr>(kStateAttr);
    }
    if (!name)
      name = state ? state : b.getStringAttr(fallback + Twine(i));
    SmallVector<NamedAttribute> fields = {
        b.getNamedAttr("name", name),
        b.getNamedAttr("type", TypeAttr::get(type))};
    if (state)
      fields.push_back(b.getNamedAttr("state", state));
    entries.push_back(b.getDictionaryAttr(fields));
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

/// A weight's identity: key, file range and type.
static Attribute weightIdentity(Builder &b, moe::WeightOp op) {
  return b.getArrayAttr({op.getKeyAttr(),
                         op.getFileAttr() ? op.getFileAttr() : Attribute(),
                         op.getOffsetAttr() ? op.getOffsetAttr() : Attribute(),
                         TypeAttr::get(op.getType())});
}

/// The module's weight records (`moec.weights`), one per distinct weight
/// in first-use order over the entries.
struct WeightTable {
  llvm::MapVector<Attribute, DictionaryAttr> records;

  int64_t indexOf(Builder &b, moe::WeightOp op) {
    Attribute identity = weightIdentity(b, op);
    auto found = records.find(identity);
    if (found != records.end())
      return found - records.begin();
    SmallVector<NamedAttribute> record = {
        b.getNamedAttr("key", op.getKeyAttr()),
        b.getNamedAttr("type", TypeAttr::get(op.getType()))};
    if (op.getFileAttr())
      record.push_back(b.getNamedAttr("file", op.getFileAttr()));
    if (op.getOffsetAttr())
      record.push_back(b.getNamedAttr("offset", op.getOffsetAttr()));
    records.insert({identity, b.getDictionaryAttr(record)});
    return int64_t(records.size()) - 1;
  }

  /// Adds `routed_fraction` from an op that carries one.
  void noteFraction(Builder &b, int64_t index, moe::WeightOp op) {
    Attribute fraction = op->getAttr("moec.routed_fraction");
    DictionaryAttr &record = (records.begin() + index)->second;
    if (!fraction || record.get("routed_fraction"))
      return;
    NamedAttrList fields(record);
    fields.set("routed_fraction", fraction);
    record = fields.getDictionary(b.getContext());
  }
};

/// Gives `entry` its calling convention: a weight argument per distinct
/// weight it reads, after its inputs. Returns the entry's record for
/// `moec.entries`, or null after an error.
static DictionaryAttr convertEntry(func::FuncOp entry, int64_t index,
                                   WeightTable &table) {
  Builder b(entry.getContext());
  for (Type type : llvm::concat<const Type>(entry.getArgumentTypes(),
                                            entry.getResultTypes()))
    if (!isa<RankedTensorType>(type)) {
      entry.emitError("an entry point takes and returns ranked tensors, "
                      "got ")
          << type;
      return {};
    }
  SmallVector<DictionaryAttr> argAttrs, resultAttrs;
  entry.getAllArgAttrs(argAttrs);
  entry.getAllResultAttrs(resultAttrs);
  ArrayAttr inputs =
      describeValues(b, entry.getArgumentTypes(), argAttrs, "input");
  ArrayAttr outputs =
      describeValues(b, entry.getResultTypes(), resultAttrs, "output");
  // The names now live in the module; LLVM has no use for them.
  for (unsigned i = 0; i < entry.getNumArguments(); ++i) {
    entry.removeArgAttr(i, "moe.name");
    entry.removeArgAttr(i, kStateAttr);
  }
  for (unsigned i = 0; i < entry.getNumResults(); ++i) {
    entry.removeResultAttr(i, b.getStringAttr("moe.name"));
    entry.removeResultAttr(i, b.getStringAttr(kStateAttr));
  }

  // One argument per distinct weight, in first-use order.
  llvm::MapVector<int64_t, SmallVector<moe::WeightOp>> weights;
  SmallVector<moe::WeightOp> dead;
  entry.walk([&](moe::WeightOp op) {
    if (op->use_empty())
      dead.push_back(op);
    else
      weights[table.indexOf(b, op)].push_back(op);
  });
  for (moe::WeightOp op : dead)
    op.erase();

  // Inputs are read-only, except the state, which the entry may update in
  // place.
  auto writable =
      b.getStringAttr(bufferization::BufferizationDialect::kWritableAttrName);
  for (auto [i, input] : llvm::enumerate(inputs))
    entry.setArgAttr(
        i, writable,
        b.getBoolAttr(bool(cast<DictionaryAttr>(input).get("state"))));
  SmallVector<int64_t> weightIndices;
  for (auto &[weightIndex, ops] : weights) {
    moe::WeightOp first = ops.front();
    unsigned argument = entry.getNumArguments();
    if (failed(entry.insertArgument(
            argument, first.getType(),
            b.getDictionaryAttr(b.getNamedAttr(writable, b.getBoolAttr(false))),
            first.getLoc())))
      return {};
    weightIndices.push_back(weightIndex);
    for (moe::WeightOp op : ops) {
      table.noteFraction(b, weightIndex, op);
      op.replaceAllUsesWith(entry.getArgument(argument));
      op.erase();
    }
  }
  DictionaryAttr record = b.getDictionaryAttr(
      {b.getNamedAttr("name", entry.getNameAttr()),
       b.getNamedAttr("inputs", inputs), b.getNamedAttr("outputs", outputs),
       b.getNamedAttr("weights", b.getDenseI64ArrayAttr(weightIndices))});
  makeBoundarySignless(entry);
  entry.setName((MOEC_ABI_ENTRY_PREFIX + Twine(index)).str());
  entry->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  return record;
}

namespace {
struct WeightsToArgumentsPass
    : public moec::moe::impl::MoeWeightsToArgumentsBase<
          WeightsToArgumentsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> entries = findEntries(module);
    if (entries.empty()) {
      module.emitError("no entry point: the module has no public function");
      return signalPassFailure();
    }
    if (module
            ->walk([&](moe::WeightOp op) {
              if (llvm::is_contained(entries,
                                     op->getParentOfType<func::FuncOp>()))
                return WalkResult::advance();
              op.emitError("weights outside the entry functions are not "
                           "supported");
              return WalkResult::interrupt();
            })
            .wasInterrupted())
      return signalPassFailure();
    Builder b(&getContext());
    WeightTable table;
    SmallVector<Attribute> records;
    for (auto [index, entry] : llvm::enumerate(entries)) {
      DictionaryAttr record = convertEntry(entry, index, table);
      if (!record)
        return signalPassFailure();
      records.push_back(record);
    }
    module->setAttr("moec.entries", b.getArrayAttr(records));
    SmallVector<Attribute> weights;
    for (auto &[identity, record] : table.records)
      weights.push_back(record);
    module->setAttr("moec.weights", b.getArrayAttr(weights));
  }
};
} // namespace
