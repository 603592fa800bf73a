//===- Attention.cpp - decoder.attention as a streaming kernel ------------===//
//
// One parallel iteration per (query i, head h): the query at position
// p = Tk - Tq + i reads keys and values j in [lo, p] (lo = p - window + 1
// with a window, else 0) of KV head h / group, once each. For each key:
// s = scale * q . k_j on vectors along the head dimension; an online
// softmax keeps the running maximum m and sum l, and the value accumulators
// acc (vectors), rescaled by exp(m_old - m_new) when m grows. The result is
// acc / l, with exp(sink - m) added to l for a sink.
//
// Keys go in blocks of one vector's lanes first: their scores fill a
// vector, the maximum and the rescaling happen once per block and the
// weights exp(s - m) come from one vector exp (MLIR's polynomial
// approximation, within a few ulp of expf) instead of a libm call per key;
// the keys past the last whole block go one at a time.
//
// The query and the accumulators live in registers, so this kernel takes
// heads that fit them and have a KV head each; grouped heads (GQA, MLA's
// compressed form) and wider ones go to GroupedAttention.cpp, which reads
// a KV head's keys once for several query heads.
//
//===----------------------------------------------------------------------===//

#include "targets/cpu/Passes.h"

#include "targets/cpu/AttentionParts.h"
#include "targets/cpu/GroupedAttention.h"

#include "dialects/decoder/IR/DecoderOps.h"
#include "moec/Conversion/LoopBuilder.h"

#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <limits>

namespace moec::cpu {
#define GEN_PASS_DEF_CPULOWERATTENTION
#include "targets/cpu/Passes.h.inc"
} // namespace moec::cpu

using namespace mlir;
using namespace moec;

namespace {
/// Vectors covering a row of `width` floats: full ones, then one masked.
struct RowChunks {
  int64_t lanes, width;
  int64_t count() const { return (width + lanes - 1) / lanes; }
  /// The mask of chunk c, or null when it is full.
  Value mask(LoopBuilder &b, int64_t c) const {
    int64_t valid = std::min(lanes, width - c * lanes);
    if (valid == lanes)
      return Value();
    return vector::ConstantMaskOp::create(
        b, VectorType::get({lanes}, b.getI1Type()), ArrayRef<int64_t>{valid});
  }
};

} // namespace

/// Lowers `op`; the vector exps it makes go to `vectorExps`.
static void lowerAttention(decoder::AttentionOp op, int64_t lanes,
                           SmallVectorImpl<Operation *> &vectorExps) {
  LoopBuilder b(op);
  cpu::AttentionOperands in(b, op);
  Value q = in.q, k = in.k, v = in.v, sinks = in.sinks, output = in.output;
  Value tq = in.tq, tk = in.tk;
  int64_t heads = in.heads, dim = in.dim, vDim = in.vDim;
  int64_t group = heads / in.kvHeads;
  Type f32 = b.getF32Type();
  auto vectorType = VectorType::get({lanes}, f32);
  Value zero = arith::ConstantOp::create(
      b, vectorType, DenseElementsAttr::get(vectorType, 0.0f));
  RowChunks qChunks{lanes, dim}, vChunks{lanes, vDim};
  double scale = op.getScale().convertToDouble();
  std::optional<int64_t> window = op.getWindow();
  Value tasks = arith::MulIOp::create(b, tq, b.index(heads));
  b.parallelLoop(b.index(0), tasks, [&](Value task) {
    Value i = arith::DivUIOp::create(b, task, b.index(heads));
    Value h = arith::RemUIOp::create(b, task, b.index(heads));
    Value kvHead = arith::DivUIOp::create(b, h, b.index(group));
    cpu::KeyRange range = cpu::keyRange(b, tq, tk, i, window);
    Value lo = range.lo, hi = range.hi;
    // The query, scaled, in registers.
    Value scaleVector = arith::ConstantOp::create(
        b, vectorType, DenseElementsAttr::get(vectorType, float(scale)));
    SmallVector<Value> query;
    for (int64_t c = 0; c < qChunks.count(); ++c)
      query.push_back(
          arith::MulFOp::create(b,
                                cpu::loadF32(b, q, {i, h, b.index(c * lanes)},
                                             lanes, qChunks.mask(b, c)),
                                scaleVector));
    // Loop state: maximum, sum, value accumulators.
    SmallVector<Value> init{
        b.floatConst(f32, -std::numeric_limits<double>::infinity()),
        b.floatConst(f32, 0.0)};
    for (int64_t c = 0; c < vChunks.count(); ++c)
      init.push_back(zero);
    // The dot products of the query with key j, summed.
    auto score = [&](Value j) -> Value {
      Value dot = zero;
      for (int64_t c = 0; c < qChunks.count(); ++c)
        dot = vector::FMAOp::create(
            b, query[c],
            cpu::loadF32(b, k, {j, kvHead, b.index(c * lanes)}, lanes,
                         qChunks.mask(b, c)),
            dot);
      return vector::ReductionOp::create(b, vector::CombiningKind::ADD, dot,
                                         arith::FastMathFlags::reassoc);
    };
    auto valueChunk = [&](Value j, int64_t c) {
      return cpu::loadF32(b, v, {j, kvHead, b.index(c * lanes)}, lanes,
                          vChunks.mask(b, c));
    };
    // Whole blocks of `lanes` keys.
    Value blocks = arith::DivUIOp::create(b, arith::SubIOp::create(b, hi, lo),
                                          b.index(lanes));
    Value blockEnd = arith::AddIOp::create(
        b, lo, arith::MulIOp::create(b, blocks, b.index(lanes)));
    auto blockLoop = scf::ForOp::create(b, lo, blockEnd, b.index(lanes), init);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(blockLoop.getBody());
      Value j0 = blockLoop.getInductionVar();
      ValueRange state = blockLoop.getRegionIterArgs();
      SmallVector<Value> keys, scores;
      for (int64_t jj = 0; jj < lanes; ++jj) {
        keys.push_back(arith::AddIOp::create(b, j0, b.index(jj)));
        scores.push_back(score(keys.back()));
      }
      Value scoreVector = vector::FromElementsOp::create(b, vectorType, scores);
      Value maximum = arith::MaximumFOp::create(
          b, state[0],
          vector::ReductionOp::create(b, vector::CombiningKind::MAXIMUMF,
                                      scoreVector));
      Value rescale =
          math::ExpOp::create(b, arith::SubFOp::create(b, state[0], maximum));
      auto weights = math::ExpOp::create(
          b, arith::SubFOp::create(
                 b, scoreVector,
                 vector::BroadcastOp::create(b, vectorType, maximum)));
      vectorExps.push_back(weights);
      SmallVector<Value> next{
          maximum,
          arith::AddFOp::create(b, arith::MulFOp::create(b, state[1], rescale),
                                vector::ReductionOp::create(
                                    b, vector::CombiningKind::ADD, weights,
                                    arith::FastMathFlags::reassoc))};
      Value rescaleVector = vector::BroadcastOp::create(b, vectorType, rescale);
      for (int64_t c = 0; c < vChunks.count(); ++c) {
        Value acc = arith::MulFOp::create(b, state[2 + c], rescaleVector);
        for (int64_t jj = 0; jj < lanes; ++jj)
          acc = vector::FMAOp::create(
              b,
              vector::BroadcastOp::create(
                  b, vectorType,
                  vector::ExtractOp::create(b, weights, ArrayRef<int64_t>{jj})),
              valueChunk(keys[jj], c), acc);
        next.push_back(acc);
      }
      scf::YieldOp::create(b, next);
    }
    // The rest, one key at a time.
    auto loop =
        scf::ForOp::create(b, blockEnd, hi, b.index(1), blockLoop.getResults());
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value j = loop.getInductionVar();
      ValueRange state = loop.getRegionIterArgs();
      Value s = score(j);
      Value maximum = arith::MaximumFOp::create(b, state[0], s);
      // exp(-inf - finite) = 0 on the first key.
      Value rescale =
          math::ExpOp::create(b, arith::SubFOp::create(b, state[0], maximum));
      Value weight =
          math::ExpOp::create(b, arith::SubFOp::create(b, s, maximum));
      SmallVector<Value> next{
          maximum, arith::AddFOp::create(
                       b, arith::MulFOp::create(b, state[1], rescale), weight)};
      Value rescaleVector = vector::BroadcastOp::create(b, vectorType, rescale);
      Value weightVector = vector::BroadcastOp::create(b, vectorType, weight);
      for (int64_t c = 0; c < vChunks.count(); ++c)
        next.push_back(vector::FMAOp::create(
            b, weightVector, valueChunk(j, c),
            arith::MulFOp::create(b, state[2 + c], rescaleVector)));
      scf::YieldOp::create(b, next);
    }
    Value maximum = loop.getResult(0), sum = loop.getResult(1);
    if (sinks)
      sum = cpu::sumWithSink(b, maximum, sum, sinks, h);
    Value inverse = vector::BroadcastOp::create(
        b, vectorType, arith::DivFOp::create(b, b.floatConst(f32, 1.0), sum));
    for (int64_t c = 0; c < vChunks.count(); ++c) {
      Value result = arith::MulFOp::create(b, loop.getResult(2 + c), inverse);
      Value mask = vChunks.mask(b, c);
      SmallVector<Value> at{i, h, b.index(c * lanes)};
      if (mask)
        vector::MaskedStoreOp::create(b, output, at, mask, result);
      else
        vector::StoreOp::create(b, result, output, at);
    }
  });
  op.getResult().replaceAllUsesWith(b.result(output));
  op.erase();
}

/// Vector registers the streaming kernel may hold a query and its value
/// accumulators in.
static constexpr int64_t kStreamingRegisters = 24;

/// Whether `op` goes to the grouped kernel: query heads share KV heads, or
/// a query and its accumulators do not fit the streaming kernel's
/// registers.
static bool takesGroupedKernel(decoder::AttentionOp op, int64_t lanes) {
  auto qType = cast<RankedTensorType>(op.getQuery().getType());
  auto kType = cast<RankedTensorType>(op.getKey().getType());
  auto vType = cast<RankedTensorType>(op.getValue().getType());
  int64_t vectors = llvm::divideCeil(qType.getDimSize(2), lanes) +
                    llvm::divideCeil(vType.getDimSize(2), lanes);
  return qType.getDimSize(1) != kType.getDimSize(1) ||
         vectors > kStreamingRegisters;
}

namespace {
struct CpuLowerAttentionPass
    : public moec::cpu::impl::CpuLowerAttentionBase<CpuLowerAttentionPass> {
  using Base::Base;

  void runOnOperation() override {
    if (vectorWidth < 1) {
      getOperation().emitError(
          "cpu-lower-attention: the vector width must be positive");
      return signalPassFailure();
    }
    SmallVector<decoder::AttentionOp> ops;
    getOperation().walk([&](decoder::AttentionOp op) { ops.push_back(op); });
    SmallVector<Operation *> vectorExps;
    for (decoder::AttentionOp op : ops) {
      if (takesGroupedKernel(op, vectorWidth))
        cpu::lowerGroupedAttention(op, vectorWidth, vectorExps);
      else
        lowerAttention(op, vectorWidth, vectorExps);
    }
    // The blocks' vector exps as polynomials (the scalar ones stay libm
    // calls; a vector exp left to the libm lowering becomes one call per
    // lane). The predicate sees the operation's full name.
    RewritePatternSet patterns(&getContext());
    populateMathPolynomialApproximationPatterns(
        patterns,
        [](StringRef name) { return name == math::ExpOp::getOperationName(); });
    if (failed(applyOpPatternsGreedily(vectorExps, std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
