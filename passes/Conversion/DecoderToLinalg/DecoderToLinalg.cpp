//===- DecoderToLinalg.cpp - The decoder ops' reference decomposition -----===//
//
// Each op becomes linalg.generic ops over tensors (plus scf.for for the
// embedding's id checks): plain, in f32 (f64 for RoPE's angles), with no
// tiling or fusion; the fast kernels are targets' business.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/Passes.h"

#include "dialects/decoder/IR/DecoderOps.h"
#include "dialects/moe/IR/MoeOps.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/TypeSwitch.h"

#include <limits>

namespace moec {
#define GEN_PASS_DEF_DECODERTOLINALG
#include "passes/Conversion/Passes.h.inc"
} // namespace moec

using namespace mlir;
using namespace moec;

namespace {
/// Shared helpers of the four decompositions.
struct Emit {
  OpBuilder &b;
  Location loc;

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value f32(double v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }
  /// An empty tensor of `shape`, its dynamic extents taken from `dims`
  /// (one Value per dynamic extent, in order).
  Value empty(ArrayRef<int64_t> shape, Type element, ValueRange dims) {
    return tensor::EmptyOp::create(b, loc, shape, element, dims);
  }
  Value filled(ArrayRef<int64_t> shape, ValueRange dims, double v) {
    Value e = empty(shape, b.getF32Type(), dims);
    return linalg::FillOp::create(b, loc, f32(v), e).getResult(0);
  }
  Value dim(Value tensor, int64_t d) {
    return tensor::DimOp::create(b, loc, tensor, d);
  }
  /// `v` as f32 (weights may be bf16 or f16).
  static Value toF32(OpBuilder &nb, Location l, Value v) {
    if (v.getType().isF32())
      return v;
    return arith::ExtFOp::create(nb, l, nb.getF32Type(), v);
  }
  AffineMap map(unsigned dims, ArrayRef<AffineExpr> results) {
    return AffineMap::get(dims, 0, results, b.getContext());
  }
};
} // namespace

/// The dynamic extents of `shape` read from `source` at the same dims.
static SmallVector<Value> dynamicDims(Emit &k, Value source,
                                      ArrayRef<int64_t> shape,
                                      ArrayRef<int64_t> sourceDims) {
  SmallVector<Value> dims;
  for (auto [i, d] : llvm::enumerate(shape))
    if (ShapedType::isDynamic(d))
      dims.push_back(k.dim(source, sourceDims[i]));
  return dims;
}

static void lowerEmbedding(OpBuilder &b, decoder::EmbeddingOp op) {
  Emit k{b, op.getLoc()};
  Location loc = op.getLoc();
  Value table = op.getTable(), ids = op.getIds();
  auto resultType = op.getResult().getType();
  Value count = k.dim(ids, 0);
  Value vocab = k.dim(table, 0);
  // Every id is checked once, before the gather.
  auto loop = scf::ForOp::create(b, loc, k.index(0), count, k.index(1));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value id = tensor::ExtractOp::create(b, loc, ids,
                                         ValueRange{loop.getInductionVar()});
    Value id64 = id.getType().isInteger(64)
                     ? id
                     : arith::ExtSIOp::create(b, loc, b.getI64Type(), id);
    Value vocab64 = arith::IndexCastOp::create(b, loc, b.getI64Type(), vocab);
    Value zero = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0));
    Value ok = arith::AndIOp::create(
        b, loc,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, id64, zero),
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, id64,
                              vocab64));
    moe::CheckOp::create(b, loc, ok,
                         b.getStringAttr("decoder.embedding: token id {0} is "
                                         "outside the vocabulary [0, {1})"),
                         ValueRange{id64, vocab64});
  }
  SmallVector<Value> dims;
  if (resultType.isDynamicDim(0))
    dims.push_back(count);
  if (resultType.isDynamicDim(1))
    dims.push_back(k.dim(table, 1));
  Value init = k.empty(resultType.getShape(), b.getF32Type(), dims);
  auto generic = linalg::GenericOp::create(
      b, loc, resultType, ValueRange{}, init,
      SmallVector<AffineMap>{
          AffineMap::getMultiDimIdentityMap(2, b.getContext())},
      SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location l, ValueRange) {
        Value t = linalg::IndexOp::create(nb, l, 0);
        Value h = linalg::IndexOp::create(nb, l, 1);
        Value id = tensor::ExtractOp::create(nb, l, ids, ValueRange{t});
        Value row = arith::IndexCastOp::create(nb, l, nb.getIndexType(), id);
        Value v = tensor::ExtractOp::create(nb, l, table, ValueRange{row, h});
        linalg::YieldOp::create(nb, l, Emit::toF32(nb, l, v));
      });
  op.getResult().replaceAllUsesWith(generic.getResult(0));
}

static void lowerRmsNorm(OpBuilder &b, decoder::RmsNormOp op) {
  Emit k{b, op.getLoc()};
  Location loc = op.getLoc();
  Value x = op.getInput();
  auto type = op.getResult().getType();
  int64_t rank = type.getRank();
  SmallVector<int64_t> rowShape(type.getShape().drop_back());
  SmallVector<int64_t> rowDims =
      llvm::to_vector(llvm::seq<int64_t>(0, rank - 1));
  Value sums = k.filled(rowShape, dynamicDims(k, x, rowShape, rowDims), 0.0);
  SmallVector<AffineExpr> all, rows;
  for (int64_t d = 0; d < rank; ++d) {
    all.push_back(b.getAffineDimExpr(d));
    if (d + 1 < rank)
      rows.push_back(b.getAffineDimExpr(d));
  }
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  iterators.back() = utils::IteratorType::reduction;
  Value sumSquares =
      linalg::GenericOp::create(
          b, loc, sums.getType(), ValueRange{x}, sums,
          SmallVector<AffineMap>{k.map(rank, all), k.map(rank, rows)},
          iterators,
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value sq = arith::MulFOp::create(nb, l, args[0], args[0]);
            linalg::YieldOp::create(
                nb, l, ValueRange{arith::AddFOp::create(nb, l, args[1], sq)});
          })
          .getResult(0);
  Value hidden = arith::SIToFPOp::create(
      b, loc, b.getF32Type(),
      arith::IndexCastOp::create(b, loc, b.getI64Type(), k.dim(x, rank - 1)));
  Value eps = k.f32(op.getEpsilon().convertToDouble());
  Value init =
      k.empty(type.getShape(), b.getF32Type(),
              dynamicDims(k, x, type.getShape(),
                          llvm::to_vector(llvm::seq<int64_t>(0, rank))));
  auto generic = linalg::GenericOp::create(
      b, loc, type, ValueRange{x, sumSquares, op.getWeight()}, init,
      SmallVector<AffineMap>{k.map(rank, all), k.map(rank, rows),
                             k.map(rank, {b.getAffineDimExpr(rank - 1)}),
                             k.map(rank, all)},
      SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value mean = arith::DivFOp::create(nb, l, args[1], hidden);
        Value inv = math::RsqrtOp::create(
            nb, l, arith::AddFOp::create(nb, l, mean, eps));
        Value normed = arith::MulFOp::create(nb, l, args[0], inv);
        Value w = Emit::toF32(nb, l, args[2]);
        linalg::YieldOp::create(
            nb, l, ValueRange{arith::MulFOp::create(nb, l, normed, w)});
      });
  op.getResult().replaceAllUsesWith(generic.getResult(0));
}

static void lowerRope(OpBuilder &b, decoder::RopeOp op) {
  Emit k{b, op.getLoc()};
  Location loc = op.getLoc();
  Value x = op.getInput(), positions = op.getPositions();
  auto type = op.getResult().getType();
  SmallVector<double> invFreq;
  for (Attribute f : op.getInvFreq())
    invFreq.push_back(cast<FloatAttr>(f).getValueAsDouble());
  int64_t half = invFreq.size(), rotated = 2 * half;
  bool interleaved = op.getInterleaved();
  double amplitude = op.getAmplitude().convertToDouble();
  auto freqType = RankedTensorType::get({half}, b.getF64Type());
  Value freqs = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(freqType, ArrayRef<double>(invFreq)));
  // amplitude * cos and sin of position * frequency, once per position and
  // frequency (not per head), shared by the ropes of the same positions
  // once CSE merges their tables.
  Value tokens = tensor::DimOp::create(b, loc, positions, 0);
  auto tableType =
      RankedTensorType::get({ShapedType::kDynamic, half}, b.getF64Type());
  Value tableInit = tensor::EmptyOp::create(b, loc, tableType.getShape(),
                                            b.getF64Type(), ValueRange{tokens});
  auto table = linalg::GenericOp::create(
      b, loc, TypeRange{tableType, tableType}, ValueRange{positions, freqs},
      ValueRange{tableInit, tableInit},
      SmallVector<AffineMap>{
          AffineMap::get(2, 0, {b.getAffineDimExpr(0)}, b.getContext()),
          AffineMap::get(2, 0, {b.getAffineDimExpr(1)}, b.getContext()),
          AffineMap::getMultiDimIdentityMap(2, b.getContext()),
          AffineMap::getMultiDimIdentityMap(2, b.getContext())},
      SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value angle = arith::MulFOp::create(
            nb, l, arith::SIToFPOp::create(nb, l, nb.getF64Type(), args[0]),
            args[1]);
        Value amp =
            arith::ConstantOp::create(nb, l, nb.getF64FloatAttr(amplitude));
        linalg::YieldOp::create(
            nb, l,
            ValueRange{arith::MulFOp::create(
                           nb, l, math::CosOp::create(nb, l, angle), amp),
                       arith::MulFOp::create(
                           nb, l, math::SinOp::create(nb, l, angle), amp)});
      });
  Value cosines = table.getResult(0), sines = table.getResult(1);
  Value init = k.empty(type.getShape(), b.getF32Type(),
                       dynamicDims(k, x, type.getShape(), {0, 1, 2}));
  auto generic = linalg::GenericOp::create(
      b, loc, type, ValueRange{x}, init,
      SmallVector<AffineMap>{
          AffineMap::getMultiDimIdentityMap(3, b.getContext()),
          AffineMap::getMultiDimIdentityMap(3, b.getContext())},
      SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location l, ValueRange args) {
        auto idx = [&](int64_t v) {
          return arith::ConstantIndexOp::create(nb, l, v);
        };
        Value t = linalg::IndexOp::create(nb, l, 0);
        Value n = linalg::IndexOp::create(nb, l, 1);
        Value i = linalg::IndexOp::create(nb, l, 2);
        Value inRotary = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult,
                                               i, idx(rotated));
        // Pass-through dimensions compute on dimension 0 and are dropped.
        Value r = arith::SelectOp::create(nb, l, inRotary, i, idx(0));
        Value frequency, partner, first;
        if (interleaved) {
          frequency = arith::DivUIOp::create(nb, l, r, idx(2));
          Value odd = arith::RemUIOp::create(nb, l, r, idx(2));
          first = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, odd,
                                        idx(0));
          partner = arith::SelectOp::create(
              nb, l, first, arith::AddIOp::create(nb, l, r, idx(1)),
              arith::SubIOp::create(nb, l, r, idx(1)));
        } else {
          first = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult, r,
                                        idx(half));
          frequency = arith::SelectOp::create(
              nb, l, first, r, arith::SubIOp::create(nb, l, r, idx(half)));
          partner = arith::SelectOp::create(
              nb, l, first, arith::AddIOp::create(nb, l, r, idx(half)),
              frequency);
        }
        Value c =
            tensor::ExtractOp::create(nb, l, cosines, ValueRange{t, frequency});
        Value s =
            tensor::ExtractOp::create(nb, l, sines, ValueRange{t, frequency});
        // The first of a pair subtracts its partner's sine term.
        Value signedSin = arith::SelectOp::create(
            nb, l, first, arith::NegFOp::create(nb, l, s), s);
        Value self = tensor::ExtractOp::create(nb, l, x, ValueRange{t, n, r});
        Value other =
            tensor::ExtractOp::create(nb, l, x, ValueRange{t, n, partner});
        auto wide = [&](Value v) {
          return arith::ExtFOp::create(nb, l, nb.getF64Type(), v);
        };
        Value rotatedValue = arith::AddFOp::create(
            nb, l, arith::MulFOp::create(nb, l, wide(self), c),
            arith::MulFOp::create(nb, l, wide(other), signedSin));
        Value narrow =
            arith::TruncFOp::create(nb, l, nb.getF32Type(), rotatedValue);
        linalg::YieldOp::create(nb, l,
                                ValueRange{arith::SelectOp::create(
                                    nb, l, inRotary, narrow, args[0])});
      });
  op.getResult().replaceAllUsesWith(generic.getResult(0));
}

static void lowerAttention(OpBuilder &b, decoder::AttentionOp op) {
  Emit k{b, op.getLoc()};
  Location loc = op.getLoc();
  Value q = op.getQuery(), key = op.getKey(), v = op.getValue();
  auto qType = cast<RankedTensorType>(q.getType());
  auto kType = cast<RankedTensorType>(key.getType());
  int64_t heads = qType.getDimSize(1);
  int64_t group = heads / kType.getDimSize(1);
  double scale = op.getScale().convertToDouble();
  std::optional<int64_t> window = op.getWindow();
  Value sinks = op.getSinks();
  MLIRContext *ctx = b.getContext();
  AffineExpr d0 = b.getAffineDimExpr(0), d1 = b.getAffineDimExpr(1),
             d2 = b.getAffineDimExpr(2), d3 = b.getAffineDimExpr(3);
  using IT = utils::IteratorType;
  Value tq = k.dim(q, 0), tk = k.dim(key, 0);
  int64_t sTq = qType.getDimSize(0), sTk = kType.getDimSize(0);
  // scores[h, i, j] = scale * q[i, h] . k[j, h / group], masked with -inf.
  SmallVector<int64_t> scoreShape{heads, sTq, sTk};
  SmallVector<Value> scoreDims;
  if (ShapedType::isDynamic(sTq))
    scoreDims.push_back(tq);
  if (ShapedType::isDynamic(sTk))
    scoreDims.push_back(tk);
  Value zeros = k.filled(scoreShape, scoreDims, 0.0);
  Value dots =
      linalg::GenericOp::create(
          b, loc, zeros.getType(), ValueRange{q, key}, zeros,
          SmallVector<AffineMap>{k.map(4, {d1, d0, d3}),
                                 k.map(4, {d2, d0.floorDiv(group), d3}),
                                 k.map(4, {d0, d1, d2})},
          SmallVector<IT>{IT::parallel, IT::parallel, IT::parallel,
                          IT::reduction},
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value p = arith::MulFOp::create(nb, l, args[0],
                                            Emit::toF32(nb, l, args[1]));
            linalg::YieldOp::create(
                nb, l, ValueRange{arith::AddFOp::create(nb, l, args[2], p)});
          })
          .getResult(0);
  Value offset = arith::SubIOp::create(b, loc, tk, tq);
  Value masked =
      linalg::GenericOp::create(
          b, loc, dots.getType(), ValueRange{}, dots,
          SmallVector<AffineMap>{AffineMap::getMultiDimIdentityMap(3, ctx)},
          SmallVector<IT>(3, IT::parallel),
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value i = linalg::IndexOp::create(nb, l, 1);
            Value j = linalg::IndexOp::create(nb, l, 2);
            Value pos = arith::AddIOp::create(nb, l, offset, i);
            Value ok =
                arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ule, j, pos);
            if (window) {
              // j > pos - window, i.e. j + window > pos.
              Value reach = arith::AddIOp::create(
                  nb, l, j, arith::ConstantIndexOp::create(nb, l, *window));
              ok = arith::AndIOp::create(
                  nb, l, ok,
                  arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ugt, reach,
                                        pos));
            }
            Value scaled = arith::MulFOp::create(
                nb, l, args[0],
                arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(scale)));
            Value minusInf = arith::ConstantOp::create(
                nb, l,
                nb.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
            linalg::YieldOp::create(nb, l,
                                    ValueRange{arith::SelectOp::create(
                                        nb, l, ok, scaled, minusInf)});
          })
          .getResult(0);
  // Row maxima and sums over j; a sink starts each row as a logit of its
  // own.
  SmallVector<int64_t> rowShape{heads, sTq};
  SmallVector<Value> rowDims;
  if (ShapedType::isDynamic(sTq))
    rowDims.push_back(tq);
  Value rowInit = k.empty(rowShape, b.getF32Type(), rowDims);
  auto rowStart = [&](double fallback) -> Value {
    if (!sinks)
      return k.filled(rowShape, rowDims, fallback);
    return linalg::GenericOp::create(
               b, loc, rowInit.getType(), ValueRange{sinks}, rowInit,
               SmallVector<AffineMap>{k.map(2, {d0}), k.map(2, {d0, d1})},
               SmallVector<IT>(2, IT::parallel),
               [&](OpBuilder &nb, Location l, ValueRange args) {
                 linalg::YieldOp::create(
                     nb, l, ValueRange{Emit::toF32(nb, l, args[0])});
               })
        .getResult(0);
  };
  Value maxima =
      linalg::GenericOp::create(
          b, loc, rowInit.getType(), ValueRange{masked},
          rowStart(-std::numeric_limits<double>::infinity()),
          SmallVector<AffineMap>{k.map(3, {d0, d1, d2}), k.map(3, {d0, d1})},
          SmallVector<IT>{IT::parallel, IT::parallel, IT::reduction},
          [&](OpBuilder &nb, Location l, ValueRange args) {
            linalg::YieldOp::create(
                nb, l,
                ValueRange{arith::MaximumFOp::create(nb, l, args[0], args[1])});
          })
          .getResult(0);
  // Sum of exp(s - max), starting from exp(sink - max) or 0.
  Value sumStart = rowStart(0.0);
  if (sinks)
    sumStart =
        linalg::GenericOp::create(
            b, loc, rowInit.getType(), ValueRange{maxima}, sumStart,
            SmallVector<AffineMap>{k.map(2, {d0, d1}), k.map(2, {d0, d1})},
            SmallVector<IT>(2, IT::parallel),
            [&](OpBuilder &nb, Location l, ValueRange args) {
              Value e = math::ExpOp::create(
                  nb, l, arith::SubFOp::create(nb, l, args[1], args[0]));
              linalg::YieldOp::create(nb, l, ValueRange{e});
            })
            .getResult(0);
  Value sums =
      linalg::GenericOp::create(
          b, loc, rowInit.getType(), ValueRange{masked, maxima}, sumStart,
          SmallVector<AffineMap>{k.map(3, {d0, d1, d2}), k.map(3, {d0, d1}),
                                 k.map(3, {d0, d1})},
          SmallVector<IT>{IT::parallel, IT::parallel, IT::reduction},
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value e = math::ExpOp::create(
                nb, l, arith::SubFOp::create(nb, l, args[0], args[1]));
            linalg::YieldOp::create(
                nb, l, ValueRange{arith::AddFOp::create(nb, l, args[2], e)});
          })
          .getResult(0);
  // result[i, h, e] = sum_j exp(s - max) / sum * v[j, h / group, e].
  auto resultType = op.getResult().getType();
  SmallVector<Value> resultDims;
  if (resultType.isDynamicDim(0))
    resultDims.push_back(tq);
  if (resultType.isDynamicDim(2))
    resultDims.push_back(k.dim(v, 2));
  Value out = k.filled(resultType.getShape(), resultDims, 0.0);
  auto generic = linalg::GenericOp::create(
      b, loc, resultType, ValueRange{masked, maxima, sums, v}, out,
      SmallVector<AffineMap>{
          k.map(4, {d1, d0, d3}), k.map(4, {d1, d0}), k.map(4, {d1, d0}),
          k.map(4, {d3, d1.floorDiv(group), d2}), k.map(4, {d0, d1, d2})},
      SmallVector<IT>{IT::parallel, IT::parallel, IT::parallel, IT::reduction},
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value p = arith::DivFOp::create(
            nb, l,
            math::ExpOp::create(nb, l,
                                arith::SubFOp::create(nb, l, args[0], args[1])),
            args[2]);
        Value term =
            arith::MulFOp::create(nb, l, p, Emit::toF32(nb, l, args[3]));
        linalg::YieldOp::create(
            nb, l, ValueRange{arith::AddFOp::create(nb, l, args[4], term)});
      });
  op.getResult().replaceAllUsesWith(generic.getResult(0));
}

namespace {
struct DecoderToLinalgPass
    : public moec::impl::DecoderToLinalgBase<DecoderToLinalgPass> {
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation()->walk([&](Operation *op) {
      if (isa<decoder::EmbeddingOp, decoder::RmsNormOp, decoder::RopeOp,
              decoder::AttentionOp>(op) &&
          !op->hasAttr(decoder::kTargetKernelAttr))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      OpBuilder b(op);
      llvm::TypeSwitch<Operation *>(op)
          .Case([&](decoder::EmbeddingOp o) { lowerEmbedding(b, o); })
          .Case([&](decoder::RmsNormOp o) { lowerRmsNorm(b, o); })
          .Case([&](decoder::RopeOp o) { lowerRope(b, o); })
          .Case([&](decoder::AttentionOp o) { lowerAttention(b, o); });
      op->erase();
    }
  }
};
} // namespace
