//===- Experts.cpp - moe.grouped_matmul and moe.activation to loops -------===//
//
// The grouped matmul runs one parallel iteration per (expert, 64-column
// tile): an expert with no rows costs nothing, one token's k experts
// spread over every thread, and a weight row stays in cache while the
// expert's rows stream past it. Packed weights are read in their packed
// form: each element is unpacked and scaled in the inner loop, and no
// dequantized copy is ever made.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/MoeToSCF/Lowerings.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <cmath>

using namespace mlir;
using namespace moec;

/// Columns of the output one parallel iteration of a grouped matmul owns.
static constexpr int64_t kColumnTile = 64;

Value moec::signlessWeight(LoopBuilder &b, Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  auto integer = dyn_cast<IntegerType>(type.getElementType());
  if (!integer || integer.isSignless())
    return value;
  RankedTensorType signlessType =
      type.clone(IntegerType::get(b.getContext(), integer.getWidth()));
  if (auto constant = value.getDefiningOp<arith::ConstantOp>()) {
    auto dense = cast<DenseElementsAttr>(constant.getValue());
    return arith::ConstantOp::create(
        b, dense.bitcast(signlessType.getElementType()));
  }
  if (auto weight = value.getDefiningOp<moe::WeightOp>()) {
    auto retyped =
        moe::WeightOp::create(b, signlessType, weight.getKeyAttr(),
                              weight.getFileAttr(), weight.getOffsetAttr());
    retyped->setDiscardableAttrs(weight->getDiscardableAttrDictionary());
    return retyped;
  }
  return Value();
}

/// signlessWeight, or an error on `user`.
static FailureOr<Value> signless(LoopBuilder &b, Value value, Operation *user) {
  if (Value retyped = signlessWeight(b, value))
    return retyped;
  return user->emitOpError("cannot read unsigned weight bytes that are not "
                           "a constant or a moe.weight");
}

namespace {
/// Element (e, n, k) of a float or packed [E, N, K] weight, as `type`.
struct WeightReader {
  Value data, scales, zeroPoints;
  moe::PackingAttr packing;
  bool unsignedZeroPoints = false;
  Type type;

  Value load(LoopBuilder &b, Value e, Value n, Value k) const;
};
} // namespace

static FailureOr<WeightReader> makeWeightReader(LoopBuilder &b, Value weight,
                                                Type type, Operation *user) {
  WeightReader reader;
  reader.type = type;
  auto packedType = dyn_cast<moe::PackedType>(weight.getType());
  if (!packedType) {
    reader.data = b.read(weight);
    return reader;
  }
  auto packed = weight.getDefiningOp<moe::PackedWeightOp>();
  if (!packed)
    return user->emitOpError(
        "needs its packed weight built by moe.packed_weight");
  reader.packing = packedType.getPacking();
  if (!reader.packing.isIntegerFormat())
    return user->emitOpError("packed format ")
           << moe::stringifyPackedFormat(reader.packing.getFormat())
           << " is not supported by this lowering yet";
  FailureOr<Value> data = signless(b, packed.getData(), user);
  if (failed(data))
    return failure();
  reader.data = b.read(*data);
  reader.scales = b.read(packed.getScales());
  if (Value zeroPoints = packed.getZeroPoints()) {
    Type zeroType =
        cast<RankedTensorType>(zeroPoints.getType()).getElementType();
    reader.unsignedZeroPoints = zeroType.isUnsignedInteger();
    FailureOr<Value> signlessZeros = signless(b, zeroPoints, user);
    if (failed(signlessZeros))
      return failure();
    reader.zeroPoints = b.read(*signlessZeros);
  }
  return reader;
}

Value WeightReader::load(LoopBuilder &b, Value e, Value n, Value k) const {
  if (!packing)
    return b.toFloat(b.load(data, {e, n, k}), type);
  unsigned bits = packing.getBits();
  int64_t perByte = 8 / bits;
  bool isSigned = packing.getFormat() == moe::PackedFormat::Sint2 ||
                  packing.getFormat() == moe::PackedFormat::Sint4 ||
                  packing.getFormat() == moe::PackedFormat::Sint8;
  Type i32 = b.getI32Type();
  Value byteIndex =
      perByte == 1 ? k : arith::DivUIOp::create(b, k, b.index(perByte));
  Value byte = b.load(data, {e, n, byteIndex});
  Value q;
  if (bits == 8) {
    q = isSigned ? Value(arith::ExtSIOp::create(b, i32, byte))
                 : Value(arith::ExtUIOp::create(b, i32, byte));
  } else {
    Value sub = arith::RemUIOp::create(b, k, b.index(perByte));
    if (packing.getOrder() == moe::PackingOrder::HighFirst)
      sub = arith::SubIOp::create(b, b.index(perByte - 1), sub);
    Value shift = arith::IndexCastOp::create(
        b, i32, arith::MulIOp::create(b, sub, b.index(bits)));
    q = arith::AndIOp::create(
        b,
        arith::ShRUIOp::create(b, arith::ExtUIOp::create(b, i32, byte), shift),
        b.i32((1 << bits) - 1));
    if (isSigned) {
      Value negative = arith::CmpIOp::create(b, arith::CmpIPredicate::sge, q,
                                             b.i32(1 << (bits - 1)));
      q = arith::SelectOp::create(
          b, negative, arith::SubIOp::create(b, q, b.i32(1 << bits)), q);
    }
  }
  ArrayRef<int64_t> block = packing.getBlock();
  SmallVector<Value> blockIndex, elementIndex = {e, n, k};
  for (auto [index, size] : llvm::zip(elementIndex, block))
    blockIndex.push_back(
        size == 1 ? index : arith::DivUIOp::create(b, index, b.index(size)));
  Value scale = b.toFloat(b.load(scales, blockIndex), type);
  Value value = b.toFloat(q, type);
  if (zeroPoints) {
    Value zero = b.load(zeroPoints, blockIndex);
    if (isa<IntegerType>(zero.getType()))
      zero = zero.getType().getIntOrFloatBitWidth() >= 32 ? zero
             : unsignedZeroPoints ? Value(arith::ExtUIOp::create(b, i32, zero))
                                  : Value(arith::ExtSIOp::create(b, i32, zero));
    value = arith::SubFOp::create(b, value, b.toFloat(zero, type));
  }
  return arith::MulFOp::create(b, value, scale);
}

void moec::annotateRoutedFraction(moe::GroupedMatmulOp op) {
  int64_t numExperts =
      moe::getLogicalType(op.getWeight().getType()).getDimSize(0);
  auto dispatch = op.getOffsets().getDefiningOp<moe::DispatchOp>();
  if (!dispatch)
    return;
  int64_t topK = dispatch.getExpertIds().getType().getDimSize(1);
  if (ShapedType::isDynamic(topK))
    return;
  auto fraction = FloatAttr::get(Float64Type::get(op.getContext()),
                                 double(topK) / double(numExperts));
  SmallVector<Value> sources = {op.getWeight()};
  if (auto packed = op.getWeight().getDefiningOp<moe::PackedWeightOp>())
    sources = llvm::to_vector(packed->getOperands());
  for (Value source : sources)
    if (auto weight = source.getDefiningOp<moe::WeightOp>())
      weight->setAttr("moec.routed_fraction", fraction);
}

GroupedMatmulTask moec::groupedMatmulTask(LoopBuilder &b, Value task,
                                          int64_t numExperts, Value offsets) {
  Value e = arith::RemUIOp::create(b, task, b.index(numExperts));
  Value tile = arith::DivUIOp::create(b, task, b.index(numExperts));
  Value lo = b.loadIndex(offsets, {e});
  Value hi = b.loadIndex(offsets, {arith::AddIOp::create(b, e, b.index(1))});
  return {e, tile, lo, hi};
}

void moec::zeroUnroutedRows(LoopBuilder &b, Value offsets, int64_t numExperts,
                            Value output) {
  Type type = cast<MemRefType>(output.getType()).getElementType();
  Value routed = b.loadIndex(offsets, {b.index(numExperts)});
  b.forLoop(routed, b.dim(output, 0), [&](Value row) {
    b.forLoop(b.index(0), b.dim(output, 1), [&](Value col) {
      b.store(b.floatConst(type, 0.0), output, {row, col});
    });
  });
}

/// The scale of row `m`'s int8 quantization: max|x| / 127, 1 for a zero row.
Value moec::int8RowScale(LoopBuilder &b, Value rows, Value m, int64_t k) {
  Type f32 = b.getF32Type();
  Value amax =
      b.reduce(b.index(0), b.index(k), b.floatConst(f32, 0.0),
               [&](Value kk, Value acc) -> Value {
                 Value x = math::AbsFOp::create(b, b.load(rows, {m, kk}));
                 return arith::MaximumFOp::create(b, acc, x);
               });
  Value positive = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, amax,
                                         b.floatConst(f32, 0.0));
  Value scale = arith::DivFOp::create(b, amax, b.floatConst(f32, 127.0));
  return arith::SelectOp::create(b, positive, scale, b.floatConst(f32, 1.0));
}

Value moec::quantizeToInt8(LoopBuilder &b, Value x, Value scale) {
  Type f32 = b.getF32Type();
  Value q = math::RoundEvenOp::create(b, arith::DivFOp::create(b, x, scale));
  q = arith::MaximumFOp::create(b, q, b.floatConst(f32, -127.0));
  return arith::MinimumFOp::create(b, q, b.floatConst(f32, 127.0));
}

Value moec::dequantizedInt8Rows(LoopBuilder &b, Value rows, int64_t k) {
  Type f32 = b.getF32Type();
  Value numRows = b.dim(rows, 0);
  Value result =
      b.alloc(RankedTensorType::get({ShapedType::kDynamic, k}, f32), {numRows});
  b.parallelLoop(b.index(0), numRows, [&](Value m) {
    Value scale = int8RowScale(b, rows, m, k);
    b.forLoop(b.index(0), b.index(k), [&](Value kk) {
      Value x = b.load(rows, {m, kk});
      b.store(arith::MulFOp::create(b, quantizeToInt8(b, x, scale), scale),
              result, {m, kk});
    });
  });
  return result;
}

LogicalResult moec::lowerGroupedMatmul(RewriterBase &rewriter,
                                       moe::GroupedMatmulOp op) {
  RankedTensorType weightType = moe::getLogicalType(op.getWeight().getType());
  int64_t numExperts = weightType.getDimSize(0);
  int64_t outFeatures = weightType.getDimSize(1);
  int64_t inFeatures = weightType.getDimSize(2);
  bool int8Activations = op->hasAttr("moec.int8_activations");
  LoopBuilder b(op);
  RankedTensorType outputType = op.getOutput().getType();
  Type type = outputType.getElementType();
  FailureOr<WeightReader> weight =
      makeWeightReader(b, op.getWeight(), type, op);
  if (failed(weight))
    return failure();
  Value rows = b.read(op.getRows());
  if (int8Activations) {
    if (!cast<RankedTensorType>(op.getRows().getType())
             .getElementType()
             .isF32())
      return op.emitOpError("quantizes f32 rows to int8 only");
    rows = dequantizedInt8Rows(b, rows, inFeatures);
  }
  Value offsets = b.read(op.getOffsets());
  Value bias = op.getBias() ? b.read(op.getBias()) : Value();
  Value numRows = b.dim(rows, 0);
  Value output = b.alloc(outputType, {numRows});

  int64_t tiles = (outFeatures + kColumnTile - 1) / kColumnTile;
  Value numTiles = b.index(tiles);
  Value n = b.index(outFeatures);
  Value k = b.index(inFeatures);
  arith::FastMathFlagsAttr reassoc = b.reassoc();
  b.parallelLoop(b.index(0), b.index(numExperts * tiles), [&](Value task) {
    Value e = arith::DivUIOp::create(b, task, numTiles);
    Value n0 = arith::MulIOp::create(
        b, arith::RemUIOp::create(b, task, numTiles), b.index(kColumnTile));
    Value n1 = arith::MinUIOp::create(
        b, arith::AddIOp::create(b, n0, b.index(kColumnTile)), n);
    Value lo = b.loadIndex(offsets, {e});
    Value hi = b.loadIndex(offsets, {arith::AddIOp::create(b, e, b.index(1))});
    b.forLoop(n0, n1, [&](Value col) {
      b.forLoop(lo, hi, [&](Value row) {
        Value dot =
            b.reduce(b.index(0), k, b.floatConst(type, 0.0),
                     [&](Value kk, Value acc) -> Value {
                       Value x = b.toFloat(b.load(rows, {row, kk}), type);
                       Value w = weight->load(b, e, col, kk);
                       Value product = arith::MulFOp::create(b, x, w, reassoc);
                       return arith::AddFOp::create(b, acc, product, reassoc);
                     });
        if (bias)
          dot = arith::AddFOp::create(b, dot,
                                      b.toFloat(b.load(bias, {e, col}), type));
        b.store(dot, output, {row, col});
      });
    });
  });
  zeroUnroutedRows(b, offsets, numExperts, output);
  rewriter.replaceOp(op, b.result(output));
  return success();
}

/// The activation of one element: `gate` is null for ungated kinds.
static Value activate(LoopBuilder &b, moe::ActivationAttr activation,
                      Value gate, Value up) {
  Type type = up.getType();
  auto constant = [&](double v) { return b.floatConst(type, v); };
  auto half = [&](Value x, Value inner) {
    // 0.5 * x * (1 + inner)
    return arith::MulFOp::create(
        b, arith::MulFOp::create(b, constant(0.5), x),
        arith::AddFOp::create(b, constant(1.0), inner));
  };
  switch (activation.getKind()) {
  case moe::ActivationKind::SiluGated:
  case moe::ActivationKind::Swiglu: {
    double alpha = activation.getAlpha().convertToDouble();
    double beta = activation.getBeta().convertToDouble();
    if (std::optional<APFloat> limit = activation.getLimit()) {
      Value hi = constant(limit->convertToDouble());
      Value lo = constant(-limit->convertToDouble());
      gate = arith::MinimumFOp::create(b, gate, hi);
      up = arith::MaximumFOp::create(b, arith::MinimumFOp::create(b, up, hi),
                                     lo);
    }
    Value scaled =
        alpha == 1.0 ? gate : arith::MulFOp::create(b, gate, constant(alpha));
    Value silu = arith::MulFOp::create(b, gate, b.sigmoid(scaled));
    Value shifted =
        beta == 0.0 ? up : arith::AddFOp::create(b, up, constant(beta));
    return arith::MulFOp::create(b, silu, shifted);
  }
  case moe::ActivationKind::Gelu: {
    Value scaled = arith::MulFOp::create(b, up, constant(M_SQRT1_2));
    return half(up, math::ErfOp::create(b, scaled));
  }
  case moe::ActivationKind::GeluTanh: {
    Value cube = arith::MulFOp::create(b, arith::MulFOp::create(b, up, up), up);
    Value inner = arith::AddFOp::create(
        b, up, arith::MulFOp::create(b, constant(0.044715), cube));
    Value scaled =
        arith::MulFOp::create(b, constant(std::sqrt(2.0 / M_PI)), inner);
    return half(up, math::TanhOp::create(b, scaled));
  }
  case moe::ActivationKind::Relu:
    return arith::MaximumFOp::create(b, up, constant(0.0));
  case moe::ActivationKind::Identity:
    return up;
  }
  llvm_unreachable("unknown activation kind");
}

LogicalResult moec::lowerActivation(RewriterBase &rewriter,
                                    moe::ActivationOp op) {
  LoopBuilder b(op);
  RankedTensorType outputType = op.getOutput().getType();
  Type type = outputType.getElementType();
  Value input = b.read(op.getInput());
  Value up = op.getUp() ? b.read(op.getUp()) : Value();
  std::optional<moe::GateUpLayout> layout = op.getLayout();
  Value numRows = b.dim(input, 0);
  Value width = outputType.isDynamicDim(1)
                    ? Value(arith::DivUIOp::create(b, b.dim(input, 1),
                                                   b.index(layout ? 2 : 1)))
                    : b.index(outputType.getDimSize(1));
  Value output = b.alloc(outputType, {numRows, width});
  bool gated = op.getActivation().isGated();
  b.parallelLoop(b.index(0), numRows, [&](Value i) {
    b.forLoop(b.index(0), width, [&](Value c) {
      Value gate, value;
      if (layout == moe::GateUpLayout::Interleaved) {
        Value even = arith::MulIOp::create(b, c, b.index(2));
        gate = b.load(input, {i, even});
        value = b.load(input, {i, arith::AddIOp::create(b, even, b.index(1))});
      } else if (layout == moe::GateUpLayout::Concatenated) {
        gate = b.load(input, {i, c});
        value = b.load(input, {i, arith::AddIOp::create(b, c, width)});
      } else if (up) {
        gate = b.load(input, {i, c});
        value = b.load(up, {i, c});
      } else {
        value = b.load(input, {i, c});
      }
      if (!gated)
        gate = Value();
      b.store(activate(b, op.getActivation(), gate, b.toFloat(value, type)),
              output, {i, c});
    });
  });
  rewriter.replaceOp(op, b.result(output));
  return success();
}
