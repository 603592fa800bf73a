//===- ReturnStateInPlace.cpp - No copy of the state on return ------------===//
//
// Deallocation returns a clone of every argument an entry returns; for the
// state, which the runtime owns, the argument itself is returned instead.
//
//===----------------------------------------------------------------------===//

#include "dialects/moe/Transforms/Passes.h"

#include "moec/Runtime/BinaryAbi.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/SmallSet.h"

namespace moec::moe {
#define GEN_PASS_DEF_MOERETURNSTATEINPLACE
#include "dialects/moe/Transforms/Passes.h.inc"
} // namespace moec::moe

using namespace mlir;

/// The argument numbers of entry `func`'s state inputs, as `moec.entries`
/// records them.
static llvm::SmallSet<unsigned, 16> stateArguments(ModuleOp module,
                                                   func::FuncOp func) {
  llvm::SmallSet<unsigned, 16> state;
  auto entries = module->getAttrOfType<ArrayAttr>("moec.entries");
  StringRef name = func.getSymName();
  unsigned index;
  if (!entries || !name.consume_front(MOEC_ABI_ENTRY_PREFIX) ||
      name.getAsInteger(10, index) || index >= entries.size())
    return state;
  auto entry = dyn_cast<DictionaryAttr>(entries[index]);
  auto inputs = entry ? entry.getAs<ArrayAttr>("inputs") : ArrayAttr();
  for (auto [i, input] : llvm::enumerate(inputs ? inputs : ArrayAttr()))
    if (auto dict = dyn_cast<DictionaryAttr>(input); dict && dict.get("state"))
      state.insert(i);
  return state;
}

namespace {
struct MoeReturnStateInPlacePass
    : public moec::moe::impl::MoeReturnStateInPlaceBase<
          MoeReturnStateInPlacePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      llvm::SmallSet<unsigned, 16> state = stateArguments(module, func);
      if (state.empty())
        continue;
      func.walk([&](func::ReturnOp ret) {
        for (OpOperand &operand : ret->getOpOperands()) {
          auto clone = operand.get().getDefiningOp<bufferization::CloneOp>();
          auto argument =
              clone ? dyn_cast<BlockArgument>(clone.getInput()) : nullptr;
          if (!argument || argument.getOwner() != &func.getBody().front() ||
              !state.contains(argument.getArgNumber()) || !clone->hasOneUse())
            continue;
          operand.set(argument);
          clone.erase();
        }
      });
    }
  }
};
} // namespace
