//===- Routing.cpp - moe.router, moe.dispatch, moe.combine to loops -------===//
//
// Routing is a handful of scalar loops per token: scores, the group mask,
// k rounds of "best not yet taken" (lower index wins ties, as ONNX TopK),
// the weights. Dispatch is a stable counting sort of the (token, choice)
// pairs by expert; combine sums each token's k rows in choice order, so
// results do not depend on how the sparse path is parallelised.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/MoeToSCF/Lowerings.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <limits>

using namespace mlir;
using namespace moec;

/// The first index i in [0, n) of the largest row[t, i] with taken[t, i] == 0.
static Value argmaxNotTaken(LoopBuilder &b, Value row, Value taken, Value t,
                            Value n) {
  Type type = cast<MemRefType>(row.getType()).getElementType();
  auto loop = scf::ForOp::create(
      b, b.index(0), n, b.index(1),
      ValueRange{b.index(-1),
                 b.floatConst(type, -std::numeric_limits<double>::infinity())});
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  Value i = loop.getInductionVar();
  Value bestIndex = loop.getRegionIterArgs()[0];
  Value bestValue = loop.getRegionIterArgs()[1];
  Value value = b.load(row, {t, i});
  Value free =
      arith::CmpIOp::create(b, arith::CmpIPredicate::eq, b.load(taken, {t, i}),
                            arith::ConstantIntOp::create(b, 0, 8));
  Value none = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, bestIndex,
                                     b.index(0));
  Value better =
      arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, value, bestValue);
  Value pick =
      arith::AndIOp::create(b, free, arith::OrIOp::create(b, none, better));
  scf::YieldOp::create(
      b, ValueRange{arith::SelectOp::create(b, pick, i, bestIndex),
                    arith::SelectOp::create(b, pick, value, bestValue)});
  b.setInsertionPointAfter(loop);
  return loop.getResult(0);
}

static Value rowMax(LoopBuilder &b, Value row, Value t, Value lb, Value ub) {
  Type type = cast<MemRefType>(row.getType()).getElementType();
  return b.reduce(
      lb, ub, b.floatConst(type, -std::numeric_limits<double>::infinity()),
      [&](Value i, Value acc) -> Value {
        return arith::MaximumFOp::create(b, acc, b.load(row, {t, i}));
      });
}

/// Marks [t, i] taken or not.
static void setTaken(LoopBuilder &b, Value taken, Value t, Value i,
                     bool value) {
  b.store(arith::ConstantIntOp::create(b, value ? 1 : 0, 8), taken, {t, i});
}

/// The sum of the two largest row[t, lb..ub).
static Value sumOfTopTwo(LoopBuilder &b, Value row, Value t, Value lb,
                         Value ub) {
  Type type = cast<MemRefType>(row.getType()).getElementType();
  Value negInf = b.floatConst(type, -std::numeric_limits<double>::infinity());
  auto loop =
      scf::ForOp::create(b, lb, ub, b.index(1), ValueRange{negInf, negInf});
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  Value v = b.load(row, {t, loop.getInductionVar()});
  Value best = loop.getRegionIterArgs()[0];
  Value second = loop.getRegionIterArgs()[1];
  Value isBest = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, v, best);
  Value newSecond = arith::SelectOp::create(
      b, isBest, best, arith::MaximumFOp::create(b, second, v));
  Value newBest = arith::SelectOp::create(b, isBest, v, best);
  scf::YieldOp::create(b, ValueRange{newBest, newSecond});
  b.setInsertionPointAfter(loop);
  return arith::AddFOp::create(b, loop.getResult(0), loop.getResult(1));
}

/// Keeps only the experts of the topk_group best groups eligible: the
/// others' selection score becomes the group limit's fill value, or -inf.
static void applyGroupLimit(LoopBuilder &b, moe::GroupLimitAttr groups,
                            Value select, Value t, int64_t numExperts,
                            Value groupScores, Value groupTaken) {
  Type type = cast<MemRefType>(select.getType()).getElementType();
  Value size = b.index(numExperts / groups.getNGroup());
  Value numGroups = b.index(groups.getNGroup());
  b.forLoop(b.index(0), numGroups, [&](Value g) {
    Value lb = arith::MulIOp::create(b, g, size);
    Value ub = arith::AddIOp::create(b, lb, size);
    Value score = groups.getScore() == moe::GroupScore::Max
                      ? rowMax(b, select, t, lb, ub)
                      : sumOfTopTwo(b, select, t, lb, ub);
    b.store(score, groupScores, {t, g});
    setTaken(b, groupTaken, t, g, false);
  });
  b.forLoop(b.index(0), b.index(groups.getTopkGroup()), [&](Value) {
    Value best = argmaxNotTaken(b, groupScores, groupTaken, t, numGroups);
    setTaken(b, groupTaken, t, best, true);
  });
  double fill = groups.getFill() ? groups.getFill().getValueAsDouble()
                                 : -std::numeric_limits<double>::infinity();
  Value dropValue = b.floatConst(type, fill);
  b.forLoop(b.index(0), b.index(numExperts), [&](Value e) {
    Value g = arith::DivUIOp::create(b, e, size);
    Value dropped = arith::CmpIOp::create(
        b, arith::CmpIPredicate::eq, b.load(groupTaken, {t, g}),
        arith::ConstantIntOp::create(b, 0, 8));
    b.ifThen(dropped, [&] { b.store(dropValue, select, {t, e}); });
  });
}

/// weights[t, :] = softmax(weights[t, :]) over the k columns.
static void softmaxRow(LoopBuilder &b, Value weights, Value t, Value k) {
  Value max = rowMax(b, weights, t, b.index(0), k);
  Type type = max.getType();
  Value sum = b.reduce(
      b.index(0), k, b.floatConst(type, 0.0), [&](Value j, Value acc) -> Value {
        Value shifted = arith::SubFOp::create(b, b.load(weights, {t, j}), max);
        Value e = math::ExpOp::create(b, shifted);
        b.store(e, weights, {t, j});
        return arith::AddFOp::create(b, acc, e);
      });
  b.forLoop(b.index(0), k, [&](Value j) {
    b.store(arith::DivFOp::create(b, b.load(weights, {t, j}), sum), weights,
            {t, j});
  });
}

LogicalResult moec::lowerRouter(RewriterBase &rewriter, moe::RouterOp op) {
  RankedTensorType logitsType = op.getLogits().getType();
  if (logitsType.isDynamicDim(1))
    return op.emitOpError("needs a static number of experts to lower");
  int64_t numExperts = logitsType.getDimSize(1);
  Type type = logitsType.getElementType();
  LoopBuilder b(op);
  Value logits = b.read(op.getLogits());
  Value bias = op.getSelectionBias() ? b.read(op.getSelectionBias()) : Value();
  Value tokens = b.dim(logits, 0);

  RankedTensorType weightsType = op.getWeights().getType();
  RankedTensorType idsType = op.getIds().getType();
  Value weights = b.alloc(weightsType, {tokens});
  Value ids = b.alloc(idsType, {tokens});
  // Per-token scratch: scores, selection scores, and taken flags.
  auto scratch = [&](int64_t columns, Type elementType) {
    return b.alloc(
        RankedTensorType::get({logitsType.getDimSize(0), columns}, elementType),
        {tokens});
  };
  Type i8 = b.getI8Type();
  Value scores = scratch(numExperts, type);
  Value select = scratch(numExperts, type);
  Value taken = scratch(numExperts, i8);
  moe::GroupLimitAttr groups = op.getGroupsAttr();
  Value groupScores, groupTaken;
  if (groups) {
    groupScores = scratch(groups.getNGroup(), type);
    groupTaken = scratch(groups.getNGroup(), i8);
  }

  Value numE = b.index(numExperts);
  Value k = b.index(op.getTopK());
  moe::RouterScoring scoring = op.getScoring();
  b.parallelLoop(b.index(0), tokens, [&](Value t) {
    if (scoring == moe::RouterScoring::Softmax) {
      Value max = rowMax(b, logits, t, b.index(0), numE);
      Value sum = b.reduce(
          b.index(0), numE, b.floatConst(type, 0.0),
          [&](Value e, Value acc) -> Value {
            Value x = math::ExpOp::create(
                b, arith::SubFOp::create(b, b.load(logits, {t, e}), max));
            b.store(x, scores, {t, e});
            return arith::AddFOp::create(b, acc, x);
          });
      b.forLoop(b.index(0), numE, [&](Value e) {
        b.store(arith::DivFOp::create(b, b.load(scores, {t, e}), sum), scores,
                {t, e});
      });
    } else {
      b.forLoop(b.index(0), numE, [&](Value e) {
        Value x = b.load(logits, {t, e});
        if (scoring == moe::RouterScoring::Sigmoid)
          x = b.sigmoid(x);
        b.store(x, scores, {t, e});
      });
    }
    b.forLoop(b.index(0), numE, [&](Value e) {
      Value s = b.load(scores, {t, e});
      if (bias)
        s = arith::AddFOp::create(b, s, b.toFloat(b.load(bias, {e}), type));
      b.store(s, select, {t, e});
      setTaken(b, taken, t, e, false);
    });
    if (groups)
      applyGroupLimit(b, groups, select, t, numExperts, groupScores,
                      groupTaken);
    b.forLoop(b.index(0), k, [&](Value j) {
      Value best = argmaxNotTaken(b, select, taken, t, numE);
      setTaken(b, taken, t, best, true);
      b.store(arith::IndexCastOp::create(b, b.getI32Type(), best), ids, {t, j});
      Value source =
          scoring == moe::RouterScoring::SoftmaxAfterTopK ? logits : scores;
      b.store(b.load(source, {t, best}), weights, {t, j});
    });
    if (scoring == moe::RouterScoring::SoftmaxAfterTopK)
      softmaxRow(b, weights, t, k);
    if (op.getNormalize()) {
      Value sum = b.reduce(
          b.index(0), k, b.floatConst(type, 1e-20),
          [&](Value j, Value acc) -> Value {
            return arith::AddFOp::create(b, acc, b.load(weights, {t, j}));
          });
      b.forLoop(b.index(0), k, [&](Value j) {
        b.store(arith::DivFOp::create(b, b.load(weights, {t, j}), sum), weights,
                {t, j});
      });
    }
    if (std::optional<APFloat> scale = op.getScale()) {
      Value factor = b.floatConst(type, scale->convertToDouble());
      b.forLoop(b.index(0), k, [&](Value j) {
        b.store(arith::MulFOp::create(b, b.load(weights, {t, j}), factor),
                weights, {t, j});
      });
    }
  });
  Value weightsTensor = b.result(weights);
  Value idsTensor = b.result(ids);
  rewriter.replaceOp(op, ValueRange{weightsTensor, idsTensor});
  return success();
}

/// Copies input row permutation[i] / k into rows[i] for every row, or
/// zeroes the row of an empty slot (permutation[i] < 0), and replaces the
/// dispatch by the three buffers.
static void completeDispatch(RewriterBase &rewriter, LoopBuilder &b,
                             moe::DispatchOp op, Value input, Value permutation,
                             Value k, Value rows, Value offsets) {
  Value hidden = b.dim(input, 1);
  Type type = cast<MemRefType>(rows.getType()).getElementType();
  b.parallelLoop(b.index(0), b.dim(rows, 0), [&](Value i) {
    Value p = b.loadIndex(permutation, {i});
    Value filled =
        arith::CmpIOp::create(b, arith::CmpIPredicate::sge, p, b.index(0));
    Value t = arith::DivUIOp::create(
        b, arith::SelectOp::create(b, filled, p, b.index(0)), k);
    b.forLoop(b.index(0), hidden, [&](Value h) {
      Value x = arith::SelectOp::create(b, filled, b.load(input, {t, h}),
                                        b.floatConst(type, 0.0));
      b.store(x, rows, {i, h});
    });
  });
  SmallVector<Value> results = {b.result(rows), b.result(permutation),
                                b.result(offsets)};
  rewriter.replaceOp(op, results);
}

/// Static capacity: C slots per expert, filled in choice-major, token
/// order; pairs that find their expert full are dropped.
static LogicalResult lowerCapacityDispatch(RewriterBase &rewriter,
                                           moe::DispatchOp op,
                                           int64_t capacity) {
  LoopBuilder b(op);
  Value input = b.read(op.getInput());
  Value expertIds = b.read(op.getExpertIds());
  Value tokens = b.dim(expertIds, 0);
  Value k = b.dim(expertIds, 1);
  int64_t numExperts = op.getNumExperts();
  Value rows = b.alloc(op.getRows().getType(), {});
  Value permutation = b.allocFilled(op.getPermutation().getType(), b.i32(-1));
  Value offsets = b.alloc(op.getOffsets().getType(), {});
  Value used = b.allocFilled(
      RankedTensorType::get({numExperts}, b.getI32Type()), b.i32(0));
  b.forLoop(b.index(0), b.index(numExperts + 1), [&](Value e) {
    b.store(
        arith::IndexCastOp::create(
            b, b.getI32Type(), arith::MulIOp::create(b, e, b.index(capacity))),
        offsets, {e});
  });
  Value numE = b.index(numExperts);
  b.forLoop(b.index(0), k, [&](Value j) {
    b.forLoop(b.index(0), tokens, [&](Value t) {
      Value e = b.loadIndex(expertIds, {t, j});
      Value valid = b.inRange(e, b.index(0), numE);
      b.ifThen(valid, [&] {
        Value count = b.loadIndex(used, {e});
        Value free = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, count,
                                           b.index(capacity));
        b.ifThen(free, [&] {
          Value slot = arith::AddIOp::create(
              b, arith::MulIOp::create(b, e, b.index(capacity)), count);
          Value p = arith::AddIOp::create(b, arith::MulIOp::create(b, t, k), j);
          b.store(arith::IndexCastOp::create(b, b.getI32Type(), p), permutation,
                  {slot});
          b.store(arith::IndexCastOp::create(
                      b, b.getI32Type(),
                      arith::AddIOp::create(b, count, b.index(1))),
                  used, {e});
        });
      });
    });
  });
  completeDispatch(rewriter, b, op, input, permutation, k, rows, offsets);
  return success();
}

LogicalResult moec::lowerDispatch(RewriterBase &rewriter, moe::DispatchOp op) {
  if (std::optional<uint64_t> capacity = op.getCapacity())
    return lowerCapacityDispatch(rewriter, op, int64_t(*capacity));
  LoopBuilder b(op);
  Value input = b.read(op.getInput());
  Value expertIds = b.read(op.getExpertIds());
  Value tokens = b.dim(expertIds, 0);
  Value k = b.dim(expertIds, 1);
  Value pairs = arith::MulIOp::create(b, tokens, k);
  int64_t numExperts = op.getNumExperts();
  Value numE = b.index(numExperts);

  RankedTensorType rowsType = op.getRows().getType();
  Value rows = b.alloc(rowsType, {pairs});
  Value permutation = b.alloc(op.getPermutation().getType(), {pairs});
  Value offsets = b.allocFilled(op.getOffsets().getType(), b.i32(0));
  Value cursor =
      b.alloc(RankedTensorType::get({numExperts}, b.getI32Type()), {});

  // The expert of pair p, and whether it is in [0, E).
  auto expertOf = [&](Value p) -> std::pair<Value, Value> {
    Value t = arith::DivUIOp::create(b, p, k);
    Value j = arith::RemUIOp::create(b, p, k);
    Value e = b.loadIndex(expertIds, {t, j});
    Value valid = b.inRange(e, b.index(0), numE);
    return {e, valid};
  };
  Value one = b.i32(1);
  b.forLoop(b.index(0), pairs, [&](Value p) {
    Value e, valid;
    std::tie(e, valid) = expertOf(p);
    b.ifThen(valid, [&] {
      Value next = arith::AddIOp::create(b, e, b.index(1));
      b.store(arith::AddIOp::create(b, b.load(offsets, {next}), one), offsets,
              {next});
    });
  });
  b.forLoop(b.index(1), b.index(numExperts + 1), [&](Value e) {
    Value prev = arith::SubIOp::create(b, e, b.index(1));
    b.store(
        arith::AddIOp::create(b, b.load(offsets, {e}), b.load(offsets, {prev})),
        offsets, {e});
  });
  b.forLoop(b.index(0), numE,
            [&](Value e) { b.store(b.load(offsets, {e}), cursor, {e}); });
  // Stable placement; unrouted pairs fill the rows after offsets[E].
  b.reduce(b.index(0), pairs, b.loadIndex(offsets, {numE}),
           [&](Value p, Value unrouted) -> Value {
             auto [e, valid] = expertOf(p);
             Value safeE = arith::SelectOp::create(b, valid, e, b.index(0));
             Value slot = b.load(cursor, {safeE});
             Value pos =
                 arith::SelectOp::create(b, valid, b.toIndex(slot), unrouted);
             b.store(arith::IndexCastOp::create(b, b.getI32Type(), p),
                     permutation, {pos});
             b.store(arith::SelectOp::create(
                         b, valid, arith::AddIOp::create(b, slot, one), slot),
                     cursor, {safeE});
             return arith::SelectOp::create(
                 b, valid, unrouted,
                 arith::AddIOp::create(b, unrouted, b.index(1)));
           });
  completeDispatch(rewriter, b, op, input, permutation, k, rows, offsets);
  return success();
}

LogicalResult moec::lowerCombine(RewriterBase &rewriter, moe::CombineOp op) {
  LoopBuilder b(op);
  Value rows = b.read(op.getRows());
  Value permutation = b.read(op.getPermutation());
  Value weights = b.read(op.getRoutingWeights());
  Value tokens = b.dim(weights, 0);
  Value k = b.dim(weights, 1);
  Value pairs = arith::MulIOp::create(b, tokens, k);
  Value hidden = b.dim(rows, 1);
  Type type = op.getOutput().getType().getElementType();

  // The row of each pair: the inverse of the permutation; -1 for a pair
  // that has no row (dropped by a capacity).
  Value rowOf = b.alloc(
      RankedTensorType::get({ShapedType::kDynamic}, b.getI32Type()), {pairs});
  b.forLoop(b.index(0), pairs,
            [&](Value p) { b.store(b.i32(-1), rowOf, {p}); });
  b.forLoop(b.index(0), b.dim(permutation, 0), [&](Value i) {
    Value p = b.loadIndex(permutation, {i});
    Value hasPair = b.inRange(p, b.index(0), pairs);
    b.ifThen(hasPair, [&] {
      b.store(arith::IndexCastOp::create(b, b.getI32Type(), i), rowOf, {p});
    });
  });
  RankedTensorType outputType = op.getOutput().getType();
  Value output = b.alloc(outputType, {tokens});
  b.parallelLoop(b.index(0), tokens, [&](Value t) {
    b.forLoop(b.index(0), hidden, [&](Value h) {
      b.store(b.floatConst(type, 0.0), output, {t, h});
    });
    b.forLoop(b.index(0), k, [&](Value j) {
      Value p = arith::AddIOp::create(b, arith::MulIOp::create(b, t, k), j);
      Value row = b.loadIndex(rowOf, {p});
      Value hasRow =
          arith::CmpIOp::create(b, arith::CmpIPredicate::sge, row, b.index(0));
      b.ifThen(hasRow, [&] {
        Value w = b.toFloat(b.load(weights, {t, j}), type);
        b.forLoop(b.index(0), hidden, [&](Value h) {
          Value x = b.toFloat(b.load(rows, {row, h}), type);
          Value sum = arith::AddFOp::create(b, b.load(output, {t, h}),
                                            arith::MulFOp::create(b, w, x));
          b.store(sum, output, {t, h});
        });
      });
    });
  });
  rewriter.replaceOp(op, b.result(output));
  return success();
}
