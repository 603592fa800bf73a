//===- MoeDialect.cpp - The moe dialect -----------------------------------===//

#include "dialects/moe/IR/MoeDialect.h"

#include "dialects/moe/IR/MoeOps.h"

#include "mlir/IR/BuiltinOps.h"

using namespace mlir;
using namespace moec::moe;

#include "dialects/moe/IR/MoeDialect.cpp.inc"

void MoeDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/moe/IR/MoeOps.cpp.inc"
      >();
  registerAttributes();
  registerTypes();
  weightStore = std::make_unique<moec::WeightStore>();
}

LogicalResult MoeDialect::verifyOperationAttribute(Operation *op,
                                                   NamedAttribute attribute) {
  if (attribute.getName() != kWeightFilesAttrName)
    return op->emitError("unknown moe dialect attribute '")
           << attribute.getName().getValue() << "'";
  if (!isa<ModuleOp>(op))
    return op->emitError("'") << kWeightFilesAttrName
                              << "' is only allowed on a builtin.module";
  auto files = dyn_cast<ArrayAttr>(attribute.getValue());
  if (!files)
    return op->emitError("'")
           << kWeightFilesAttrName << "' must be an array of file paths";
  for (Attribute file : files) {
    auto path = dyn_cast<StringAttr>(file);
    if (!path || path.getValue().empty())
      return op->emitError("'") << kWeightFilesAttrName
                                << "' entries must be non-empty strings";
  }
  return success();
}
