//===- ExternalizeConstants.cpp - Move large constants to the store -------===//

#include "dialects/moe/Transforms/Passes.h"

#include "dialects/moe/IR/WeightFiles.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

namespace moec::moe {
#define GEN_PASS_DEF_MOEEXTERNALIZECONSTANTS
#include "dialects/moe/Transforms/Passes.h.inc"
} // namespace moec::moe

#define DEBUG_TYPE "moe-externalize-constants"

using namespace mlir;
using namespace moec;
using namespace moec::moe;

/// A readable key for a constant: its name location, else "constant".
static std::string getKeyHint(Location loc) {
  if (auto name = loc->findInstanceOf<NameLoc>())
    return name.getName().str();
  return "constant";
}

namespace {
struct ExternalizeConstantsPass
    : public moec::moe::impl::MoeExternalizeConstantsBase<
          ExternalizeConstantsPass> {
  using Base::Base;

  void runOnOperation() override {
    WeightStore &store =
        getContext().getOrLoadDialect<MoeDialect>()->getWeightStore();
    SmallVector<arith::ConstantOp> candidates;
    getOperation().walk([&](arith::ConstantOp op) {
      auto type = dyn_cast<RankedTensorType>(op.getType());
      if (!type || !type.hasStaticShape())
        return;
      std::optional<rt::DType> dtype = getDType(type.getElementType());
      if (dtype && type.getNumElements() * rt::dtypeSize(*dtype) >= minBytes)
        candidates.push_back(op);
    });
    for (arith::ConstantOp op : candidates) {
      auto type = cast<RankedTensorType>(op.getType());
      std::optional<std::vector<uint8_t>> bytes =
          getConstantBytes(op.getValue());
      if (!bytes) {
        op.emitWarning("constant stays inline: its storage cannot be read");
        continue;
      }
      std::string key = store.addBlob(getKeyHint(op.getLoc()),
                                      *getDType(type.getElementType()),
                                      type.getShape(), std::move(*bytes));
      OpBuilder builder(op);
      auto weight = WeightOp::create(builder, op.getLoc(), type, key);
      op.replaceAllUsesWith(weight.getResult());
      op.erase();
    }
  }
};
} // namespace
