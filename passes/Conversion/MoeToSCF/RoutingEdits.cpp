//===- RoutingEdits.cpp - moe.skip_experts, moe.remap_experts to loops ----===//
//
// The expert-sparsity passes edit a router's choices between moe.router and
// the sparse path. Each edit is one loop over tokens with k scalar steps;
// a dropped choice gets id -1, which dispatch files after every routed row
// and the grouped matmuls never compute.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/MoeToSCF/Lowerings.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;
using namespace moec;

/// Fresh copies of the [T, k] weights and ids, and the per-token loop over
/// them: body(t, k) with buffers `weights` and `ids` to edit in place.
template <typename Op>
static void editChoices(RewriterBase &rewriter, Op op,
                        llvm::function_ref<void(LoopBuilder &, Value weights,
                                                Value ids, Value t, Value k)>
                            body) {
  LoopBuilder b(op);
  Value inWeights = b.read(op.getWeights());
  Value inIds = b.read(op.getIds());
  Value tokens = b.dim(inIds, 0);
  Value k = b.dim(inIds, 1);
  Value weights = b.alloc(op.getWeights().getType(), {tokens});
  Value ids = b.alloc(op.getIds().getType(), {tokens});
  b.parallelLoop(b.index(0), tokens, [&](Value t) {
    b.forLoop(b.index(0), k, [&](Value j) {
      b.store(b.load(inWeights, {t, j}), weights, {t, j});
      b.store(b.load(inIds, {t, j}), ids, {t, j});
    });
    body(b, weights, ids, t, k);
  });
  rewriter.replaceOp(op, ValueRange{b.result(weights), b.result(ids)});
}

LogicalResult moec::lowerSkipExperts(RewriterBase &rewriter,
                                     moe::SkipExpertsOp op) {
  Type type = op.getWeights().getType().getElementType();
  double threshold = op.getThreshold().convertToDouble();
  bool renormalize = op.getRenormalize();
  editChoices(
      rewriter, op,
      [&](LoopBuilder &b, Value weights, Value ids, Value t, Value k) {
        Value zero = b.floatConst(type, 0.0);
        Value top = b.reduce(b.index(0), k, b.load(weights, {t, b.index(0)}),
                             [&](Value j, Value best) -> Value {
                               return arith::MaximumFOp::create(
                                   b, best, b.load(weights, {t, j}));
                             });
        Value cut =
            arith::MulFOp::create(b, top, b.floatConst(type, threshold));
        Value total = b.reduce(b.index(0), k, zero, [&](Value j, Value sum) {
          return Value(arith::AddFOp::create(b, sum, b.load(weights, {t, j})));
        });
        Value kept = b.reduce(b.index(0), k, zero, [&](Value j, Value sum) {
          Value w = b.load(weights, {t, j});
          Value drop =
              arith::CmpFOp::create(b, arith::CmpFPredicate::OLT, w, cut);
          b.ifThen(drop, [&] {
            b.store(zero, weights, {t, j});
            b.store(b.i32(-1), ids, {t, j});
          });
          return Value(arith::AddFOp::create(
              b, sum, arith::SelectOp::create(b, drop, zero, w)));
        });
        if (!renormalize)
          return;
        // kept > 0: the top choice is never below threshold * top.
        Value factor = arith::DivFOp::create(b, total, kept);
        b.forLoop(b.index(0), k, [&](Value j) {
          b.store(arith::MulFOp::create(b, b.load(weights, {t, j}), factor),
                  weights, {t, j});
        });
      });
  return success();
}

LogicalResult moec::lowerRemapExperts(RewriterBase &rewriter,
                                      moe::RemapExpertsOp op) {
  ArrayRef<int32_t> map = op.getMap();
  Type type = op.getWeights().getType().getElementType();
  // The map as a constant buffer.
  LoopBuilder outer(op);
  auto mapType =
      RankedTensorType::get({int64_t(map.size())}, outer.getI32Type());
  Value mapBuffer = outer.alloc(mapType, {});
  for (auto [e, target] : llvm::enumerate(map))
    outer.store(outer.i32(target), mapBuffer, {outer.index(e)});
  Value numMapped = outer.index(map.size());
  editChoices(
      rewriter, op,
      [&](LoopBuilder &b, Value weights, Value ids, Value t, Value k) {
        b.forLoop(b.index(0), k, [&](Value j) {
          Value e = b.loadIndex(ids, {t, j});
          Value inMap = b.inRange(e, b.index(0), numMapped);
          Value safe = arith::SelectOp::create(b, inMap, e, b.index(0));
          Value target = arith::SelectOp::create(
              b, inMap, b.load(mapBuffer, {safe}), b.i32(-1));
          b.store(target, ids, {t, j});
        });
        // A later choice on an expert already chosen adds its weight there.
        b.forLoop(b.index(1), k, [&](Value j) {
          Value e = b.load(ids, {t, j});
          Value valid =
              arith::CmpIOp::create(b, arith::CmpIPredicate::sge, e, b.i32(0));
          b.ifThen(valid, [&] {
            b.forLoop(b.index(0), j, [&](Value i) {
              Value same = arith::CmpIOp::create(b, arith::CmpIPredicate::eq,
                                                 b.load(ids, {t, i}), e);
              Value stillThere = arith::CmpIOp::create(
                  b, arith::CmpIPredicate::sge, b.load(ids, {t, j}), b.i32(0));
              b.ifThen(arith::AndIOp::create(b, same, stillThere), [&] {
                Value sum = arith::AddFOp::create(b, b.load(weights, {t, i}),
                                                  b.load(weights, {t, j}));
                b.store(sum, weights, {t, i});
                b.store(b.floatConst(type, 0.0), weights, {t, j});
                b.store(b.i32(-1), ids, {t, j});
              });
            });
          });
        });
      });
  return success();
}
