//===- Shape.cpp - Shape, Reshape and friends to tensor/linalg ------------===//

#include "passes/Conversion/OnnxToLinalg/NodeLowering.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Matchers.h"
#include "llvm/Support/MathExtras.h"

#include <limits>

using namespace mlir;
using namespace moec;
using namespace moec::onnx_lowering;

/// Folds a reshape of a constant to a constant of the new static shape, and
/// one of a shape vector or scalar (getVectorElements) to a vector.
static std::optional<Value> foldConstantReshape(OpBuilder &b, Location loc,
                                                Value input,
                                                ArrayRef<OpFoldResult> sizes) {
  std::optional<SmallVector<int64_t>> shape = getConstantIntValues(sizes);
  if (!shape || llvm::any_of(*shape, [](int64_t s) { return s < 0; }))
    return std::nullopt;
  DenseElementsAttr attr;
  if (matchPattern(input, m_Constant(&attr))) {
    auto type = RankedTensorType::get(*shape, attr.getElementType());
    return Value(arith::ConstantOp::create(b, loc, type, attr.reshape(type)));
  }
  std::optional<SmallVector<OpFoldResult>> elements = getVectorElements(input);
  auto type = RankedTensorType::get(*shape, getElementType(input));
  if (!elements || shape->size() > 1 ||
      type.getNumElements() != static_cast<int64_t>(elements->size()))
    return std::nullopt;
  return buildVector(b, loc, type, *elements);
}

static Value reshapeOrFold(OpBuilder &b, Location loc, Value input,
                           ArrayRef<OpFoldResult> sizes) {
  if (std::optional<Value> folded = foldConstantReshape(b, loc, input, sizes))
    return *folded;
  return reshapeTo(b, loc, input, sizes);
}

static Value product(OpBuilder &b, Location loc, ArrayRef<Value> values) {
  Value result = indexConstant(b, loc, 1);
  for (Value v : values)
    result = b.createOrFold<arith::MulIOp>(loc, result, v);
  return result;
}

static FailureOr<SmallVector<Value>> lowerIdentity(NodeLowering &node) {
  if (!node.input(0))
    return node.error() << "expects an input", failure();
  return single(node.input(0));
}

static FailureOr<SmallVector<Value>> lowerShape(NodeLowering &node) {
  FailureOr<Value> input = node.rankedInput(0);
  if (failed(input))
    return failure();
  OpBuilder &b = node.b;
  Location loc = node.loc;
  int64_t rank = cast<RankedTensorType>(input->getType()).getRank();
  auto clampAxis = [&](int64_t axis) {
    if (axis < 0)
      axis += rank;
    return std::clamp<int64_t>(axis, 0, rank);
  };
  int64_t start = clampAxis(node.intAttr("start", 0));
  int64_t end = clampAxis(node.intAttr("end", rank));
  // Static extents stay constants inside the vector, so that shape
  // arithmetic on a tensor<?x32xf32> still knows the 32.
  SmallVector<OpFoldResult> dims;
  for (int64_t d = start; d < end; ++d)
    dims.push_back(tensor::getMixedSize(b, loc, *input, d));
  int64_t length = std::max<int64_t>(end - start, 0);
  return single(buildVector(
      b, loc, RankedTensorType::get({length}, b.getI64Type()), dims));
}

/// Reshape with ONNX's 0 (copy the input's dimension, unless allowzero) and
/// -1 (infer) entries. The shape may be a run-time tensor: its entries known
/// at compile time stay static, the others are resolved (and the element
/// count checked) at run time.
static FailureOr<SmallVector<Value>> lowerReshape(NodeLowering &node) {
  FailureOr<Value> input = node.rankedInput(0);
  FailureOr<Value> shapeInput = node.rankedInput(1);
  if (failed(input) || failed(shapeInput))
    return failure();
  OpBuilder &b = node.b;
  Location loc = node.loc;
  FailureOr<int64_t> shapeLength = node.vectorInput(1, "the shape");
  if (failed(shapeLength))
    return failure();
  bool allowZero = node.intAttr("allowzero", 0);
  auto inputType = cast<RankedTensorType>(input->getType());
  int64_t inputRank = inputType.getRank();
  SmallVector<Value> inputDims;
  for (int64_t d = 0; d < inputRank; ++d)
    inputDims.push_back(getDim(b, loc, *input, d));
  Value numElements = product(b, loc, inputDims);

  SmallVector<OpFoldResult> entries =
      getIndexEntries(b, loc, *shapeInput, *shapeLength);
  SmallVector<OpFoldResult> sizes;
  SmallVector<std::optional<Value>> inferredAt(entries.size());
  std::optional<int64_t> staticInferred;
  Value zero = indexConstant(b, loc, 0), one = indexConstant(b, loc, 1),
        minusOne = indexConstant(b, loc, -1);
  Value knownProduct = one, inferredCount = zero;
  for (auto [i, entry] : llvm::enumerate(entries)) {
    if (std::optional<int64_t> s = getConstantIntValue(entry)) {
      if (*s == -1) {
        if (staticInferred)
          return node.error() << "has more than one -1 in its shape", failure();
        staticInferred = i;
        sizes.push_back(OpFoldResult());
        inferredCount = b.createOrFold<arith::AddIOp>(loc, inferredCount, one);
        continue;
      }
      if (*s < -1)
        return node.error() << "has invalid shape entry " << *s, failure();
      if (*s == 0 && !allowZero) {
        if (static_cast<int64_t>(i) >= inputRank)
          return node.error() << "copies dimension " << i
                              << " of an input of rank " << inputRank,
                 failure();
        sizes.push_back(tensor::getMixedSize(b, loc, *input, i));
      } else {
        sizes.push_back(b.getIndexAttr(*s));
      }
      knownProduct = b.createOrFold<arith::MulIOp>(
          loc, knownProduct,
          getValueOrCreateConstantIndexOp(b, loc, sizes.back()));
      continue;
    }
    // A run-time entry may be 0 (copy) or -1 (infer) too.
    Value value = cast<Value>(entry);
    if (!allowZero && static_cast<int64_t>(i) < inputRank) {
      Value isZero =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, value, zero);
      value = arith::SelectOp::create(b, loc, isZero, inputDims[i], value);
    }
    if (isKnownNonNegative(value)) { // a tensor.dim is never -1
      knownProduct = b.createOrFold<arith::MulIOp>(loc, knownProduct, value);
      sizes.push_back(value);
      continue;
    }
    Value isInferred = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                             value, minusOne);
    inferredAt[i] = isInferred;
    inferredCount = arith::AddIOp::create(
        b, loc, inferredCount,
        arith::SelectOp::create(b, loc, isInferred, one, zero));
    knownProduct = arith::MulIOp::create(
        b, loc, knownProduct,
        arith::SelectOp::create(b, loc, isInferred, one, value));
    sizes.push_back(value);
  }
  bool mayInfer = staticInferred || llvm::any_of(inferredAt, [](auto v) {
                    return v.has_value();
                  });
  if (mayInfer) {
    if (failed(node.requireAtRunTime(
            compareIndex(b, loc, arith::CmpIPredicate::ule, inferredCount, one),
            "has more than one -1 in its shape at run time")))
      return failure();
    // No division by zero: a zero product leaves the -1 at 0 and the
    // element count check below decides.
    if (isConstantIntValue(knownProduct, 0))
      return node.error() << "cannot infer its -1 entry next to a 0", failure();
    Value divisor = b.createOrFold<arith::SelectOp>(
        loc, compareIndex(b, loc, arith::CmpIPredicate::eq, knownProduct, zero),
        one, knownProduct);
    Value inferred = b.createOrFold<arith::DivUIOp>(loc, numElements, divisor);
    if (staticInferred)
      sizes[*staticInferred] = getAsOpFoldResult(inferred);
    for (auto [i, isInferred] : llvm::enumerate(inferredAt))
      if (isInferred)
        sizes[i] = arith::SelectOp::create(b, loc, *isInferred, inferred,
                                           cast<Value>(sizes[i]))
                       .getResult();
  }
  // Sizes known on both sides must hold the same number of elements.
  std::optional<SmallVector<int64_t>> staticSizes = getConstantIntValues(sizes);
  if (inputType.hasStaticShape() && staticSizes) {
    // Saturating products: declared sizes may be absurdly large.
    auto product = [](ArrayRef<int64_t> dims) {
      int64_t count = 1;
      for (int64_t d : dims)
        if (llvm::MulOverflow(count, d, count))
          return std::numeric_limits<int64_t>::max();
      return count;
    };
    int64_t count = product(*staticSizes);
    if (count != product(inputType.getShape()))
      return node.error() << "cannot reshape " << inputType << " to " << count
                          << " elements",
             failure();
  } else {
    SmallVector<Value> sizeValues;
    for (OpFoldResult size : sizes) {
      sizeValues.push_back(getValueOrCreateConstantIndexOp(b, loc, size));
      if (failed(node.requireAtRunTime(
              compareIndex(b, loc, arith::CmpIPredicate::sge, size, zero),
              "has a negative shape entry at run time")))
        return failure();
    }
    if (failed(node.requireAtRunTime(
            compareIndex(b, loc, arith::CmpIPredicate::eq,
                         product(b, loc, sizeValues), numElements),
            "reshapes to a shape whose element count differs from the "
            "input's at run time")))
      return failure();
  }
  return single(reshapeOrFold(b, loc, *input, sizes));
}

static FailureOr<SmallVector<Value>> lowerFlatten(NodeLowering &node) {
  FailureOr<Value> input = node.rankedInput(0);
  if (failed(input))
    return failure();
  OpBuilder &b = node.b;
  Location loc = node.loc;
  int64_t rank = cast<RankedTensorType>(input->getType()).getRank();
  int64_t axis = node.intAttr("axis", 1);
  if (axis < 0)
    axis += rank;
  if (axis < 0 || axis > rank)
    return node.error() << "axis " << node.intAttr("axis", 1)
                        << " is out of range for rank " << rank,
           failure();
  SmallVector<Value> outer, inner;
  for (int64_t d = 0; d < rank; ++d)
    (d < axis ? outer : inner).push_back(getDim(b, loc, *input, d));
  SmallVector<OpFoldResult> sizes = {getAsOpFoldResult(product(b, loc, outer)),
                                     getAsOpFoldResult(product(b, loc, inner))};
  return single(reshapeOrFold(b, loc, *input, sizes));
}

static FailureOr<SmallVector<Value>> lowerTranspose(NodeLowering &node) {
  FailureOr<Value> input = node.rankedInput(0);
  if (failed(input))
    return failure();
  int64_t rank = cast<RankedTensorType>(input->getType()).getRank();
  SmallVector<int64_t> perm;
  if (std::optional<SmallVector<int64_t>> attr = node.intsAttr("perm"))
    perm = *attr;
  else
    for (int64_t d = rank - 1; d >= 0; --d)
      perm.push_back(d);
  SmallVector<int64_t> sorted(perm);
  llvm::sort(sorted);
  bool isPermutation = static_cast<int64_t>(sorted.size()) == rank;
  for (int64_t d = 0; isPermutation && d < rank; ++d)
    isPermutation = sorted[d] == d;
  if (!isPermutation)
    return node.error() << "perm is not a permutation of the input's " << rank
                        << " dimensions",
           failure();
  return single(buildTranspose(node.b, node.loc, *input, perm));
}

/// Axes from the `axes` input (opset 13+) or attribute, normalised.
static FailureOr<SmallVector<int64_t>>
getAxes(NodeLowering &node, unsigned inputIndex, int64_t rank, bool required) {
  SmallVector<int64_t> axes;
  if (Value axesInput = node.input(inputIndex)) {
    std::optional<SmallVector<int64_t>> values = getConstantInts(axesInput);
    if (!values)
      return node.error() << "needs constant axes", failure();
    axes = *values;
  } else if (std::optional<SmallVector<int64_t>> attr = node.intsAttr("axes")) {
    axes = *attr;
  } else if (required) {
    return node.error() << "needs axes", failure();
  }
  if (failed(node.normalizeAxes(axes, rank)))
    return failure();
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
    return node.error() << "repeats an axis", failure();
  return axes;
}

static FailureOr<SmallVector<Value>> lowerUnsqueeze(NodeLowering &node) {
  FailureOr<Value> input = node.rankedInput(0);
  if (failed(input))
    return failure();
  int64_t rank = cast<RankedTensorType>(input->getType()).getRank();
  int64_t resultRank = rank;
  if (Value axesInput = node.input(1)) {
    auto axesType = dyn_cast<RankedTensorType>(axesInput.getType());
    if (axesType && axesType.hasStaticShape())
      resultRank += axesType.getNumElements();
  } else if (auto attr = node.intsAttr("axes")) {
    resultRank += attr->size();
  }
  FailureOr<SmallVector<int64_t>> axes = getAxes(node, 1, resultRank, true);
  if (failed(axes))
    return failure();
  OpBuilder &b = node.b;
  Location loc = node.loc;
  SmallVector<OpFoldResult> sizes;
  for (int64_t d = 0, source = 0; d < resultRank; ++d)
    sizes.push_back(llvm::is_contained(*axes, d)
                        ? OpFoldResult(b.getIndexAttr(1))
                        : tensor::getMixedSize(b, loc, *input, source++));
  if (std::optional<Value> folded = foldConstantReshape(b, loc, *input, sizes))
    return single(*folded);
  return single(expandReducedDims(b, loc, *input, *axes, resultRank));
}

static FailureOr<SmallVector<Value>> lowerSqueeze(NodeLowering &node) {
  FailureOr<Value> input = node.rankedInput(0);
  if (failed(input))
    return failure();
  auto type = cast<RankedTensorType>(input->getType());
  FailureOr<SmallVector<int64_t>> axes =
      getAxes(node, 1, type.getRank(), /*required=*/false);
  if (failed(axes))
    return failure();
  if (axes->empty() && !node.input(1) && !node.hasAttr("axes")) {
    for (int64_t d = 0; d < type.getRank(); ++d) {
      if (type.isDynamicDim(d))
        return node.error() << "cannot squeeze all unit dimensions of " << type
                            << " without axes",
               failure();
      if (type.getDimSize(d) == 1)
        axes->push_back(d);
    }
  }
  OpBuilder &b = node.b;
  Location loc = node.loc;
  SmallVector<OpFoldResult> sizes;
  for (int64_t d = 0; d < type.getRank(); ++d) {
    if (!llvm::is_contained(*axes, d)) {
      sizes.push_back(tensor::getMixedSize(b, loc, *input, d));
      continue;
    }
    if (!type.isDynamicDim(d) && type.getDimSize(d) != 1)
      return node.error() << "cannot squeeze dimension " << d << " of " << type,
             failure();
  }
  return single(reshapeOrFold(b, loc, *input, sizes));
}

static FailureOr<SmallVector<Value>> lowerConstantOfShape(NodeLowering &node) {
  FailureOr<Value> shapeInput = node.rankedInput(0);
  if (failed(shapeInput))
    return failure();
  OpBuilder &b = node.b;
  Location loc = node.loc;
  FailureOr<int64_t> shapeLength = node.vectorInput(0, "the shape");
  if (failed(shapeLength))
    return failure();
  Attribute value = b.getF32FloatAttr(0);
  Type element = b.getF32Type();
  if (auto attr = node.node->getAttrOfType<DenseElementsAttr>("value")) {
    if (attr.getNumElements() != 1)
      return node.error() << "expects a one-element value", failure();
    element = attr.getElementType();
    value = attr.getSplatValue<Attribute>();
  }
  SmallVector<OpFoldResult> sizes =
      getIndexEntries(b, loc, *shapeInput, *shapeLength);
  for (OpFoldResult size : sizes) {
    if (std::optional<int64_t> s = getConstantIntValue(size)) {
      if (*s < 0)
        return node.error() << "has negative shape entry " << *s, failure();
    } else if (failed(node.requireAtRunTime(
                   compareIndex(b, loc, arith::CmpIPredicate::sge, size,
                                b.getIndexAttr(0)),
                   "has a negative shape entry at run time"))) {
      return failure();
    }
  }
  if (std::optional<SmallVector<int64_t>> shape = getConstantIntValues(sizes)) {
    auto type = RankedTensorType::get(*shape, element);
    return single(arith::ConstantOp::create(
        b, loc, type, DenseElementsAttr::get(type, value)));
  }
  Type signless = toSignlessType(element);
  Value scalar = arith::ConstantOp::create(
      b, loc, signless,
      isa<IntegerType>(signless)
          ? TypedAttr(
                IntegerAttr::get(signless, cast<IntegerAttr>(value).getValue()))
          : cast<TypedAttr>(value));
  return single(
      fromSignless(b, loc, filledTensor(b, loc, sizes, scalar), element));
}

static FailureOr<SmallVector<Value>> lowerRange(NodeLowering &node) {
  Value start = node.input(0), limit = node.input(1), delta = node.input(2);
  if (!start || !limit || !delta)
    return node.error() << "expects start, limit and delta", failure();
  OpBuilder &b = node.b;
  Location loc = node.loc;
  Type element = getElementType(start);
  if (!element.isSignlessIntOrFloat())
    return node.error() << "expects float or signed integer inputs, got "
                        << start.getType(),
           failure();
  for (Value v : {start, limit, delta}) {
    auto type = dyn_cast<RankedTensorType>(v.getType());
    if (!type || type.getRank() != 0 || type.getElementType() != element)
      return node.error() << "expects scalar inputs of one element type",
             failure();
  }
  bool isFloat = isa<FloatType>(element);
  // Constant integer ranges fold (they index shapes).
  auto s = getConstantInts(start), l = getConstantInts(limit),
       d = getConstantInts(delta);
  if (!isFloat && s && l && d && (*d)[0] != 0) {
    int64_t count = std::max<int64_t>(
        0, llvm::divideCeilSigned((*l)[0] - (*s)[0], (*d)[0]));
    if (count <= 4096) {
      SmallVector<int64_t> values;
      for (int64_t i = 0; i < count; ++i)
        values.push_back((*s)[0] + i * (*d)[0]);
      return single(intTensorConstant(b, loc, {count}, element, values));
    }
  }
  Value startScalar = tensor::ExtractOp::create(b, loc, start, ValueRange{});
  Value limitScalar = tensor::ExtractOp::create(b, loc, limit, ValueRange{});
  Value deltaScalar = tensor::ExtractOp::create(b, loc, delta, ValueRange{});
  // count = max(ceil((limit - start) / delta), 0)
  Value count;
  if (isFloat) {
    Value span = arith::SubFOp::create(b, loc, limitScalar, startScalar);
    Value steps = math::CeilOp::create(
        b, loc, arith::DivFOp::create(b, loc, span, deltaScalar));
    count = arith::FPToSIOp::create(b, loc, b.getI64Type(), steps);
  } else {
    Value span = arith::SubIOp::create(b, loc, limitScalar, startScalar);
    count = arith::CeilDivSIOp::create(b, loc, span, deltaScalar);
  }
  Value size = toIndex(b, loc, count);
  Value zero = indexConstant(b, loc, 0);
  size = arith::MaxSIOp::create(b, loc, size, zero);
  Value init = emptyTensor(b, loc, {OpFoldResult(size)}, element);
  Value result = buildParallelGeneric(
      b, loc, init, {}, {}, [&](OpBuilder &nb, Location nl, ValueRange) {
        Value i = arith::IndexCastOp::create(
            nb, nl, nb.getI64Type(), linalg::IndexOp::create(nb, nl, 0));
        Value iv = convertScalar(nb, nl, i, element, false, false);
        Value value =
            isFloat ? Value(arith::AddFOp::create(
                          nb, nl, startScalar,
                          arith::MulFOp::create(nb, nl, iv, deltaScalar)))
                    : Value(arith::AddIOp::create(
                          nb, nl, startScalar,
                          arith::MulIOp::create(nb, nl, iv, deltaScalar)));
        linalg::YieldOp::create(nb, nl, ValueRange{value});
      });
  return single(result);
}

void onnx_lowering::addShapeLowerings(LoweringTable &table) {
  auto add = [&](StringRef op, LoweringFn fn) {
    table[loweringKey("", op)] = std::move(fn);
  };
  add("Identity", lowerIdentity);
  add("Shape", lowerShape);
  add("Reshape", lowerReshape);
  add("Flatten", lowerFlatten);
  add("Transpose", lowerTranspose);
  add("Squeeze", lowerSqueeze);
  add("Unsqueeze", lowerUnsqueeze);
  add("ConstantOfShape", lowerConstantOfShape);
  add("Range", lowerRange);
}
