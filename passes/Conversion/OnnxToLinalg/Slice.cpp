//===- Slice.cpp - Concat, Slice and Split to tensor ops ------------------===//
//
// Cutting and joining along axes: tensor.concat, tensor.extract_slice (with
// ONNX's clamped, possibly run-time bounds; negative steps read backwards
// in a linalg.generic) and one extract_slice per Split output. Integer
// vectors concatenate at compile time so shape arithmetic keeps folding.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/OnnxToLinalg/NodeLowering.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace moec;
using namespace moec::onnx_lowering;

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
    // Vectors of run-time and static extents keep their entries.
    SmallVector<OpFoldResult> elements;
    bool known = true;
    for (Value input : inputs) {
      std::optional<SmallVector<OpFoldResult>> entries =
          getVectorElements(input);
      known = known && entries;
      if (known)
        elements.append(*entries);
    }
    if (known && static_cast<int64_t>(elements.size()) <= kMaxRank)
      return single(buildVector(
          b, loc,
          RankedTensorType::get({static_cast<int64_t>(elements.size())},
                                type.getElementType()),
          elements));
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
  size = b.createOrFold<arith::MaxSIOp>(loc, size, zero);
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
  SmallVector<OpFoldResult> startEntries =
      getIndexEntries(b, loc, *starts, count);
  SmallVector<OpFoldResult> endEntries = getIndexEntries(b, loc, *ends, count);
  for (int64_t i = 0; i < count; ++i) {
    FailureOr<int64_t> axis = node.normalizeAxis(axes[i], type.getRank());
    if (failed(axis))
      return failure();
    if (steps[i] == 0)
      return node.error() << "has a zero step", failure();
    auto [start, size] = sliceBounds(
        b, loc, getDim(b, loc, *input, *axis),
        getValueOrCreateConstantIndexOp(b, loc, startEntries[i]),
        getValueOrCreateConstantIndexOp(b, loc, endEntries[i]), steps[i]);
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

void onnx_lowering::addSliceLowerings(LoweringTable &table) {
  auto add = [&](StringRef op, LoweringFn fn) {
    table[loweringKey("", op)] = std::move(fn);
  };
  add("Concat", lowerConcat);
  add("Slice", lowerSlice);
  add("Split", lowerSplit);
}
