//===- GroupedAttention.cpp - Attention for heads that share their keys ---===//
//
// decoder.attention where several query heads read one KV head (GQA, and
// MLA's compressed form, where all heads read one latent cache), or where
// a head is too wide for the streaming kernel's registers. One parallel
// iteration per (query i, KV head, tile of up to kHeadTile of its query
// heads): the keys and values of that KV head are read once for the whole
// tile, not once per head.
//
// Keys go in blocks of one vector's lanes. For each block:
// * scores: for two keys at a time, the head dimension in vector chunks,
//   each key chunk loaded once and multiplied into every head of the tile
//   (2 x tile accumulators); the sums, scaled, go to a scratch row per
//   head, -inf for keys past the query's last;
// * the online softmax per head on its row of scores: the running maximum
//   and sum, the rescale exp(m_old - m_new), the weights exp(s - m) from
//   one vector exp;
// * values: for each chunk of the value dimension, the tile's output rows
//   (the accumulators live in the output) are rescaled and take the
//   block's weighted values, each value chunk loaded once for the tile.
// The result is the output divided by the sum (with exp(sink - m) added
// for a sink). Scratch rows are per task, allocated once for the call.
//
//===----------------------------------------------------------------------===//

#include "targets/cpu/GroupedAttention.h"

#include "targets/cpu/AttentionParts.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <limits>

using namespace mlir;
using namespace moec;

/// Query heads of one KV head that one task covers at most.
static constexpr int64_t kHeadTile = 8;

/// The largest divisor of `group` that is at most kHeadTile.
static int64_t headTile(int64_t group) {
  for (int64_t tile = std::min(group, kHeadTile); tile > 1; --tile)
    if (group % tile == 0)
      return tile;
  return 1;
}

namespace {
/// The chunks of `lanes` floats covering a row of `width`: full chunks in a
/// loop, then one masked chunk.
struct Chunks {
  LoopBuilder &b;
  int64_t lanes, width;

  /// body(start, mask, carried) -> next carried, for each chunk; the mask
  /// is null for full chunks. Returns the final carried values.
  SmallVector<Value>
  forEach(ValueRange init,
          function_ref<SmallVector<Value>(Value, Value, ValueRange)> body) {
    int64_t full = width / lanes * lanes;
    SmallVector<Value> carried(init);
    if (full > 0) {
      auto loop = scf::ForOp::create(b, b.index(0), b.index(full),
                                     b.index(lanes), carried);
      OpBuilder::InsertionGuard guard(b);
      // A loop without carried values comes with its terminator.
      if (carried.empty())
        loop.getBody()->getTerminator()->erase();
      b.setInsertionPointToStart(loop.getBody());
      scf::YieldOp::create(
          b, body(loop.getInductionVar(), Value(), loop.getRegionIterArgs()));
      carried.assign(loop.getResults().begin(), loop.getResults().end());
    }
    if (full < width) {
      Value mask = vector::ConstantMaskOp::create(
          b, VectorType::get({lanes}, b.getI1Type()),
          ArrayRef<int64_t>{width - full});
      carried = body(b.index(full), mask, carried);
    }
    return carried;
  }
};
} // namespace

void cpu::lowerGroupedAttention(decoder::AttentionOp op, int64_t lanes,
                                SmallVectorImpl<Operation *> &vectorExps) {
  LoopBuilder b(op);
  cpu::AttentionOperands in(b, op);
  Value q = in.q, k = in.k, v = in.v, sinks = in.sinks, output = in.output;
  Value tq = in.tq, tk = in.tk;
  int64_t kvHeads = in.kvHeads;
  int64_t group = in.heads / kvHeads, tile = headTile(group);
  int64_t tilesPerKv = group / tile;
  Type f32 = b.getF32Type();
  auto vectorType = VectorType::get({lanes}, f32);
  Value zero = arith::ConstantOp::create(
      b, vectorType, DenseElementsAttr::get(vectorType, 0.0f));
  Value minusInf = b.floatConst(f32, -std::numeric_limits<double>::infinity());
  float scale = float(op.getScale().convertToDouble());
  std::optional<int64_t> window = op.getWindow();
  Value tasksPerQuery = b.index(kvHeads * tilesPerKv);
  Value tasks = arith::MulIOp::create(b, tq, tasksPerQuery);
  // Per task: a row of `lanes` scores (then weights) per head, and each
  // head's running maximum, sum and last rescale.
  int64_t dynamic = ShapedType::kDynamic;
  Value scores =
      b.alloc(RankedTensorType::get({dynamic, tile, lanes}, f32), {tasks});
  Value stats =
      b.alloc(RankedTensorType::get({dynamic, 3, tile}, f32), {tasks});
  Chunks keyChunks{b, lanes, in.dim}, valueChunks{b, lanes, in.vDim};

  auto load = [&](Value buffer, ValueRange at, Value mask) -> Value {
    return cpu::loadF32(b, buffer, at, lanes, mask);
  };
  auto store = [&](Value value, Value buffer, ValueRange at, Value mask) {
    if (mask)
      vector::MaskedStoreOp::create(b, buffer, at, mask, value);
    else
      vector::StoreOp::create(b, value, buffer, at);
  };
  auto splat = [&](Value scalar) -> Value {
    return vector::BroadcastOp::create(b, vectorType, scalar);
  };

  b.parallelLoop(b.index(0), tasks, [&](Value task) {
    Value i = arith::DivUIOp::create(b, task, tasksPerQuery);
    Value rest = arith::RemUIOp::create(b, task, tasksPerQuery);
    Value kvHead = arith::DivUIOp::create(b, rest, b.index(tilesPerKv));
    Value h0 = arith::AddIOp::create(
        b, arith::MulIOp::create(b, kvHead, b.index(group)),
        arith::MulIOp::create(
            b, arith::RemUIOp::create(b, rest, b.index(tilesPerKv)),
            b.index(tile)));
    SmallVector<Value> headIndex, tileIndex;
    for (int64_t g = 0; g < tile; ++g) {
      headIndex.push_back(arith::AddIOp::create(b, h0, b.index(g)));
      tileIndex.push_back(b.index(g));
    }
    cpu::KeyRange range = cpu::keyRange(b, tq, tk, i, window);
    Value lo = range.lo, hi = range.hi;
    // The query's own position.
    Value last = arith::SubIOp::create(b, hi, b.index(1));
    Value maxRow = b.index(0), sumRow = b.index(1), rescaleRow = b.index(2);
    for (int64_t g = 0; g < tile; ++g) {
      b.store(minusInf, stats, {task, maxRow, tileIndex[g]});
      b.store(b.floatConst(f32, 0.0), stats, {task, sumRow, tileIndex[g]});
      valueChunks.forEach({}, [&](Value c, Value mask, ValueRange) {
        store(zero, output, {i, headIndex[g], c}, mask);
        return SmallVector<Value>{};
      });
    }
    // Blocks of `lanes` keys from lo; the last one may reach past the
    // query's last key, whose loads are clamped and whose scores are -inf.
    Value span = arith::SubIOp::create(b, hi, lo);
    Value blocks = arith::DivUIOp::create(
        b, arith::AddIOp::create(b, span, b.index(lanes - 1)), b.index(lanes));
    b.forLoop(b.index(0), blocks, [&](Value block) {
      Value j0 = arith::AddIOp::create(
          b, lo, arith::MulIOp::create(b, block, b.index(lanes)));
      auto keyAt = [&](Value j) {
        return arith::MinUIOp::create(b, j, last).getResult();
      };
      // Scores, two keys at a time.
      b.forLoop(b.index(0), b.index(lanes / 2), [&](Value pair) {
        Value jj0 = arith::MulIOp::create(b, pair, b.index(2));
        Value jj1 = arith::AddIOp::create(b, jj0, b.index(1));
        Value j[2] = {arith::AddIOp::create(b, j0, jj0),
                      arith::AddIOp::create(b, j0, jj1)};
        SmallVector<Value> init(2 * tile, zero);
        SmallVector<Value> sums =
            keyChunks.forEach(init, [&](Value c, Value mask, ValueRange accs) {
              Value keys[2] = {load(k, {keyAt(j[0]), kvHead, c}, mask),
                               load(k, {keyAt(j[1]), kvHead, c}, mask)};
              SmallVector<Value> next;
              for (int64_t g = 0; g < tile; ++g) {
                Value query = load(q, {i, headIndex[g], c}, mask);
                for (int64_t key = 0; key < 2; ++key)
                  next.push_back(vector::FMAOp::create(b, query, keys[key],
                                                       accs[2 * g + key]));
              }
              return next;
            });
        Value jj[2] = {jj0, jj1};
        for (int64_t key = 0; key < 2; ++key) {
          Value valid =
              arith::CmpIOp::create(b, arith::CmpIPredicate::ult, j[key], hi);
          for (int64_t g = 0; g < tile; ++g) {
            Value s = arith::MulFOp::create(
                b,
                vector::ReductionOp::create(b, vector::CombiningKind::ADD,
                                            sums[2 * g + key],
                                            arith::FastMathFlags::reassoc),
                b.floatConst(f32, scale));
            b.store(arith::SelectOp::create(b, valid, s, minusInf), scores,
                    {task, tileIndex[g], jj[key]});
          }
        }
      });
      // The online softmax of each head's row.
      for (int64_t g = 0; g < tile; ++g) {
        Value row = vector::LoadOp::create(
            b, vectorType, scores, ValueRange{task, tileIndex[g], b.index(0)});
        Value old = b.load(stats, {task, maxRow, tileIndex[g]});
        Value maximum = arith::MaximumFOp::create(
            b, old,
            vector::ReductionOp::create(b, vector::CombiningKind::MAXIMUMF,
                                        row));
        Value rescale =
            math::ExpOp::create(b, arith::SubFOp::create(b, old, maximum));
        auto weights = math::ExpOp::create(
            b, arith::SubFOp::create(b, row, splat(maximum)));
        vectorExps.push_back(weights);
        Value sum = arith::AddFOp::create(
            b,
            arith::MulFOp::create(
                b, b.load(stats, {task, sumRow, tileIndex[g]}), rescale),
            vector::ReductionOp::create(b, vector::CombiningKind::ADD, weights,
                                        arith::FastMathFlags::reassoc));
        b.store(maximum, stats, {task, maxRow, tileIndex[g]});
        b.store(sum, stats, {task, sumRow, tileIndex[g]});
        b.store(rescale, stats, {task, rescaleRow, tileIndex[g]});
        vector::StoreOp::create(b, weights, scores,
                                ValueRange{task, tileIndex[g], b.index(0)});
      }
      // The weighted values into the output rows.
      valueChunks.forEach({}, [&](Value c, Value mask, ValueRange) {
        SmallVector<Value> accs;
        for (int64_t g = 0; g < tile; ++g)
          accs.push_back(arith::MulFOp::create(
              b, load(output, {i, headIndex[g], c}, mask),
              splat(b.load(stats, {task, rescaleRow, tileIndex[g]}))));
        auto keys =
            scf::ForOp::create(b, b.index(0), b.index(lanes), b.index(1), accs);
        {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(keys.getBody());
          Value jj = keys.getInductionVar();
          Value value = load(
              v, {keyAt(arith::AddIOp::create(b, j0, jj)), kvHead, c}, mask);
          SmallVector<Value> next;
          for (int64_t g = 0; g < tile; ++g)
            next.push_back(vector::FMAOp::create(
                b, splat(b.load(scores, {task, tileIndex[g], jj})), value,
                keys.getRegionIterArgs()[g]));
          scf::YieldOp::create(b, next);
        }
        for (int64_t g = 0; g < tile; ++g)
          store(keys.getResult(g), output, {i, headIndex[g], c}, mask);
        return SmallVector<Value>{};
      });
    });
    // Divide by the sums (a sink adds exp(sink - m) to its head's).
    for (int64_t g = 0; g < tile; ++g) {
      Value maximum = b.load(stats, {task, maxRow, tileIndex[g]});
      Value sum = b.load(stats, {task, sumRow, tileIndex[g]});
      if (sinks)
        sum = cpu::sumWithSink(b, maximum, sum, sinks, headIndex[g]);
      Value inverse =
          splat(arith::DivFOp::create(b, b.floatConst(f32, 1.0), sum));
      valueChunks.forEach({}, [&](Value c, Value mask, ValueRange) {
        store(arith::MulFOp::create(b, load(output, {i, headIndex[g], c}, mask),
                                    inverse),
              output, {i, headIndex[g], c}, mask);
        return SmallVector<Value>{};
      });
    }
  });
  op.getResult().replaceAllUsesWith(b.result(output));
  op.erase();
}
