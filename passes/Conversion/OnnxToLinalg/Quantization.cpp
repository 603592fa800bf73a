//===- Quantization.cpp - QuantizeLinear and DequantizeLinear -------------===//
//
// Per-tensor, per-axis and blocked (opset 21 block_size) scales and zero
// points. The quantized side may be 4-, 8-, 16- or 32-bit integers.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/OnnxToLinalg/NodeLowering.h"

using namespace mlir;
using namespace moec;
using namespace moec::onnx_lowering;

namespace {
enum class Granularity { Tensor, Axis, Block };

/// How scale (and zero point) entries map to elements of the full tensor.
struct QuantParams {
  Granularity granularity;
  int64_t axis = 0;
  int64_t blockSize = 0;
};
} // namespace

static FailureOr<QuantParams> getQuantParams(NodeLowering &node, Value x,
                                             Value scale, Value zeroPoint) {
  auto xType = cast<RankedTensorType>(x.getType());
  auto scaleType = dyn_cast<RankedTensorType>(scale.getType());
  if (!scaleType)
    return node.error() << "needs a ranked scale", failure();
  if (zeroPoint &&
      cast<ShapedType>(zeroPoint.getType()).getShape() != scaleType.getShape())
    return node.error() << "expects the zero point shaped like the scale",
           failure();
  QuantParams params;
  int64_t blockSize = node.intAttr("block_size", 0);
  if (scaleType.getRank() == 0 ||
      (scaleType.getRank() == 1 && scaleType.getDimSize(0) == 1 &&
       blockSize == 0 && xType.getRank() != 1)) {
    params.granularity = Granularity::Tensor;
    return params;
  }
  FailureOr<int64_t> axis =
      node.normalizeAxis(node.intAttr("axis", 1), xType.getRank());
  if (failed(axis))
    return failure();
  params.axis = *axis;
  if (blockSize <= 0) {
    if (scaleType.getRank() != 1 ||
        (!xType.isDynamicDim(*axis) && !scaleType.isDynamicDim(0) &&
         scaleType.getDimSize(0) != xType.getDimSize(*axis)))
      return node.error() << "expects a per-axis scale of "
                          << xType.getDimSize(*axis) << " entries, got "
                          << scaleType,
             failure();
    params.granularity = Granularity::Axis;
    return params;
  }
  if (scaleType.getRank() != xType.getRank())
    return node.error() << "expects a blocked scale of the input's rank",
           failure();
  for (int64_t d = 0; d < xType.getRank(); ++d) {
    if (xType.isDynamicDim(d) || scaleType.isDynamicDim(d))
      continue;
    int64_t want = d == *axis ? llvm::divideCeil(xType.getDimSize(d), blockSize)
                              : xType.getDimSize(d);
    if (scaleType.getDimSize(d) != want)
      return node.error() << "expects a scale of size " << want
                          << " in dimension " << d << " for block_size "
                          << blockSize << ", got " << scaleType,
             failure();
  }
  params.granularity = Granularity::Block;
  params.blockSize = blockSize;
  return params;
}

/// Applies `body(x, scale, zeroPoint)` per element of `x`, fetching the
/// scale and zero point that govern each element.
static Value buildQuantMap(
    OpBuilder &b, Location loc, Value x, Value scale, Value zeroPoint,
    const QuantParams &params, Type resultElement,
    function_ref<Value(OpBuilder &, Location, Value, Value, Value)> body) {
  int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
  Value init = emptyTensor(b, loc, getSizes(b, loc, x), resultElement);
  SmallVector<Value> inputs = {x};
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank)};
  bool mapped = params.granularity != Granularity::Block;
  auto scalarView = [&](Value t) {
    auto type = cast<RankedTensorType>(t.getType());
    if (type.getRank() == 0)
      return t;
    return Value(tensor::CollapseShapeOp::create(
        b, loc, t, SmallVector<ReassociationIndices>{}));
  };
  if (mapped) {
    for (Value t : {scale, zeroPoint}) {
      if (!t)
        continue;
      if (params.granularity == Granularity::Tensor) {
        inputs.push_back(scalarView(t));
        maps.push_back(AffineMap::get(rank, 0, {}, b.getContext()));
      } else {
        inputs.push_back(t);
        maps.push_back(
            AffineMap::get(rank, 0, b.getAffineDimExpr(params.axis)));
      }
    }
  }
  return buildParallelGeneric(
      b, loc, init, inputs, maps,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value s, z;
        if (mapped) {
          s = args[1];
          z = zeroPoint ? args[2] : Value();
        } else {
          SmallVector<Value> at;
          for (int64_t d = 0; d < rank; ++d) {
            Value i = linalg::IndexOp::create(nb, l, d);
            at.push_back(
                d == params.axis
                    ? Value(arith::DivUIOp::create(
                          nb, l, i, indexConstant(nb, l, params.blockSize)))
                    : i);
          }
          s = tensor::ExtractOp::create(nb, l, scale, at);
          if (zeroPoint)
            z = tensor::ExtractOp::create(nb, l, zeroPoint, at);
        }
        linalg::YieldOp::create(nb, l, body(nb, l, args[0], s, z));
      });
}

static FailureOr<SmallVector<Value>> lowerDequantize(NodeLowering &node) {
  FailureOr<Value> x = node.rankedInput(0);
  FailureOr<Value> scale = node.rankedInput(1);
  if (failed(x) || failed(scale))
    return failure();
  Value zeroPoint = node.input(2);
  OpBuilder &b = node.b;
  Location loc = node.loc;
  Type quantized = getElementType(*x);
  Type element = getElementType(*scale);
  if (!isa<IntegerType>(quantized) || !isa<FloatType>(element))
    return node.error() << "supports integer inputs with float scales, got "
                        << x->getType() << " and " << scale->getType(),
           failure();
  if (zeroPoint && getElementType(zeroPoint) != quantized)
    return node.error() << "expects a zero point of the input's type",
           failure();
  FailureOr<QuantParams> params = getQuantParams(node, *x, *scale, zeroPoint);
  if (failed(params))
    return failure();
  bool isUnsigned = isUnsignedInteger(quantized);
  // x - zero_point is exact in a wider integer.
  Type wide =
      quantized.getIntOrFloatBitWidth() >= 32 ? b.getI64Type() : b.getI32Type();
  Value result = buildQuantMap(
      b, loc, toSignless(b, loc, *x), *scale,
      zeroPoint ? toSignless(b, loc, zeroPoint) : Value(), *params, element,
      [&](OpBuilder &nb, Location l, Value q, Value s, Value z) {
        Value centered = convertScalar(nb, l, q, wide, isUnsigned, false);
        if (z)
          centered = arith::SubIOp::create(
              nb, l, centered,
              convertScalar(nb, l, z, wide, isUnsigned, false));
        Value asFloat = arith::SIToFPOp::create(nb, l, element, centered);
        return arith::MulFOp::create(nb, l, asFloat, s);
      });
  return SmallVector<Value>{result};
}

static FailureOr<SmallVector<Value>> lowerQuantize(NodeLowering &node) {
  FailureOr<Value> x = node.rankedInput(0);
  FailureOr<Value> scale = node.rankedInput(1);
  if (failed(x) || failed(scale))
    return failure();
  Value zeroPoint = node.input(2);
  OpBuilder &b = node.b;
  Location loc = node.loc;
  Type element = getElementType(*x);
  FailureOr<Type> quantizedOr = node.outputElementType(0);
  if (failed(quantizedOr))
    return failure();
  Type quantized = *quantizedOr;
  auto quantizedInt = dyn_cast<IntegerType>(quantized);
  if (!isa<FloatType>(element) || !quantizedInt ||
      getElementType(*scale) != element)
    return node.error() << "supports float inputs and scales quantized to "
                           "integers, got "
                        << x->getType() << " to " << quantized,
           failure();
  FailureOr<QuantParams> params = getQuantParams(node, *x, *scale, zeroPoint);
  if (failed(params))
    return failure();
  bool isUnsigned = quantizedInt.isUnsigned();
  unsigned width = quantizedInt.getWidth();
  double lo = isUnsigned ? 0.0 : -std::ldexp(1.0, width - 1);
  double hi =
      isUnsigned ? std::ldexp(1.0, width) - 1 : std::ldexp(1.0, width - 1) - 1;
  Type signless = toSignlessType(quantized);
  // Compute in f32 at least, so that the rounding and clamp are exact.
  Type compute =
      element.getIntOrFloatBitWidth() < 32 ? b.getF32Type() : element;
  Value result = buildQuantMap(
      b, loc, *x, *scale, zeroPoint ? toSignless(b, loc, zeroPoint) : Value(),
      *params, signless,
      [&](OpBuilder &nb, Location l, Value v, Value s, Value z) {
        Value wideV = convertScalar(nb, l, v, compute, false, false);
        Value wideS = convertScalar(nb, l, s, compute, false, false);
        Value q = math::RoundEvenOp::create(
            nb, l, arith::DivFOp::create(nb, l, wideV, wideS));
        if (z)
          q = arith::AddFOp::create(
              nb, l, q, convertScalar(nb, l, z, compute, isUnsigned, false));
        q = arith::MaximumFOp::create(nb, l, q,
                                      scalarConstant(nb, l, compute, lo));
        q = arith::MinimumFOp::create(nb, l, q,
                                      scalarConstant(nb, l, compute, hi));
        return convertScalar(nb, l, q, signless, false, isUnsigned);
      });
  return SmallVector<Value>{fromSignless(b, loc, result, quantized)};
}

void onnx_lowering::addQuantizationLowerings(LoweringTable &table) {
  table[loweringKey("", "DequantizeLinear")] = lowerDequantize;
  table[loweringKey("", "QuantizeLinear")] = lowerQuantize;
}
