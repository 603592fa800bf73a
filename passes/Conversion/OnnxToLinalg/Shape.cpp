//===- Shape.cpp - Shape and data-movement ONNX ops to tensor/linalg ------===//

#include "passes/Conversion/OnnxToLinalg/NodeLowering.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Matchers.h"
#include "llvm/Support/MathExtras.h"

#include <limits>

using namespace mlir;
using namespace moec;
using namespace moec::onnx_lowering;

/// Folds a reshape of a constant to a constant of the new static shape.
static std::optional<Value> foldConstantReshape(OpBuilder &b, Location loc,
                                                Value input,
                                                ArrayRef<OpFoldResult> sizes) {
  DenseElementsAttr attr;
  if (!matchPattern(input, m_Constant(&attr)))
    return std::nullopt;
  std::optional<SmallVector<int64_t>> shape = getConstantIntValues(sizes);
  if (!shape)
    return std::nullopt;
  auto type = RankedTensorType::get(*shape, attr.getElementType());
  return Value(arith::ConstantOp::create(b, loc, type, attr.reshape(type)));
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
  SmallVector<Value> dims;
  SmallVector<int64_t> staticDims;
  for (int64_t d = start; d < end; ++d) {
    OpFoldResult size = tensor::getMixedSize(b, loc, *input, d);
    if (std::optional<int64_t> s = getConstantIntValue(size))
      staticDims.push_back(*s);
    dims.push_back(arith::IndexCastOp::create(
        b, loc, b.getI64Type(), getValueOrCreateConstantIndexOp(b, loc, size)));
  }
  int64_t length = std::max<int64_t>(end - start, 0);
  if (static_cast<int64_t>(staticDims.size()) == length)
    return single(
        intTensorConstant(b, loc, {length}, b.getI64Type(), staticDims));
  return single(tensor::FromElementsOp::create(
      b, loc, RankedTensorType::get({length}, b.getI64Type()), dims));
}

/// Reshape with ONNX's 0 (copy the input's dimension, unless allowzero) and
/// -1 (infer) entries; the shape may be a run-time tensor.
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
  int64_t inputRank = cast<RankedTensorType>(input->getType()).getRank();
  SmallVector<Value> inputDims;
  for (int64_t d = 0; d < inputRank; ++d)
    inputDims.push_back(getDim(b, loc, *input, d));
  Value numElements = product(b, loc, inputDims);

  int64_t length = *shapeLength;
  SmallVector<OpFoldResult> sizes;
  if (std::optional<SmallVector<int64_t>> shape =
          getConstantInts(*shapeInput)) {
    std::optional<int64_t> inferred;
    SmallVector<Value> known;
    for (auto [i, s] : llvm::enumerate(*shape)) {
      if (s == -1) {
        if (inferred)
          return node.error() << "has more than one -1 in its shape", failure();
        inferred = i;
        sizes.push_back(OpFoldResult());
        continue;
      }
      if (s < -1)
        return node.error() << "has invalid shape entry " << s, failure();
      if (s == 0 && !allowZero) {
        if (static_cast<int64_t>(i) >= inputRank)
          return node.error() << "copies dimension " << i
                              << " of an input of rank " << inputRank,
                 failure();
        sizes.push_back(tensor::getMixedSize(b, loc, *input, i));
      } else {
        sizes.push_back(b.getIndexAttr(s));
      }
      known.push_back(getValueOrCreateConstantIndexOp(b, loc, sizes.back()));
    }
    if (inferred) {
      Value size = b.createOrFold<arith::DivUIOp>(loc, numElements,
                                                  product(b, loc, known));
      sizes[*inferred] = getAsOpFoldResult(size);
    }
  } else {
    // A run-time shape: resolve 0 and -1 element by element.
    Value runtimeShape = toSignless(b, loc, *shapeInput);
    SmallVector<Value> entries;
    Value knownProduct = indexConstant(b, loc, 1);
    Value zero = indexConstant(b, loc, 0), one = indexConstant(b, loc, 1),
          minusOne = indexConstant(b, loc, -1);
    for (int64_t i = 0; i < length; ++i) {
      Value entry = toIndex(
          b, loc,
          tensor::ExtractOp::create(b, loc, runtimeShape,
                                    ValueRange{indexConstant(b, loc, i)}));
      if (!allowZero && i < inputRank) {
        Value isZero = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                             entry, zero);
        entry = arith::SelectOp::create(b, loc, isZero, inputDims[i], entry);
      }
      Value isInferred = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                               entry, minusOne);
      knownProduct = arith::MulIOp::create(
          b, loc, knownProduct,
          arith::SelectOp::create(b, loc, isInferred, one, entry));
      entries.push_back(entry);
    }
    Value inferredSize =
        arith::DivUIOp::create(b, loc, numElements, knownProduct);
    for (Value entry : entries) {
      Value isInferred = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                               entry, minusOne);
      sizes.push_back(
          arith::SelectOp::create(b, loc, isInferred, inferredSize, entry)
              .getResult());
    }
  }
  // Sizes known on both sides must hold the same number of elements.
  auto inputType = cast<RankedTensorType>(input->getType());
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

static FailureOr<SmallVector<Value>> lowerExpand(NodeLowering &node) {
  FailureOr<Value> input = node.rankedInput(0);
  FailureOr<Value> shapeInput = node.rankedInput(1);
  if (failed(input) || failed(shapeInput))
    return failure();
  OpBuilder &b = node.b;
  Location loc = node.loc;
  FailureOr<int64_t> shapeLength = node.vectorInput(1, "the shape");
  if (failed(shapeLength))
    return failure();
  SmallVector<OpFoldResult> sizes;
  if (std::optional<SmallVector<int64_t>> shape =
          getConstantInts(*shapeInput)) {
    for (int64_t s : *shape) {
      if (s < 0)
        return node.error() << "has negative shape entry " << s, failure();
      sizes.push_back(b.getIndexAttr(s));
    }
  } else {
    Value runtimeShape = toSignless(b, loc, *shapeInput);
    for (int64_t i = 0; i < *shapeLength; ++i)
      sizes.push_back(toIndex(
          b, loc,
          tensor::ExtractOp::create(b, loc, runtimeShape,
                                    ValueRange{indexConstant(b, loc, i)})));
  }
  // Broadcast the input against an uninitialised tensor of the target
  // shape: a 1 in the target keeps the input's size.
  Value target = emptyTensor(b, loc, sizes, getElementType(*input));
  FailureOr<Value> result = buildElementwise(
      node, {*input, target}, getElementType(*input),
      [](OpBuilder &, Location, ValueRange args) { return args[0]; });
  if (failed(result))
    return failure();
  return single(*result);
}

static FailureOr<SmallVector<Value>> lowerConcat(NodeLowering &node) {
  FailureOr<SmallVector<Value>> variadic = node.variadicInputs();
  if (failed(variadic))
    return failure();
  SmallVector<Value> &inputs = *variadic;
  auto type = cast<RankedTensorType>(inputs.front().getType());
  FailureOr<int64_t> axis =
      node.normalizeAxis(node.intAttr("axis", 0), type.getRank());
  if (failed(axis))
    return failure();
  for (Value input : inputs) {
    auto other = cast<RankedTensorType>(input.getType());
    if (other.getRank() != type.getRank() ||
        other.getElementType() != type.getElementType())
      return node.error() << "expects inputs of one rank and element type, "
                             "got "
                          << type << " and " << other,
             failure();
    for (int64_t d = 0; d < type.getRank(); ++d)
      if (d != *axis && !type.isDynamicDim(d) && !other.isDynamicDim(d) &&
          type.getDimSize(d) != other.getDimSize(d))
        return node.error() << "concatenates " << type << " and " << other
                            << ", which differ in dimension " << d,
               failure();
  }
  OpBuilder &b = node.b;
  Location loc = node.loc;
  // Shape arithmetic: concatenate constant vectors directly.
  if (type.getRank() == 1 && isa<IntegerType>(type.getElementType())) {
    SmallVector<int64_t> values;
    bool allConstant = true;
    for (Value input : inputs) {
      std::optional<SmallVector<int64_t>> ints = getConstantInts(input);
      if (!ints) {
        allConstant = false;
        break;
      }
      values.append(*ints);
    }
    if (allConstant)
      return single(intTensorConstant(b, loc,
                                      {static_cast<int64_t>(values.size())},
                                      type.getElementType(), values));
  }
  // Empty inputs contribute nothing.
  SmallVector<Value> nonEmpty;
  for (Value input : inputs)
    if (cast<RankedTensorType>(input.getType()).getDimSize(*axis) != 0)
      nonEmpty.push_back(input);
  if (nonEmpty.empty())
    return single(inputs.front());
  if (nonEmpty.size() == 1)
    return single(nonEmpty.front());
  return single(tensor::ConcatOp::create(b, loc, *axis, nonEmpty));
}

/// Clamped ONNX slice bounds for one axis: (start, size, step) as index
/// values, step a constant.
static std::pair<Value, Value> sliceBounds(OpBuilder &b, Location loc,
                                           Value dim, Value start, Value end,
                                           int64_t step) {
  auto cmp = [&](arith::CmpIPredicate p, Value x, Value y) {
    return b.createOrFold<arith::CmpIOp>(loc, p, x, y);
  };
  auto select = [&](Value c, Value x, Value y) {
    return b.createOrFold<arith::SelectOp>(loc, c, x, y);
  };
  auto clamp = [&](Value v, Value lo, Value hi) {
    v = select(cmp(arith::CmpIPredicate::slt, v, lo), lo, v);
    return select(cmp(arith::CmpIPredicate::sgt, v, hi), hi, v);
  };
  Value zero = indexConstant(b, loc, 0);
  auto normalize = [&](Value v) {
    return select(cmp(arith::CmpIPredicate::slt, v, zero),
                  b.createOrFold<arith::AddIOp>(loc, v, dim), v);
  };
  start = normalize(start);
  end = normalize(end);
  Value size;
  if (step > 0) {
    start = clamp(start, zero, dim);
    end = clamp(end, zero, dim);
    Value span = b.createOrFold<arith::SubIOp>(loc, end, start);
    size = b.createOrFold<arith::CeilDivSIOp>(loc, span,
                                              indexConstant(b, loc, step));
  } else {
    Value dimMinusOne =
        b.createOrFold<arith::SubIOp>(loc, dim, indexConstant(b, loc, 1));
    start = clamp(start, zero, dimMinusOne);
    end = clamp(end, indexConstant(b, loc, -1), dimMinusOne);
    Value span = b.createOrFold<arith::SubIOp>(loc, start, end);
    size = b.createOrFold<arith::CeilDivSIOp>(loc, span,
                                              indexConstant(b, loc, -step));
  }
  size = select(cmp(arith::CmpIPredicate::slt, size, zero), zero, size);
  return {start, size};
}

/// tensor.extract_slice, or an empty tensor of the slice's sizes when the
/// input or the slice holds no elements (extract_slice's verifier rejects
/// every offset into a dimension of size 0).
static Value extractSliceOrEmpty(OpBuilder &b, Location loc, Value input,
                                 ArrayRef<OpFoldResult> offsets,
                                 ArrayRef<OpFoldResult> sizes,
                                 ArrayRef<OpFoldResult> strides) {
  auto type = cast<RankedTensorType>(input.getType());
  bool empty = llvm::is_contained(type.getShape(), 0) ||
               llvm::any_of(sizes, [](OpFoldResult size) {
                 return isConstantIntValue(size, 0);
               });
  if (empty)
    return emptyTensor(b, loc, sizes, type.getElementType());
  return tensor::ExtractSliceOp::create(b, loc, input, offsets, sizes, strides);
}

/// Element `i` of a 1-D integer tensor as an index, clamped to the i64 range
/// the index type holds.
static Value vectorEntry(OpBuilder &b, Location loc, Value vector, int64_t i) {
  if (std::optional<SmallVector<int64_t>> ints = getConstantInts(vector))
    return indexConstant(b, loc, (*ints)[i]);
  Value element = tensor::ExtractOp::create(
      b, loc, toSignless(b, loc, vector), ValueRange{indexConstant(b, loc, i)});
  return toIndex(b, loc, element);
}

static FailureOr<SmallVector<Value>> lowerSlice(NodeLowering &node) {
  FailureOr<Value> input = node.rankedInput(0);
  FailureOr<Value> starts = node.rankedInput(1);
  FailureOr<Value> ends = node.rankedInput(2);
  if (failed(input) || failed(starts) || failed(ends))
    return failure();
  OpBuilder &b = node.b;
  Location loc = node.loc;
  auto type = cast<RankedTensorType>(input->getType());
  FailureOr<int64_t> starts1D = node.vectorInput(1, "starts");
  FailureOr<int64_t> ends1D = node.vectorInput(2, "ends");
  if (failed(starts1D) || failed(ends1D))
    return failure();
  if (*starts1D != *ends1D)
    return node.error() << "has " << *starts1D << " starts but " << *ends1D
                        << " ends",
           failure();
  int64_t count = *starts1D;
  SmallVector<int64_t> axes, steps(count, 1);
  if (Value axesInput = node.input(3)) {
    std::optional<SmallVector<int64_t>> values = getConstantInts(axesInput);
    if (!values || static_cast<int64_t>(values->size()) != count)
      return node.error() << "needs constant axes, one per start", failure();
    axes = *values;
  } else {
    for (int64_t i = 0; i < count; ++i)
      axes.push_back(i);
  }
  if (Value stepsInput = node.input(4)) {
    std::optional<SmallVector<int64_t>> values = getConstantInts(stepsInput);
    if (!values || static_cast<int64_t>(values->size()) != count)
      return node.error() << "needs constant steps, one per start", failure();
    steps = *values;
  }
  SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, *input);
  SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
  SmallVector<bool> reversed(type.getRank(), false);
  for (int64_t i = 0; i < count; ++i) {
    FailureOr<int64_t> axis = node.normalizeAxis(axes[i], type.getRank());
    if (failed(axis))
      return failure();
    if (steps[i] == 0)
      return node.error() << "has a zero step", failure();
    auto [start, size] = sliceBounds(b, loc, getDim(b, loc, *input, *axis),
                                     vectorEntry(b, loc, *starts, i),
                                     vectorEntry(b, loc, *ends, i), steps[i]);
    offsets[*axis] = getAsOpFoldResult(start);
    sizes[*axis] = getAsOpFoldResult(size);
    strides[*axis] = b.getIndexAttr(std::abs(steps[i]));
    reversed[*axis] = steps[i] < 0;
  }
  if (!llvm::is_contained(reversed, true))
    return single(extractSliceOrEmpty(b, loc, *input, offsets, sizes, strides));
  // Negative steps walk backwards: out[i] = in[offset - i * stride].
  Value init = emptyTensor(b, loc, sizes, getElementType(*input));
  int64_t rank = type.getRank();
  Value result = buildParallelGeneric(
      b, loc, init, {}, {}, [&](OpBuilder &nb, Location l, ValueRange) {
        SmallVector<Value> indices;
        for (int64_t d = 0; d < rank; ++d) {
          Value i = linalg::IndexOp::create(nb, l, d);
          Value offset = getValueOrCreateConstantIndexOp(nb, l, offsets[d]);
          Value stride = getValueOrCreateConstantIndexOp(nb, l, strides[d]);
          Value delta = arith::MulIOp::create(nb, l, i, stride);
          indices.push_back(
              reversed[d] ? Value(arith::SubIOp::create(nb, l, offset, delta))
                          : Value(arith::AddIOp::create(nb, l, offset, delta)));
        }
        linalg::YieldOp::create(
            nb, l, Value(tensor::ExtractOp::create(nb, l, *input, indices)));
      });
  return single(result);
}

static FailureOr<SmallVector<Value>> lowerSplit(NodeLowering &node) {
  FailureOr<Value> input = node.rankedInput(0);
  if (failed(input))
    return failure();
  OpBuilder &b = node.b;
  Location loc = node.loc;
  auto type = cast<RankedTensorType>(input->getType());
  FailureOr<int64_t> axis =
      node.normalizeAxis(node.intAttr("axis", 0), type.getRank());
  if (failed(axis))
    return failure();
  int64_t outputs = node.numOutputs();
  Value dim = getDim(b, loc, *input, *axis);
  SmallVector<Value> sizes;
  if (Value splitInput = node.input(1)) {
    std::optional<SmallVector<int64_t>> split = getConstantInts(splitInput);
    if (!split || static_cast<int64_t>(split->size()) != outputs)
      return node.error() << "needs a constant split with one entry per "
                             "output",
             failure();
    for (int64_t s : *split)
      sizes.push_back(indexConstant(b, loc, s));
  } else if (auto split = node.intsAttr("split")) {
    if (static_cast<int64_t>(split->size()) != outputs)
      return node.error() << "needs one split entry per output", failure();
    for (int64_t s : *split)
      sizes.push_back(indexConstant(b, loc, s));
  } else {
    // Equal parts; with num_outputs (opset 18) the last may be smaller.
    Value parts = indexConstant(b, loc, outputs);
    Value part = b.createOrFold<arith::CeilDivUIOp>(loc, dim, parts);
    for (int64_t i = 0; i < outputs; ++i) {
      Value begin =
          b.createOrFold<arith::MulIOp>(loc, part, indexConstant(b, loc, i));
      Value remaining = b.createOrFold<arith::SubIOp>(loc, dim, begin);
      sizes.push_back(b.createOrFold<arith::MinSIOp>(loc, part, remaining));
    }
  }
  if (!type.isDynamicDim(*axis)) {
    int64_t total = 0;
    bool known = true;
    for (Value size : sizes) {
      std::optional<int64_t> s = getConstantIntValue(size);
      known = known && s && *s >= 0;
      total += s.value_or(0);
    }
    if (known && total != type.getDimSize(*axis))
      return node.error() << "splits dimension " << *axis << " of size "
                          << type.getDimSize(*axis) << " into parts summing to "
                          << total,
             failure();
  }
  SmallVector<Value> results;
  Value offset = indexConstant(b, loc, 0);
  for (Value size : sizes) {
    SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
    SmallVector<OpFoldResult> sliceSizes = getSizes(b, loc, *input);
    SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
    offsets[*axis] = getAsOpFoldResult(offset);
    sliceSizes[*axis] = getAsOpFoldResult(size);
    results.push_back(
        extractSliceOrEmpty(b, loc, *input, offsets, sliceSizes, strides));
    offset = b.createOrFold<arith::AddIOp>(loc, offset, size);
  }
  return results;
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
  SmallVector<OpFoldResult> sizes;
  for (int64_t i = 0; i < *shapeLength; ++i)
    sizes.push_back(getAsOpFoldResult(vectorEntry(b, loc, *shapeInput, i)));
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
  add("Expand", lowerExpand);
  add("Concat", lowerConcat);
  add("Slice", lowerSlice);
  add("Split", lowerSplit);
  add("ConstantOfShape", lowerConstantOfShape);
  add("Range", lowerRange);
}
