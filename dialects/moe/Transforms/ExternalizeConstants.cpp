//===- ExternalizeConstants.cpp - Move large constants to the store -------===//

#include "dialects/moe/Transforms/Passes.h"

#include "dialects/moe/IR/WeightFiles.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/BuiltinAttributes.h"

namespace moec::moe {
#define GEN_PASS_DEF_MOEEXTERNALIZECONSTANTS
#include "dialects/moe/Transforms/Passes.h.inc"
} // namespace moec::moe

#define DEBUG_TYPE "moe-externalize-constants"

using namespace mlir;
using namespace moec;
using namespace moec::moe;

/// The little-endian bytes of a constant tensor, one element after another,
/// or std::nullopt when the store cannot hold its element type.
static std::optional<std::vector<uint8_t>> getConstantBytes(Attribute value) {
  auto shaped = dyn_cast<ShapedType>(cast<TypedAttr>(value).getType());
  std::optional<rt::DType> dtype = getDType(shaped.getElementType());
  if (!dtype)
    return std::nullopt;
  size_t elementSize = rt::dtypeSize(*dtype);
  size_t numElements = shaped.getNumElements();
  std::vector<uint8_t> bytes;
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(value)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob || blob->getData().size() != numElements * elementSize)
      return std::nullopt;
    ArrayRef<char> data = blob->getData();
    bytes.assign(data.begin(), data.end());
    return bytes;
  }
  auto dense = dyn_cast<DenseElementsAttr>(value);
  if (!dense)
    return std::nullopt;
  if (*dtype == rt::DType::Bool) {
    for (bool element : dense.getValues<bool>())
      bytes.push_back(element);
    return bytes;
  }
  ArrayRef<char> raw = dense.getRawData();
  if (dense.isSplat()) {
    // A splat stores one element; the store holds them all.
    bytes.reserve(numElements * elementSize);
    for (size_t i = 0; i < numElements; ++i)
      bytes.insert(bytes.end(), raw.begin(), raw.begin() + elementSize);
  } else {
    bytes.assign(raw.begin(), raw.end());
  }
  return bytes;
}

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
      std::string key =
          store.addBlob(getKeyHint(op.getLoc()),
                        *getDType(type.getElementType()), type.getShape(),
                        std::move(*bytes));
      OpBuilder builder(op);
      auto weight = WeightOp::create(builder, op.getLoc(), type, key);
      op.replaceAllUsesWith(weight.getResult());
      op.erase();
    }
  }
};
} // namespace
