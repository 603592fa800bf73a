//===- MoeTypes.cpp - moe dialect types -----------------------------------===//

#include "dialects/moe/IR/MoeTypes.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace moec::moe;

#define GET_TYPEDEF_CLASSES
#include "dialects/moe/IR/MoeTypes.cpp.inc"

void MoeDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialects/moe/IR/MoeTypes.cpp.inc"
      >();
}

LogicalResult PackedType::verify(function_ref<InFlightDiagnostic()> emitError,
                                 RankedTensorType tensorType,
                                 PackingAttr packing) {
  if (!tensorType.hasStaticShape() || tensorType.getRank() == 0)
    return emitError() << "packed weight needs a static shape of rank >= 1, "
                          "got "
                       << tensorType;
  if (!isa<FloatType>(tensorType.getElementType()))
    return emitError() << "packed weight's logical element type must be a "
                          "float type, got "
                       << tensorType.getElementType();
  if (static_cast<int64_t>(packing.getBlock().size()) != tensorType.getRank())
    return emitError() << "packing block has " << packing.getBlock().size()
                       << " entries but the weight has rank "
                       << tensorType.getRank();
  int64_t innermost = tensorType.getShape().back();
  if ((innermost * packing.getBits()) % 8 != 0)
    return emitError() << "innermost dimension " << innermost << " of "
                       << packing.getBits()
                       << "-bit elements does not fill whole bytes";
  return success();
}

SmallVector<int64_t> PackedType::getPackedShape() const {
  SmallVector<int64_t> shape(getTensorType().getShape());
  shape.back() = shape.back() * getPacking().getBits() / 8;
  return shape;
}

SmallVector<int64_t> PackedType::getScaleShape() const {
  SmallVector<int64_t> shape;
  for (auto [dim, block] :
       llvm::zip_equal(getTensorType().getShape(), getPacking().getBlock()))
    shape.push_back(llvm::divideCeil(dim, block));
  return shape;
}
