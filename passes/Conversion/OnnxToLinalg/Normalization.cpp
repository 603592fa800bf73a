//===- Normalization.cpp - Reductions, softmax and layer norms ------------===//

#include "passes/Conversion/OnnxToLinalg/NodeLowering.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"

#include <limits>

using namespace mlir;
using namespace moec;
using namespace moec::onnx_lowering;

namespace {
enum class ReduceKind { Sum, Mean, Max, Min, Prod };
} // namespace

static Value addValues(OpBuilder &b, Location loc, Value x, Value y) {
  return isa<FloatType>(x.getType())
             ? Value(arith::AddFOp::create(b, loc, x, y))
             : Value(arith::AddIOp::create(b, loc, x, y));
}

/// The number of elements `input` has along `axes`, as a scalar of `type`.
static Value countAlong(OpBuilder &b, Location loc, Value input,
                        ArrayRef<int64_t> axes, Type type) {
  Value count = indexConstant(b, loc, 1);
  for (int64_t axis : axes)
    count =
        b.createOrFold<arith::MulIOp>(loc, count, getDim(b, loc, input, axis));
  Value asInt = b.createOrFold<arith::IndexCastOp>(loc, b.getI64Type(), count);
  return convertScalar(b, loc, asInt, type, false, false);
}

/// Element-wise map of one tensor (no broadcasting).
static Value mapTensor(OpBuilder &b, Location loc, ValueRange inputs,
                       Type resultElement, const ScalarBody &body) {
  Value first = inputs.front();
  int64_t rank = cast<RankedTensorType>(first.getType()).getRank();
  Value init = emptyTensor(b, loc, getSizes(b, loc, first), resultElement);
  SmallVector<AffineMap> maps(inputs.size(), b.getMultiDimIdentityMap(rank));
  return buildParallelGeneric(b, loc, init, inputs, maps,
                              [&](OpBuilder &nb, Location l, ValueRange args) {
                                linalg::YieldOp::create(
                                    nb, l, body(nb, l, args.drop_back()));
                              });
}

static LoweringFn reduce(ReduceKind kind, int64_t axesInputSince) {
  return [kind,
          axesInputSince](NodeLowering &node) -> FailureOr<SmallVector<Value>> {
    FailureOr<Value> input = node.rankedInput(0);
    if (failed(input))
      return failure();
    OpBuilder &b = node.b;
    Location loc = node.loc;
    Type element = getElementType(*input);
    Value x = toSignless(b, loc, *input);
    Type signless = getElementType(x);
    bool isFloat = isa<FloatType>(signless);
    bool isUnsigned = isUnsignedInteger(element);
    int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
    SmallVector<int64_t> axes;
    if (node.opset() >= axesInputSince && node.input(1)) {
      std::optional<SmallVector<int64_t>> values =
          getConstantInts(node.input(1));
      if (!values)
        return node.error() << "needs constant axes", failure();
      axes = *values;
    } else if (auto attr = node.intsAttr("axes")) {
      axes = *attr;
    }
    if (axes.empty()) {
      if (node.intAttr("noop_with_empty_axes", 0))
        return SmallVector<Value>{*input};
      for (int64_t d = 0; d < rank; ++d)
        axes.push_back(d);
    }
    if (failed(node.normalizeAxes(axes, rank)))
      return failure();
    axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
    bool keepDims = node.intAttr("keepdims", 1);

    Value init;
    ScalarBody body;
    switch (kind) {
    case ReduceKind::Sum:
    case ReduceKind::Mean:
      init = scalarConstant(b, loc, signless, 0);
      body = [](OpBuilder &nb, Location l, ValueRange args) {
        return addValues(nb, l, args[1], args[0]);
      };
      break;
    case ReduceKind::Prod:
      init = scalarConstant(b, loc, signless, 1);
      body = [isFloat](OpBuilder &nb, Location l, ValueRange args) {
        return isFloat ? Value(arith::MulFOp::create(nb, l, args[1], args[0]))
                       : Value(arith::MulIOp::create(nb, l, args[1], args[0]));
      };
      break;
    case ReduceKind::Max:
    case ReduceKind::Min: {
      bool isMax = kind == ReduceKind::Max;
      if (isFloat) {
        init = arith::ConstantOp::create(
            b, loc,
            b.getFloatAttr(
                signless,
                APFloat::getInf(cast<FloatType>(signless).getFloatSemantics(),
                                /*Negative=*/isMax)));
      } else {
        unsigned width = signless.getIntOrFloatBitWidth();
        APInt bound = isUnsigned ? (isMax ? APInt::getMinValue(width)
                                          : APInt::getMaxValue(width))
                                 : (isMax ? APInt::getSignedMinValue(width)
                                          : APInt::getSignedMaxValue(width));
        init = arith::ConstantOp::create(b, loc,
                                         b.getIntegerAttr(signless, bound));
      }
      body = [=](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value x = args[0], acc = args[1];
        if (isFloat)
          return isMax ? Value(arith::MaximumFOp::create(nb, l, acc, x))
                       : Value(arith::MinimumFOp::create(nb, l, acc, x));
        if (isUnsigned)
          return isMax ? Value(arith::MaxUIOp::create(nb, l, acc, x))
                       : Value(arith::MinUIOp::create(nb, l, acc, x));
        return isMax ? Value(arith::MaxSIOp::create(nb, l, acc, x))
                     : Value(arith::MinSIOp::create(nb, l, acc, x));
      };
      break;
    }
    }
    Value result = buildReduction(b, loc, x, axes, keepDims, init, body);
    if (kind == ReduceKind::Mean) {
      Value count = countAlong(b, loc, x, axes, signless);
      result = mapTensor(
          b, loc, {result}, signless,
          [&](OpBuilder &nb, Location l, ValueRange args) {
            return isFloat
                       ? Value(arith::DivFOp::create(nb, l, args[0], count))
                       : Value(arith::DivSIOp::create(nb, l, args[0], count));
          });
    }
    return SmallVector<Value>{fromSignless(b, loc, result, element)};
  };
}

/// Softmax (or log-softmax) along one axis, max-subtracted for stability.
static LoweringFn softmax(bool isLog) {
  return [isLog](NodeLowering &node) -> FailureOr<SmallVector<Value>> {
    FailureOr<Value> input = node.rankedInput(0);
    if (failed(input))
      return failure();
    OpBuilder &b = node.b;
    Location loc = node.loc;
    Type element = getElementType(*input);
    if (!isa<FloatType>(element))
      return node.error() << "expects a floating-point input", failure();
    int64_t rank = cast<RankedTensorType>(input->getType()).getRank();
    FailureOr<int64_t> axis =
        node.normalizeAxis(node.intAttr("axis", -1), rank);
    if (failed(axis))
      return failure();
    Value negInf = arith::ConstantOp::create(
        b, loc,
        b.getFloatAttr(
            element, APFloat::getInf(
                         cast<FloatType>(element).getFloatSemantics(), true)));
    Value max = buildReduction(b, loc, *input, {*axis}, true, negInf,
                               [](OpBuilder &nb, Location l, ValueRange args) {
                                 return arith::MaximumFOp::create(
                                     nb, l, args[1], args[0]);
                               });
    FailureOr<Value> shifted = buildElementwise(
        node, {*input, max}, element,
        [](OpBuilder &nb, Location l, ValueRange args) {
          return arith::SubFOp::create(nb, l, args[0], args[1]);
        });
    if (failed(shifted))
      return failure();
    Value exps = mapTensor(b, loc, {*shifted}, element,
                           [](OpBuilder &nb, Location l, ValueRange args) {
                             return math::ExpOp::create(nb, l, args[0]);
                           });
    Value sum = buildReduction(
        b, loc, exps, {*axis}, true, scalarConstant(b, loc, element, 0),
        [](OpBuilder &nb, Location l, ValueRange args) {
          return arith::AddFOp::create(nb, l, args[1], args[0]);
        });
    FailureOr<Value> result = buildElementwise(
        node, {isLog ? *shifted : exps, sum}, element,
        [isLog](OpBuilder &nb, Location l, ValueRange args) -> Value {
          if (isLog)
            return arith::SubFOp::create(nb, l, args[0],
                                         math::LogOp::create(nb, l, args[1]));
          return arith::DivFOp::create(nb, l, args[0], args[1]);
        });
    if (failed(result))
      return failure();
    return SmallVector<Value>{*result};
  };
}

/// Casts a float tensor to `type` element-wise (a no-op when equal).
static Value castTensor(OpBuilder &b, Location loc, Value tensor, Type type) {
  if (getElementType(tensor) == type)
    return tensor;
  return mapTensor(b, loc, {tensor}, type,
                   [type](OpBuilder &nb, Location l, ValueRange args) {
                     return convertScalar(nb, l, args[0], type, false, false);
                   });
}

namespace {
/// Mean and 1/sqrt(var + epsilon) (or of mean square, for RMS norm) over
/// the trailing dimensions from `axis`, in the stash type.
struct NormStatistics {
  Value input;  // x in the stash type
  Value mean;   // keepdims; null for RMS norm
  Value invStd; // keepdims
};
} // namespace

static FailureOr<NormStatistics> normStatistics(NodeLowering &node, Value x,
                                                int64_t axis, double epsilon,
                                                Type stash, bool rms) {
  OpBuilder &b = node.b;
  Location loc = node.loc;
  x = castTensor(b, loc, x, stash);
  int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
  SmallVector<int64_t> axes;
  for (int64_t d = axis; d < rank; ++d)
    axes.push_back(d);
  Value zero = scalarConstant(b, loc, stash, 0);
  Value count = countAlong(b, loc, x, axes, stash);
  auto sumOf = [&](Value t) {
    return buildReduction(b, loc, t, axes, true, zero,
                          [](OpBuilder &nb, Location l, ValueRange args) {
                            return arith::AddFOp::create(nb, l, args[1],
                                                         args[0]);
                          });
  };
  auto divide = [&](Value t) {
    return mapTensor(b, loc, {t}, stash,
                     [&](OpBuilder &nb, Location l, ValueRange args) {
                       return arith::DivFOp::create(nb, l, args[0], count);
                     });
  };
  NormStatistics stats{x, nullptr, nullptr};
  Value centered = x;
  if (!rms) {
    stats.mean = divide(sumOf(x));
    FailureOr<Value> diff = buildElementwise(
        node, {x, stats.mean}, stash,
        [](OpBuilder &nb, Location l, ValueRange args) {
          return arith::SubFOp::create(nb, l, args[0], args[1]);
        });
    if (failed(diff))
      return failure();
    centered = *diff;
  }
  Value squares =
      mapTensor(b, loc, {centered}, stash,
                [](OpBuilder &nb, Location l, ValueRange args) {
                  return arith::MulFOp::create(nb, l, args[0], args[0]);
                });
  Value variance = divide(sumOf(squares));
  stats.invStd =
      mapTensor(b, loc, {variance}, stash,
                [&](OpBuilder &nb, Location l, ValueRange args) {
                  Value shifted = arith::AddFOp::create(
                      nb, l, args[0], scalarConstant(nb, l, stash, epsilon));
                  return math::RsqrtOp::create(nb, l, shifted);
                });
  return stats;
}

/// y = (x - mean) * invStd * scale (+ bias), back in x's element type.
static FailureOr<Value> normalizeOutput(NodeLowering &node,
                                        const NormStatistics &stats,
                                        Value scale, Value bias,
                                        Type outElement) {
  OpBuilder &b = node.b;
  Location loc = node.loc;
  Type stash = getElementType(stats.input);
  SmallVector<Value> inputs = {stats.input, stats.invStd,
                               castTensor(b, loc, scale, stash)};
  bool hasMean = stats.mean != nullptr, hasBias = bias != nullptr;
  if (hasMean)
    inputs.push_back(stats.mean);
  if (hasBias)
    inputs.push_back(castTensor(b, loc, bias, stash));
  return buildElementwise(
      node, inputs, outElement,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value x = args[0];
        unsigned next = 3;
        if (hasMean)
          x = arith::SubFOp::create(nb, l, x, args[next++]);
        Value y = arith::MulFOp::create(
            nb, l, arith::MulFOp::create(nb, l, x, args[1]), args[2]);
        if (hasBias)
          y = arith::AddFOp::create(nb, l, y, args[next++]);
        return convertScalar(nb, l, y, outElement, false, false);
      });
}

static FailureOr<SmallVector<Value>> lowerLayerNorm(NodeLowering &node,
                                                    bool rms) {
  FailureOr<Value> input = node.rankedInput(0);
  FailureOr<Value> scale = node.rankedInput(1);
  if (failed(input) || failed(scale))
    return failure();
  Type element = getElementType(*input);
  if (!isa<FloatType>(element))
    return node.error() << "expects a floating-point input", failure();
  if (failed(node.requireElementType({*scale, node.input(2)}, element)))
    return failure();
  int64_t rank = cast<RankedTensorType>(input->getType()).getRank();
  FailureOr<int64_t> axis = node.normalizeAxis(node.intAttr("axis", -1), rank);
  if (failed(axis))
    return failure();
  Type stash =
      node.intAttr("stash_type", 1) == 1 ? Type(node.b.getF32Type()) : element;
  FailureOr<NormStatistics> stats = normStatistics(
      node, *input, *axis, node.floatAttr("epsilon", 1e-5), stash, rms);
  if (failed(stats))
    return failure();
  FailureOr<Value> y = normalizeOutput(node, *stats, *scale,
                                       rms ? Value() : node.input(2), element);
  if (failed(y))
    return failure();
  if (rms)
    return SmallVector<Value>{*y, stats->invStd};
  return SmallVector<Value>{*y, stats->mean, stats->invStd};
}

/// com.microsoft SkipSimplifiedLayerNormalization: RMS-normalises
/// input + skip (+ bias) over the last dimension.
static FailureOr<SmallVector<Value>> lowerSkipRmsNorm(NodeLowering &node) {
  FailureOr<Value> input = node.rankedInput(0);
  FailureOr<Value> skip = node.rankedInput(1);
  FailureOr<Value> gamma = node.rankedInput(2);
  if (failed(input) || failed(skip) || failed(gamma))
    return failure();
  Type element = getElementType(*input);
  if (!isa<FloatType>(element) ||
      cast<RankedTensorType>(input->getType()).getRank() < 1)
    return node.error() << "expects a floating-point input of rank >= 1",
           failure();
  if (failed(node.requireElementType({*skip, *gamma, node.input(3)}, element)))
    return failure();
  SmallVector<Value> terms = {*input, *skip};
  if (Value bias = node.input(3))
    terms.push_back(bias);
  FailureOr<Value> sum = buildElementwise(
      node, terms, element, [](OpBuilder &nb, Location l, ValueRange args) {
        Value acc = args[0];
        for (Value term : args.drop_front())
          acc = arith::AddFOp::create(nb, l, acc, term);
        return acc;
      });
  if (failed(sum))
    return failure();
  int64_t rank = cast<RankedTensorType>(sum->getType()).getRank();
  FailureOr<NormStatistics> stats =
      normStatistics(node, *sum, rank - 1, node.floatAttr("epsilon", 1e-5),
                     node.b.getF32Type(), /*rms=*/true);
  if (failed(stats))
    return failure();
  FailureOr<Value> y = normalizeOutput(node, *stats, *gamma, nullptr, element);
  if (failed(y))
    return failure();
  // Output 1 (mean) is unused by RMS normalisation.
  return SmallVector<Value>{*y, Value(), stats->invStd, *sum};
}

void onnx_lowering::addNormalizationLowerings(LoweringTable &table) {
  auto add = [&](StringRef domain, StringRef op, LoweringFn fn) {
    table[loweringKey(domain, op)] = std::move(fn);
  };
  add("", "ReduceSum", reduce(ReduceKind::Sum, 13));
  add("", "ReduceMean", reduce(ReduceKind::Mean, 18));
  add("", "ReduceMax", reduce(ReduceKind::Max, 18));
  add("", "ReduceMin", reduce(ReduceKind::Min, 18));
  add("", "ReduceProd", reduce(ReduceKind::Prod, 18));
  add("", "Softmax", softmax(false));
  add("", "LogSoftmax", softmax(true));
  add("", "LayerNormalization",
      [](NodeLowering &node) { return lowerLayerNorm(node, false); });
  // onnxruntime registers SimplifiedLayerNormalization in both domains.
  for (StringRef domain : {"", "com.microsoft"})
    add(domain, "SimplifiedLayerNormalization",
        [](NodeLowering &node) { return lowerLayerNorm(node, true); });
  add("com.microsoft", "SkipSimplifiedLayerNormalization", lowerSkipRmsNorm);
}
