//===- NodeLowering.cpp - Helpers shared by the ONNX lowerings ------------===//

#include "passes/Conversion/OnnxToLinalg/NodeLowering.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/Sequence.h"

using namespace mlir;
using namespace moec;
using namespace moec::onnx_lowering;

std::string onnx_lowering::loweringKey(StringRef domain, StringRef opType) {
  return (domain + "::" + opType).str();
}

//===----------------------------------------------------------------------===//
// NodeLowering
//===----------------------------------------------------------------------===//

Value NodeLowering::input(unsigned i) {
  if (i >= numInputs())
    return nullptr;
  Value value = node.getInputs()[i];
  return isa<NoneType>(value.getType()) ? nullptr : value;
}

FailureOr<Value> NodeLowering::rankedInput(unsigned i) {
  Value value = input(i);
  if (!value)
    return error() << "expects input " << i, failure();
  if (!isa<RankedTensorType>(value.getType()))
    return error() << "needs a known rank for input " << i << ", got "
                   << value.getType()
                   << " (declare the input's shape or use --input-shape)",
           failure();
  return value;
}

FailureOr<SmallVector<Value>> NodeLowering::variadicInputs() {
  SmallVector<Value> inputs;
  for (unsigned i = 0; i < numInputs(); ++i) {
    FailureOr<Value> value = rankedInput(i);
    if (failed(value))
      return failure();
    inputs.push_back(*value);
  }
  if (inputs.empty())
    return error() << "expects at least one input", failure();
  return inputs;
}

int64_t NodeLowering::intAttr(StringRef name, int64_t fallback) {
  if (auto attr = node->getAttrOfType<IntegerAttr>(name))
    return attr.getInt();
  return fallback;
}

double NodeLowering::floatAttr(StringRef name, double fallback) {
  if (auto attr = node->getAttrOfType<FloatAttr>(name))
    return attr.getValueAsDouble();
  return fallback;
}

StringRef NodeLowering::stringAttr(StringRef name, StringRef fallback) {
  if (auto attr = node->getAttrOfType<StringAttr>(name))
    return attr.getValue();
  return fallback;
}

std::optional<SmallVector<int64_t>> NodeLowering::intsAttr(StringRef name) {
  if (auto attr = node->getAttrOfType<DenseI64ArrayAttr>(name))
    return SmallVector<int64_t>(attr.asArrayRef());
  return std::nullopt;
}

std::string NodeLowering::describe() {
  StringRef name = node.getNodeName();
  std::string quoted = name.empty() ? "" : ("'" + name + "' ").str();
  return ("node " + quoted + "(op type '" + node.getOpType() + "', domain '" +
          node.getDomainName() + "', opset " + Twine(node.getOpset()) + ")")
      .str();
}

InFlightDiagnostic NodeLowering::error() {
  return emitError(loc) << describe() << ": ";
}

LogicalResult NodeLowering::normalizeAxes(SmallVectorImpl<int64_t> &axes,
                                          int64_t rank) {
  for (int64_t &axis : axes) {
    FailureOr<int64_t> normalized = normalizeAxis(axis, rank);
    if (failed(normalized))
      return failure();
    axis = *normalized;
  }
  llvm::sort(axes);
  return success();
}

FailureOr<int64_t> NodeLowering::vectorInput(unsigned i, StringRef what) {
  Value value = input(i);
  auto type =
      value ? dyn_cast<RankedTensorType>(value.getType()) : RankedTensorType();
  if (!type || type.getRank() != 1 || type.isDynamicDim(0) ||
      !type.getElementType().isInteger() || type.getDimSize(0) > kMaxRank)
    return error() << "expects " << what
                   << " as a 1-D integer tensor of static length at most "
                   << kMaxRank << ", got "
                   << (value ? value.getType() : Type()),
           failure();
  return type.getDimSize(0);
}

FailureOr<Type> NodeLowering::outputElementType(unsigned i) {
  if (i >= numOutputs())
    return error() << "has no output " << i, failure();
  auto type = dyn_cast<ShapedType>(node.getResult(i).getType());
  if (!type)
    return error() << "has no valid element type for output " << i
                   << " (a missing or unsupported type attribute)",
           failure();
  return type.getElementType();
}

LogicalResult NodeLowering::requireElementType(ValueRange values, Type type) {
  for (Value value : values)
    if (value && getElementType(value) != type)
      return error() << "expects element type " << type << ", got "
                     << value.getType();
  return success();
}

FailureOr<int64_t> NodeLowering::normalizeAxis(int64_t axis, int64_t rank,
                                               StringRef what) {
  if (axis < -rank || axis >= rank)
    return error() << what << " " << axis << " is out of range for rank "
                   << rank,
           failure();
  return axis < 0 ? axis + rank : axis;
}

//===----------------------------------------------------------------------===//
// Types and scalars
//===----------------------------------------------------------------------===//

Type onnx_lowering::getElementType(Value tensor) {
  return cast<ShapedType>(tensor.getType()).getElementType();
}

bool onnx_lowering::isUnsignedInteger(Type type) {
  auto integer = dyn_cast<IntegerType>(type);
  return integer && integer.isUnsigned();
}

Type onnx_lowering::toSignlessType(Type type) {
  auto integer = dyn_cast<IntegerType>(type);
  if (!integer || integer.isSignless())
    return type;
  return IntegerType::get(type.getContext(), integer.getWidth());
}

Value onnx_lowering::toSignless(OpBuilder &b, Location loc, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  Type signless = toSignlessType(type.getElementType());
  if (signless == type.getElementType())
    return tensor;
  // A constant is re-typed at compile time: tensor.bitcast does not
  // bufferize.
  DenseElementsAttr dense;
  if (matchPattern(tensor, m_Constant(&dense)))
    return arith::ConstantOp::create(b, loc, dense.bitcast(signless));
  return tensor::BitcastOp::create(b, loc, type.clone(signless), tensor);
}

Value onnx_lowering::fromSignless(OpBuilder &b, Location loc, Value tensor,
                                  Type elementType) {
  auto type = cast<RankedTensorType>(tensor.getType());
  if (type.getElementType() == elementType)
    return tensor;
  return tensor::BitcastOp::create(b, loc, type.clone(elementType), tensor);
}

Value onnx_lowering::scalarConstant(OpBuilder &b, Location loc, Type type,
                                    double value) {
  if (auto floatType = dyn_cast<FloatType>(type))
    return arith::ConstantOp::create(b, loc, b.getFloatAttr(floatType, value));
  if (isa<IndexType>(type))
    return arith::ConstantIndexOp::create(b, loc, static_cast<int64_t>(value));
  return arith::ConstantOp::create(
      b, loc, b.getIntegerAttr(type, static_cast<int64_t>(value)));
}

Value onnx_lowering::indexConstant(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

Value onnx_lowering::convertScalar(OpBuilder &b, Location loc, Value value,
                                   Type to, bool fromUnsigned,
                                   bool toUnsigned) {
  Type from = value.getType();
  if (from == to)
    return value;
  auto fromFloat = dyn_cast<FloatType>(from);
  auto toFloat = dyn_cast<FloatType>(to);
  if (to.isInteger(1)) {
    Value zero = scalarConstant(b, loc, from, 0);
    if (fromFloat)
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, value,
                                   zero);
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, value, zero);
  }
  if (fromFloat && toFloat)
    return fromFloat.getWidth() < toFloat.getWidth()
               ? Value(arith::ExtFOp::create(b, loc, to, value))
               : Value(arith::TruncFOp::create(b, loc, to, value));
  if (fromFloat)
    return toUnsigned ? Value(arith::FPToUIOp::create(b, loc, to, value))
                      : Value(arith::FPToSIOp::create(b, loc, to, value));
  // Booleans are 0 or 1, never -1.
  bool zeroExtend = fromUnsigned || from.isInteger(1);
  if (toFloat)
    return zeroExtend ? Value(arith::UIToFPOp::create(b, loc, to, value))
                      : Value(arith::SIToFPOp::create(b, loc, to, value));
  unsigned fromWidth = from.getIntOrFloatBitWidth();
  unsigned toWidth = to.getIntOrFloatBitWidth();
  if (fromWidth > toWidth)
    return arith::TruncIOp::create(b, loc, to, value);
  return zeroExtend ? Value(arith::ExtUIOp::create(b, loc, to, value))
                    : Value(arith::ExtSIOp::create(b, loc, to, value));
}

Value onnx_lowering::toIndex(OpBuilder &b, Location loc, Value value) {
  if (value.getType().isIndex())
    return value;
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), value);
}

//===----------------------------------------------------------------------===//
// Shapes
//===----------------------------------------------------------------------===//

SmallVector<OpFoldResult> onnx_lowering::getSizes(OpBuilder &b, Location loc,
                                                  Value tensor) {
  return tensor::getMixedSizes(b, loc, tensor);
}

Value onnx_lowering::getDim(OpBuilder &b, Location loc, Value tensor,
                            int64_t dim) {
  return getValueOrCreateConstantIndexOp(
      b, loc, tensor::getMixedSize(b, loc, tensor, dim));
}

Value onnx_lowering::emptyTensor(OpBuilder &b, Location loc,
                                 ArrayRef<OpFoldResult> sizes,
                                 Type elementType) {
  return tensor::EmptyOp::create(b, loc, sizes, elementType);
}

Value onnx_lowering::filledTensor(OpBuilder &b, Location loc,
                                  ArrayRef<OpFoldResult> sizes, Value value) {
  Value empty = emptyTensor(b, loc, sizes, value.getType());
  return linalg::FillOp::create(b, loc, value, empty).getResult(0);
}

std::optional<SmallVector<int64_t>>
onnx_lowering::getConstantInts(Value value) {
  DenseIntElementsAttr attr;
  if (!value || !matchPattern(value, m_Constant(&attr)) ||
      attr.getNumElements() > (1 << 16))
    return std::nullopt;
  bool isUnsigned = isUnsignedInteger(attr.getElementType());
  SmallVector<int64_t> result;
  for (const APInt &element : attr.getValues<APInt>())
    result.push_back(isUnsigned || element.getBitWidth() == 1
                         ? static_cast<int64_t>(element.getZExtValue())
                         : element.getSExtValue());
  return result;
}

Value onnx_lowering::intTensorConstant(OpBuilder &b, Location loc,
                                       ArrayRef<int64_t> shape,
                                       Type elementType,
                                       ArrayRef<int64_t> values) {
  auto type = RankedTensorType::get(shape, elementType);
  SmallVector<APInt> bits;
  unsigned width = elementType.getIntOrFloatBitWidth();
  for (int64_t v : values)
    bits.emplace_back(width, static_cast<uint64_t>(v), /*isSigned=*/true,
                      /*implicitTrunc=*/true);
  return arith::ConstantOp::create(b, loc, type,
                                   DenseElementsAttr::get(type, bits));
}

Value onnx_lowering::reshapeTo(OpBuilder &b, Location loc, Value tensor,
                               ArrayRef<OpFoldResult> sizes) {
  auto type = cast<RankedTensorType>(tensor.getType());
  SmallVector<int64_t> staticShape;
  SmallVector<Value> dynamic;
  dispatchIndexOpFoldResults(sizes, dynamic, staticShape);
  auto resultType = RankedTensorType::get(staticShape, type.getElementType());
  if (resultType == type)
    return tensor;
  SmallVector<Value> sizeValues;
  for (OpFoldResult size : sizes)
    sizeValues.push_back(getValueOrCreateConstantIndexOp(b, loc, size));
  Value shape = tensor::FromElementsOp::create(
      b, loc,
      RankedTensorType::get({static_cast<int64_t>(sizeValues.size())},
                            b.getIndexType()),
      sizeValues);
  return tensor::ReshapeOp::create(b, loc, resultType, tensor, shape);
}

//===----------------------------------------------------------------------===//
// Generic builders
//===----------------------------------------------------------------------===//

FailureOr<Value> onnx_lowering::buildElementwise(NodeLowering &node,
                                                 ValueRange inputs,
                                                 Type resultElementType,
                                                 const ScalarBody &body) {
  OpBuilder &b = node.b;
  Location loc = node.loc;
  int64_t rank = 0;
  SmallVector<Value> signless;
  for (Value input : inputs) {
    auto type = dyn_cast<RankedTensorType>(input.getType());
    if (!type)
      return node.error() << "needs ranked inputs, got " << input.getType(),
             failure();
    rank = std::max(rank, type.getRank());
    signless.push_back(toSignless(b, loc, input));
  }
  // Result sizes: a static size other than 1 wins; dynamic sizes of
  // several inputs must agree at run time (or be 1), so their maximum is it.
  SmallVector<OpFoldResult> sizes;
  SmallVector<SmallVector<AffineExpr>> exprs(inputs.size());
  for (int64_t d = 0; d < rank; ++d) {
    std::optional<int64_t> staticSize;
    SmallVector<Value> dynamicSizes;
    for (auto [i, input] : llvm::enumerate(signless)) {
      auto type = cast<RankedTensorType>(input.getType());
      int64_t dim = d - (rank - type.getRank());
      if (dim < 0)
        continue;
      int64_t size = type.getDimSize(dim);
      if (ShapedType::isDynamic(size)) {
        Value resolved = getValueOrCreateConstantIndexOp(
            b, loc, getResolvedSize(b, loc, input, dim));
        if (!llvm::is_contained(dynamicSizes, resolved))
          dynamicSizes.push_back(resolved);
      } else if (size != 1) {
        if (staticSize && *staticSize != size)
          return node.error() << "cannot broadcast dimension of size "
                              << *staticSize << " with one of size " << size,
                 failure();
        staticSize = size;
      }
    }
    if (staticSize) {
      sizes.push_back(b.getIndexAttr(*staticSize));
    } else if (dynamicSizes.empty()) {
      sizes.push_back(b.getIndexAttr(1));
    } else {
      Value size = dynamicSizes.front();
      for (Value other : llvm::drop_begin(dynamicSizes))
        size = arith::MaxUIOp::create(b, loc, size, other);
      sizes.push_back(size);
    }
  }
  for (auto [i, input] : llvm::enumerate(signless)) {
    auto type = cast<RankedTensorType>(input.getType());
    for (int64_t dim = 0; dim < type.getRank(); ++dim) {
      int64_t d = dim + (rank - type.getRank());
      bool broadcast =
          type.getDimSize(dim) == 1 && !(isConstantIntValue(sizes[d], 1));
      exprs[i].push_back(broadcast ? b.getAffineConstantExpr(0)
                                   : b.getAffineDimExpr(d));
      // A dynamic dimension is read as the result's: one that is 1 at run
      // time where the result is larger would be read out of bounds.
      if (type.isDynamicDim(dim) &&
          failed(node.requireAtRunTime(
              compareIndex(b, loc, arith::CmpIPredicate::eq,
                           getResolvedSize(b, loc, input, dim), sizes[d]),
              "dimension " + Twine(dim) + " of input " + Twine(i) +
                  " differs from the broadcast result's at run time (only "
                  "dimensions of static size 1 broadcast)")))
        return failure();
    }
  }
  Type signlessResult = toSignlessType(resultElementType);
  Value init = emptyTensor(b, loc, sizes, signlessResult);
  SmallVector<AffineMap> maps;
  for (auto &inputExprs : exprs)
    maps.push_back(AffineMap::get(rank, 0, inputExprs, b.getContext()));
  maps.push_back(b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), signless, init, maps, iterators,
      [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
        Value result = body(nested, nestedLoc, args.drop_back());
        linalg::YieldOp::create(nested, nestedLoc, result);
      });
  return fromSignless(b, loc, generic.getResult(0), resultElementType);
}

Value onnx_lowering::buildParallelGeneric(
    OpBuilder &b, Location loc, Value init, ValueRange inputs,
    ArrayRef<AffineMap> inputMaps,
    function_ref<void(OpBuilder &, Location, ValueRange)> body) {
  int64_t rank = cast<RankedTensorType>(init.getType()).getRank();
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(b.getMultiDimIdentityMap(rank));
  return linalg::GenericOp::create(b, loc, init.getType(), inputs, init, maps,
                                   SmallVector<utils::IteratorType>(
                                       rank, utils::IteratorType::parallel),
                                   body)
      .getResult(0);
}

Value onnx_lowering::buildContraction(OpBuilder &b, Location loc, Value lhs,
                                      Value rhs, Value init,
                                      ArrayRef<AffineMap> maps) {
  unsigned loops = maps.front().getNumDims();
  SmallVector<utils::IteratorType> iterators(loops,
                                             utils::IteratorType::parallel);
  iterators.back() = utils::IteratorType::reduction;
  return linalg::GenericOp::create(
             b, loc, init.getType(), ValueRange{lhs, rhs}, init, maps,
             iterators,
             [](OpBuilder &nb, Location l, ValueRange args) {
               Value x = args[0], y = args[1], acc = args[2];
               Value sum =
                   isa<FloatType>(x.getType())
                       ? Value(arith::AddFOp::create(
                             nb, l, acc, arith::MulFOp::create(nb, l, x, y)))
                       : Value(arith::AddIOp::create(
                             nb, l, acc, arith::MulIOp::create(nb, l, x, y)));
               linalg::YieldOp::create(nb, l, sum);
             })
      .getResult(0);
}

Value onnx_lowering::buildReduction(OpBuilder &b, Location loc, Value input,
                                    ArrayRef<int64_t> axes, bool keepDims,
                                    Value init, const ScalarBody &body) {
  auto type = cast<RankedTensorType>(input.getType());
  int64_t rank = type.getRank();
  SmallVector<OpFoldResult> sizes;
  SmallVector<AffineExpr> outExprs;
  SmallVector<utils::IteratorType> iterators;
  for (int64_t d = 0; d < rank; ++d) {
    bool reduced = llvm::is_contained(axes, d);
    iterators.push_back(reduced ? utils::IteratorType::reduction
                                : utils::IteratorType::parallel);
    if (reduced)
      continue;
    sizes.push_back(tensor::getMixedSize(b, loc, input, d));
    outExprs.push_back(b.getAffineDimExpr(d));
  }
  Value acc = filledTensor(b, loc, sizes, init);
  SmallVector<AffineMap> maps = {
      b.getMultiDimIdentityMap(rank),
      AffineMap::get(rank, 0, outExprs, b.getContext())};
  Value reduced =
      linalg::GenericOp::create(
          b, loc, acc.getType(), input, acc, maps, iterators,
          [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
            linalg::YieldOp::create(nested, nestedLoc,
                                    body(nested, nestedLoc, args));
          })
          .getResult(0);
  if (!keepDims)
    return reduced;
  return expandReducedDims(b, loc, reduced, axes, rank);
}

Value onnx_lowering::expandReducedDims(OpBuilder &b, Location loc,
                                       Value reduced, ArrayRef<int64_t> axes,
                                       int64_t resultRank) {
  auto type = cast<RankedTensorType>(reduced.getType());
  SmallVector<OpFoldResult> sizes;
  int64_t source = 0;
  for (int64_t d = 0; d < resultRank; ++d) {
    if (llvm::is_contained(axes, d))
      sizes.push_back(b.getIndexAttr(1));
    else
      sizes.push_back(tensor::getMixedSize(b, loc, reduced, source++));
  }
  (void)type;
  // Group each kept dimension with the unit dimensions around it.
  if (type.getRank() == 0)
    return tensor::ExpandShapeOp::create(
        b, loc,
        RankedTensorType::get(SmallVector<int64_t>(resultRank, 1),
                              type.getElementType()),
        reduced, SmallVector<ReassociationIndices>{});
  SmallVector<ReassociationIndices> groups;
  int64_t d = 0;
  for (int64_t kept = 0; kept < type.getRank(); ++kept) {
    ReassociationIndices group;
    while (llvm::is_contained(axes, d))
      group.push_back(d++);
    group.push_back(d++);
    if (kept == type.getRank() - 1)
      while (d < resultRank)
        group.push_back(d++);
    groups.push_back(group);
  }
  SmallVector<int64_t> staticShape;
  SmallVector<Value> dynamic;
  dispatchIndexOpFoldResults(sizes, dynamic, staticShape);
  return tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(staticShape, type.getElementType()),
      reduced, groups, sizes);
}

Value onnx_lowering::buildTranspose(OpBuilder &b, Location loc, Value input,
                                    ArrayRef<int64_t> perm) {
  // An identity permutation moves nothing (and linalg.transpose of a rank-0
  // tensor trips an upstream verifier).
  if (llvm::equal(perm, llvm::seq<int64_t>(0, perm.size())))
    return input;
  SmallVector<OpFoldResult> sizes;
  for (int64_t p : perm)
    sizes.push_back(tensor::getMixedSize(b, loc, input, p));
  Value init = emptyTensor(b, loc, sizes, getElementType(input));
  return linalg::TransposeOp::create(b, loc, input, init, perm).getResult()[0];
}
