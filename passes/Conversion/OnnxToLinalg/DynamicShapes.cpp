//===- DynamicShapes.cpp - Shape vectors and run-time extent checks -------===//
//
// Exporters compute shapes at run time: torch writes index_add_ as a
// ScatterElements whose indices and updates come from Expand(..., Shape(...))
// chains, and repeat() as a Tile. These helpers keep what is static in such
// shapes (a shape vector built from tensor.dim and constants keeps its
// constant entries one by one) and check at run time what is not, so that a
// mismatch stops the program with a message naming the node instead of
// reading or writing out of bounds.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/OnnxToLinalg/NodeLowering.h"

#include "dialects/moe/IR/MoeOps.h"

#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace moec;
using namespace moec::onnx_lowering;

LogicalResult NodeLowering::requireAtRunTime(Value condition,
                                             const Twine &message) {
  if (std::optional<int64_t> known = getConstantIntValue(condition)) {
    if (*known != 0)
      return success();
    return error() << message, failure();
  }
  assertAt(b, loc, condition, message);
  return success();
}

void NodeLowering::assertAt(OpBuilder &builder, Location at, Value condition,
                            const Twine &message) {
  cf::AssertOp::create(builder, at, condition,
                       builder.getStringAttr(describe() + ": " + message));
}

Value NodeLowering::checkedIndex(OpBuilder &builder, Location at, Value element,
                                 Value dim, int64_t dataDim) {
  Value index = wrapIndex(builder, at, element, dim);
  moe::CheckOp::create(
      builder, at, indexInRange(builder, at, index, dim),
      builder.getStringAttr(moe::escapeCheckText(describe()) +
                            ": index {0} is outside [-{1}, {1}) on "
                            "data dimension " +
                            Twine(dataDim)),
      ValueRange{element, dim});
  return index;
}

LogicalResult NodeLowering::requireExtent(arith::CmpIPredicate predicate,
                                          Value a, int64_t aDim,
                                          StringRef aName, Value other,
                                          int64_t bDim, StringRef bName) {
  OpFoldResult sa = getResolvedSize(b, loc, a, aDim);
  OpFoldResult sb = getResolvedSize(b, loc, other, bDim);
  bool equal = predicate == arith::CmpIPredicate::eq;
  StringRef relation = equal ? "must equal" : "must not exceed";
  std::optional<int64_t> ca = getConstantIntValue(sa);
  std::optional<int64_t> cb = getConstantIntValue(sb);
  if (ca && cb) {
    if (equal ? *ca == *cb : *ca <= *cb)
      return success();
    return error() << "dimension " << aDim << " of the " << aName << " (" << *ca
                   << ") " << relation << " dimension " << bDim << " of the "
                   << bName << " (" << *cb << ")",
           failure();
  }
  return requireAtRunTime(compareIndex(b, loc, predicate, sa, sb),
                          "dimension " + Twine(aDim) + " of the " + aName +
                              " " + relation + " dimension " + Twine(bDim) +
                              " of the " + bName + " (at run time)");
}

std::optional<SmallVector<OpFoldResult>>
onnx_lowering::getVectorElements(Value value) {
  auto type =
      value ? dyn_cast<RankedTensorType>(value.getType()) : RankedTensorType();
  if (!type || !type.hasStaticShape() || type.getRank() > 1 ||
      type.getNumElements() > kMaxRank ||
      !(type.getElementType().isSignlessInteger(32) ||
        type.getElementType().isSignlessInteger(64)))
    return std::nullopt;
  MLIRContext *context = value.getContext();
  auto known = [&](int64_t v) -> OpFoldResult {
    return IntegerAttr::get(IntegerType::get(context, 64), v);
  };
  SmallVector<OpFoldResult> elements;
  if (std::optional<SmallVector<int64_t>> ints = getConstantInts(value)) {
    for (int64_t v : *ints)
      elements.push_back(known(v));
    return elements;
  }
  auto fromElements = value.getDefiningOp<tensor::FromElementsOp>();
  if (!fromElements)
    return std::nullopt;
  for (Value element : fromElements.getElements()) {
    APInt constant;
    if (matchPattern(element, m_ConstantInt(&constant)))
      elements.push_back(known(constant.getSExtValue()));
    else
      elements.push_back(element);
  }
  return elements;
}

Value onnx_lowering::buildVector(OpBuilder &b, Location loc,
                                 RankedTensorType type,
                                 ArrayRef<OpFoldResult> elements) {
  Type elementType = type.getElementType();
  if (std::optional<SmallVector<int64_t>> ints = getConstantIntValues(elements))
    return intTensorConstant(b, loc, type.getShape(), elementType, *ints);
  SmallVector<Value> values;
  for (OpFoldResult element : elements) {
    if (std::optional<int64_t> v = getConstantIntValue(element)) {
      values.push_back(
          arith::ConstantOp::create(b, loc, b.getIntegerAttr(elementType, *v)));
      continue;
    }
    Value value = cast<Value>(element);
    if (value.getType() != elementType)
      value =
          value.getType().isIndex()
              ? Value(arith::IndexCastOp::create(b, loc, elementType, value))
              : convertScalar(b, loc, value, elementType, false, false);
    values.push_back(value);
  }
  return tensor::FromElementsOp::create(b, loc, type, values);
}

/// An index from a shape entry, looking through the index_cast that Shape
/// wraps around a tensor.dim.
static OpFoldResult entryAsIndex(OpBuilder &b, Location loc,
                                 OpFoldResult entry) {
  if (std::optional<int64_t> v = getConstantIntValue(entry))
    return b.getIndexAttr(*v);
  Value value = cast<Value>(entry);
  if (auto cast = value.getDefiningOp<arith::IndexCastOp>())
    if (cast.getIn().getType().isIndex())
      return cast.getIn();
  return toIndex(b, loc, value);
}

SmallVector<OpFoldResult> onnx_lowering::getIndexEntries(OpBuilder &b,
                                                         Location loc,
                                                         Value vector,
                                                         int64_t length) {
  SmallVector<OpFoldResult> entries;
  if (std::optional<SmallVector<int64_t>> ints = getConstantInts(vector)) {
    for (int64_t v : *ints)
      entries.push_back(b.getIndexAttr(v));
    return entries;
  }
  if (std::optional<SmallVector<OpFoldResult>> elements =
          getVectorElements(vector)) {
    for (OpFoldResult element : *elements)
      entries.push_back(entryAsIndex(b, loc, element));
    return entries;
  }
  Value signless = toSignless(b, loc, vector);
  for (int64_t i = 0; i < length; ++i)
    entries.push_back(
        toIndex(b, loc,
                tensor::ExtractOp::create(
                    b, loc, signless, ValueRange{indexConstant(b, loc, i)})));
  return entries;
}

OpFoldResult onnx_lowering::getResolvedSize(OpBuilder &b, Location loc,
                                            Value tensor, int64_t dim) {
  auto type = cast<RankedTensorType>(tensor.getType());
  if (!type.isDynamicDim(dim))
    return b.getIndexAttr(type.getDimSize(dim));
  // Follow the ops that state their result's extents, so that two tensors
  // sized by one tensor.dim compare equal without a run-time check.
  Operation *op = tensor.getDefiningOp();
  if (auto empty = dyn_cast_or_null<tensor::EmptyOp>(op))
    return empty.getMixedSizes()[dim];
  if (auto expand = dyn_cast_or_null<tensor::ExpandShapeOp>(op))
    return expand.getMixedOutputShape()[dim];
  if (auto cast = dyn_cast_or_null<tensor::CastOp>(op))
    if (auto source = dyn_cast<RankedTensorType>(cast.getSource().getType());
        source && source.getRank() == type.getRank())
      return getResolvedSize(b, loc, cast.getSource(), dim);
  if (auto bitcast = dyn_cast_or_null<tensor::BitcastOp>(op))
    return getResolvedSize(b, loc, bitcast.getSource(), dim);
  if (auto dps = dyn_cast_or_null<DestinationStyleOpInterface>(op))
    return getResolvedSize(
        b, loc,
        dps.getDpsInitOperand(cast<OpResult>(tensor).getResultNumber())->get(),
        dim);
  return tensor::getMixedSize(b, loc, tensor, dim);
}

bool onnx_lowering::isKnownNonNegative(OpFoldResult size) {
  if (std::optional<int64_t> v = getConstantIntValue(size))
    return *v >= 0;
  Operation *op = cast<Value>(size).getDefiningOp();
  if (!op)
    return false;
  if (isa<tensor::DimOp>(op))
    return true;
  if (auto cast = dyn_cast<arith::IndexCastOp>(op))
    return cast.getIn().getType().isIndex() && isKnownNonNegative(cast.getIn());
  if (auto select = dyn_cast<arith::SelectOp>(op))
    return isKnownNonNegative(select.getTrueValue()) &&
           isKnownNonNegative(select.getFalseValue());
  auto nonNegative = [](Value operand) { return isKnownNonNegative(operand); };
  if (isa<arith::MaxSIOp>(op))
    return llvm::any_of(op->getOperands(), nonNegative);
  if (isa<arith::MinSIOp, arith::MulIOp, arith::AddIOp, arith::DivUIOp,
          arith::CeilDivUIOp>(op))
    return llvm::all_of(op->getOperands(), nonNegative);
  return false;
}

Value onnx_lowering::compareIndex(OpBuilder &b, Location loc,
                                  arith::CmpIPredicate predicate,
                                  OpFoldResult lhs, OpFoldResult rhs) {
  if (predicate == arith::CmpIPredicate::sge && isConstantIntValue(rhs, 0) &&
      isKnownNonNegative(lhs))
    return arith::ConstantOp::create(b, loc, b.getBoolAttr(true));
  return b.createOrFold<arith::CmpIOp>(
      loc, predicate, getValueOrCreateConstantIndexOp(b, loc, lhs),
      getValueOrCreateConstantIndexOp(b, loc, rhs));
}

Value onnx_lowering::wrapIndex(OpBuilder &b, Location loc, Value element,
                               Value dim) {
  Value index = toIndex(b, loc, element);
  Value negative = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                         index, indexConstant(b, loc, 0));
  return arith::SelectOp::create(
      b, loc, negative, arith::AddIOp::create(b, loc, index, dim), index);
}

bool onnx_lowering::isIndexTensor(Value v) {
  Type element = getElementType(v);
  return element.isSignlessInteger(32) || element.isSignlessInteger(64);
}

Value onnx_lowering::indexInRange(OpBuilder &b, Location loc, Value value,
                                  Value size) {
  // Unsigned: a negative index is a huge one.
  return b.createOrFold<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, value,
                                       size);
}
