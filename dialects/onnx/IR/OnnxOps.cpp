//===- OnnxOps.cpp - ONNX node operations ---------------------------------===//

#include "dialects/onnx/IR/OnnxOps.h"

#include "mlir/IR/Location.h"

using namespace mlir;
using namespace moec::onnx;

#include "dialects/onnx/IR/OnnxDialect.cpp.inc"

void OnnxDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/onnx/IR/OnnxOps.cpp.inc"
      >();
}

StringRef NodeOp::getNodeName() {
  if (auto name = getLoc()->findInstanceOf<NameLoc>())
    return name.getName().getValue();
  return "";
}

LogicalResult NodeOp::verify() {
  if (getOpType().empty())
    return emitOpError("expects a non-empty op type");
  if (getOpset() < 1)
    return emitOpError("expects an opset of at least 1, got ") << getOpset();
  return success();
}

#define GET_OP_CLASSES
#include "dialects/onnx/IR/OnnxOps.cpp.inc"
