//===- LowerRouting.cpp - Router, dispatch and combine on the NPU ---------===//
//
// The data-dependent part of an MoE layer, on the vector and scalar units:
// the router's scores and top-k (the vector unit's sort), the dispatch's
// stable sort of (token, choice) pairs by expert (one sort of negated ids),
// the experts' row offsets (a binary search per expert on the scalar unit)
// and the gathers that move rows, which the DMA engines do by index list.
//
//===----------------------------------------------------------------------===//

#include "Transforms/LowerRouting.h"

using namespace mlir;
using namespace moec::npu;

/// Rows of `rowBytes` that fit `budget` bytes of UB, at least one.
static FailureOr<int64_t> rowsThatFit(ProgramLowering &lowering,
                                      int64_t rowBytes, int64_t fixedBytes,
                                      StringRef what) {
  int64_t budget = int64_t(lowering.bufferBytes(Space::UB)) - fixedBytes;
  if (budget < rowBytes) {
    lowering.emitError() << what << ": one row (" << rowBytes
                         << " bytes) does not fit the chip's UB ("
                         << lowering.bufferBytes(Space::UB) << " bytes)";
    return failure();
  }
  return budget / rowBytes;
}

/// dst = softmax of each of `rows` rows of `width` f32 at `src` (packed),
/// with `scratch` holding one element per row.
static void rowSoftmax(StreamBuilder &s, int64_t dst, int64_t src,
                       int64_t scratch, int64_t width, int64_t rows) {
  int64_t stride = width * 4;
  s.vector("reduce_max", "f32", scratch, src, 0, {width, rows, 4, stride, 0});
  s.vector("sub", "f32", dst, src, scratch, {width, rows, stride, stride, 4},
           "row_scalar");
  s.vector("exp", "f32", dst, dst, 0, {width, rows, stride, stride, 0});
  s.vector("reduce_sum", "f32", scratch, dst, 0, {width, rows, 4, stride, 0});
  s.vector("div", "f32", dst, dst, scratch, {width, rows, stride, stride, 4},
           "row_scalar");
}

/// Group-limited selection on `n` rows of `e` selection scores at `select`,
/// written back to `out`: each group (contiguous experts) is scored by its
/// best score or the sum of its best two, the `keep` best groups stay, and
/// the others' experts get the fill score (or about -FLT_MAX: ineligible).
static void selectGroups(StreamBuilder &s, const GroupPlan &plan,
                         int64_t select, int64_t out, int64_t n, int64_t e,
                         int64_t ubTop2, int64_t ubGroupScores,
                         int64_t ubGroupIds, int64_t ubMask, int64_t ubFill,
                         int64_t ubIndexScratch) {
  const int64_t g = plan.groups, size = e / g, keep = plan.keep;
  // Rows of one group each: [n * g, size].
  if (plan.sumTop2) {
    s.topk(ubTop2, select, ubIndexScratch, size, n * g, 2, size * 4);
    s.vector("reduce_sum", "f32", ubGroupScores, ubTop2, 0,
             {2, n * g, 4, 8, 0});
  } else {
    s.vector("reduce_max", "f32", ubGroupScores, select, 0,
             {size, n * g, 4, size * 4, 0});
  }
  // The kept groups of each token, then a 0/1 mask per group.
  s.topk(ubTop2, ubGroupScores, ubGroupIds, g, n, keep, g * 4);
  s.vectorImm("dup", ubMask, 0, 0.0f, {n * g, 1, 0, 0, 0});
  s.sync("v", "s", 2);
  unsigned at = s.allocRegister(), group = s.allocRegister();
  s.loop(n * keep, [&](unsigned i) {
    s.scalar("mul", at, Val(i, 0), 4);
    s.load(group, "ub", Val(at, ubGroupIds));
    // mask[(i / keep) * g + group] = 1.0f.
    s.scalar("div", at, Val(i, 0), keep);
    s.scalar("mul", at, Val(at, 0), g);
    s.scalar("add", at, Val(at, 0), Val(group, 0));
    s.scalar("mul", at, Val(at, 0), 4);
    s.store("ub", Val(at, ubMask), 0x3F800000);
  });
  s.releaseRegister(group);
  s.releaseRegister(at);
  s.sync("s", "v", 2);
  // out = select * mask + fill * (1 - mask), per group row.
  float fill = plan.fill ? float(*plan.fill) : -3.0e38f;
  s.vectorImm("mul", ubFill, ubMask, -fill, {n * g, 1, 0, 0, 0});
  s.vectorImm("add", ubFill, ubFill, fill, {n * g, 1, 0, 0, 0});
  s.vector("mul", "f32", out, select, ubMask,
           {size, n * g, size * 4, size * 4, 4}, "row_scalar");
  s.vector("add", "f32", out, out, ubFill, {size, n * g, size * 4, size * 4, 4},
           "row_scalar");
}

LogicalResult moec::npu::lowerRouter(ProgramLowering &lowering,
                                     const RouterPlan &plan) {
  FailureOr<UbEngines> engines = UbEngines::get(lowering);
  if (failed(engines))
    return failure();
  const int64_t e = plan.logits.cols, k = plan.topK;
  const int64_t g = plan.groups ? plan.groups->groups : 1;
  const int64_t keep = plan.groups ? plan.groups->keep : 1;
  // UB per token: logits, scores, ones (sigmoid), selection scores, a row
  // scalar, values and indices; the groups' scores, picks and mask; the
  // bias row once.
  int64_t rowBytes = (4 * e + 2 + 3 * k + 6 * g + 2 * keep) * 4;
  FailureOr<int64_t> fit =
      rowsThatFit(lowering, rowBytes + 64, 64 * 16 + e * 4, "moe.router");
  if (failed(fit))
    return failure();
  int64_t chunk = std::min<int64_t>(*fit, plan.logits.rows);
  int64_t ubLogits = 0, ubScores = align64(chunk * e * 4);
  int64_t ubOnes = ubScores + align64(chunk * e * 4);
  int64_t ubSelect = ubOnes + align64(chunk * e * 4);
  int64_t ubRow = ubSelect + align64(chunk * e * 4);
  int64_t ubValues = ubRow + align64(chunk * 4);
  int64_t ubIndices = ubValues + align64(chunk * k * 4);
  int64_t ubPicked = ubIndices + align64(chunk * k * 4);
  int64_t ubGroupScores = ubPicked + align64(chunk * k * 4);
  int64_t ubTop2 = ubGroupScores + align64(chunk * g * 4);
  int64_t ubGroupIds = ubTop2 + align64(chunk * g * 2 * 4);
  int64_t ubMask = ubGroupIds + align64(chunk * keep * 4);
  int64_t ubFill = ubMask + align64(chunk * g * 4);
  int64_t ubBias = ubFill + align64(chunk * g * 4);
  int64_t ubRamp = ubBias + align64(e * 4);
  int64_t ubTop2Ids = ubRamp + align64(chunk * 4);
  // The scores in global memory, for the weights of the picks.
  GmMatrix scores;
  if (plan.bias || plan.groups)
    scores = lowering.allocate(plan.logits.rows, e, ElemType::F32);
  for (unsigned c = 0; c < lowering.coreCount(); ++c) {
    auto [begin, end] = lowering.share(plan.logits.rows, c);
    StreamBuilder &s = lowering.core(c);
    PipeFlags p{s};
    if (plan.bias && begin < end)
      s.copy("gm", "ub", ubBias, int64_t(plan.bias->address), 1, e * 4, 0, 0);
    if ((plan.bias || plan.groups) && begin < end) {
      // ramp[r] = r * e, the first flat index of row r of a chunk.
      unsigned at = s.allocRegister(), value = s.allocRegister();
      s.loop(std::min(chunk, end - begin), [&](unsigned r) {
        s.scalar("mul", at, Val(r, 0), 4);
        s.scalar("mul", value, Val(r, 0), e);
        s.store("ub", Val(at, ubRamp), Val(value, 0));
      });
      s.releaseRegister(value);
      s.releaseRegister(at);
      s.sync("s", "v", 3);
    }
    for (int64_t row = begin; row < end; row += chunk) {
      int64_t n = std::min(chunk, end - row);
      s.copy("gm", "ub", ubLogits, int64_t(plan.logits.address + row * e * 4),
             n, e * 4, e * 4, e * 4);
      p.sync(engines->in, "v", 0);
      StreamBuilder::VectorRows full{e, n, e * 4, e * 4, 0};
      StreamBuilder::VectorRows perRow{e, n, 4, e * 4, 0};
      int64_t selection = ubScores;
      switch (plan.scoring) {
      case moe::RouterScoring::Softmax:
        rowSoftmax(s, ubScores, ubLogits, ubRow, e, n);
        break;
      case moe::RouterScoring::Sigmoid:
        s.vector("neg", "f32", ubScores, ubLogits, 0, full);
        s.vector("exp", "f32", ubScores, ubScores, 0, full);
        s.vectorImm("add", ubScores, ubScores, 1.0f, full);
        s.vectorImm("dup", ubOnes, 0, 1.0f, full);
        s.vector("div", "f32", ubScores, ubOnes, ubScores,
                 {e, n, e * 4, e * 4, e * 4});
        break;
      case moe::RouterScoring::SoftmaxAfterTopK:
        selection = ubLogits;
        break;
      }
      if (plan.bias) {
        // Selection scores: the bias moves which experts win, never their
        // weights.
        s.vector("add", "f32", ubSelect, selection, ubBias,
                 {e, n, e * 4, e * 4, 0});
        selection = ubSelect;
      }
      if (plan.groups) {
        selectGroups(s, *plan.groups, selection, ubSelect, n, e, ubTop2,
                     ubGroupScores, ubGroupIds, ubMask, ubFill, ubTop2Ids);
        selection = ubSelect;
      }
      s.topk(ubValues, selection, ubIndices, e, n, k, e * 4);
      if (selection != ubScores &&
          plan.scoring != moe::RouterScoring::SoftmaxAfterTopK) {
        // The weights are the scores of the picks, not their selection
        // scores (bias, group fill): gather them by flat index t * e + id
        // from a copy of the scores in global memory.
        uint64_t rowsAt = scores.address + row * e * 4;
        s.vector("add", "i32", ubPicked, ubIndices, ubRamp,
                 {k, n, k * 4, k * 4, 4}, "row_scalar");
        p.sync("v", engines->out, 1);
        s.copy("ub", "gm", int64_t(rowsAt), ubScores, n, e * 4, e * 4, e * 4);
        p.sync(engines->out, engines->in, 1);
        s.gather("ub", ubValues, int64_t(rowsAt), ubPicked, n * k, 4, 4, 1, 4);
        p.sync(engines->in, "v", 1);
      }
      StreamBuilder::VectorRows picks{k, n, k * 4, k * 4, 0};
      StreamBuilder::VectorRows pickRow{k, n, 4, k * 4, 0};
      if (plan.scoring == moe::RouterScoring::SoftmaxAfterTopK) {
        rowSoftmax(s, ubValues, ubValues, ubRow, k, n);
      }
      if (plan.normalize) {
        s.vector("reduce_sum", "f32", ubRow, ubValues, 0, pickRow);
        s.vectorImm("add", ubRow, ubRow, 1e-20f, {1, n, 4, 4, 0});
        s.vector("div", "f32", ubValues, ubValues, ubRow,
                 {k, n, k * 4, k * 4, 4}, "row_scalar");
      }
      if (plan.scale)
        s.vectorImm("mul", ubValues, ubValues, float(*plan.scale), picks);
      p.sync("v", engines->out, 0);
      s.copy("ub", "gm", int64_t(plan.weights.address + row * k * 4), ubValues,
             1, n * k * 4, 0, 0);
      s.copy("ub", "gm", int64_t(plan.ids.address + row * k * 4), ubIndices, 1,
             n * k * 4, 0, 0);
      p.sync(engines->out, engines->in, 0);
    }
  }
  lowering.barrier();
  return success();
}

/// On core 0: `sortedIndices` (UB, P int32) = the positions of `keys`' P
/// int32 values in ascending order, stable; `sortedKeys` (UB) the values.
static void sortAscending(StreamBuilder &s, int64_t count, int64_t ubKeys,
                          int64_t ubFloat, int64_t ubSorted,
                          int64_t ubSortedIndices, int64_t ubSortedKeys) {
  StreamBuilder::VectorRows all{count, 1, 0, 0, 0};
  s.cast("f32", "i32", ubFloat, ubKeys, all);
  // The sort is descending with ties to the lower index: negated keys
  // give ascending order and keep it stable.
  s.vector("neg", "f32", ubFloat, ubFloat, 0, all);
  s.topk(ubSorted, ubFloat, ubSortedIndices, count, 1, count, count * 4);
  if (ubSortedKeys >= 0) {
    s.vector("neg", "f32", ubSorted, ubSorted, 0, all);
    s.cast("i32", "f32", ubSortedKeys, ubSorted, all);
  }
}

LogicalResult moec::npu::lowerDispatch(ProgramLowering &lowering,
                                       const DispatchPlan &plan) {
  FailureOr<UbEngines> engines = UbEngines::get(lowering);
  if (failed(engines))
    return failure();
  const int64_t pairs = plan.ids.rows * plan.ids.cols;
  const int64_t experts = plan.numExperts;
  int64_t ubIds = 0, ubFloat = align64(pairs * 4);
  int64_t ubSorted = ubFloat + align64(pairs * 4);
  int64_t ubPerm = ubSorted + align64(pairs * 4);
  int64_t ubSortedIds = ubPerm + align64(pairs * 4);
  int64_t ubOffsets = ubSortedIds + align64(pairs * 4);
  GmMatrix sortedIds = lowering.allocate(1, pairs, ElemType::I32);
  if (uint64_t(ubOffsets + (experts + 1) * 4) > lowering.bufferBytes(Space::UB))
    return lowering.emitError()
           << "moe.dispatch: sorting " << pairs
           << " (token, expert) pairs needs more than the chip's UB; use a "
              "smaller --max-tokens";
  {
    StreamBuilder &s = lowering.core(0);
    PipeFlags p{s};
    s.copy("gm", "ub", ubIds, int64_t(plan.ids.address), 1, pairs * 4, 0, 0);
    p.sync(engines->in, "v", 0);
    sortAscending(s, pairs, ubIds, ubFloat, ubSorted, ubPerm, ubSortedIds);
    p.sync("v", engines->out, 0);
    s.copy("ub", "gm", int64_t(plan.permutation.address), ubPerm, 1, pairs * 4,
           0, 0);
    s.copy("ub", "gm", int64_t(sortedIds.address), ubSortedIds, 1, pairs * 4, 0,
           0);
  }
  lowering.barrier();

  // Every core finds the offsets of its share of the experts, then gathers
  // its share of the rows by the permutation.
  for (unsigned c = 0; c < lowering.coreCount(); ++c) {
    auto [first, last] = lowering.share(experts + 1, c);
    if (first == last)
      continue;
    StreamBuilder &s = lowering.core(c);
    PipeFlags p{s};
    s.copy("gm", "ub", ubSortedIds, int64_t(sortedIds.address), 1, pairs * 4, 0,
           0);
    p.sync(engines->in, "s", 0);
    // offsets[e] = the number of pairs whose expert is below e: a binary
    // search of the sorted ids, branch-free with selects.
    unsigned lo = s.allocRegister(), hi = s.allocRegister(),
             mid = s.allocRegister(), value = s.allocRegister(),
             active = s.allocRegister(), t = s.allocRegister(),
             expert = s.allocRegister();
    int64_t steps = 1;
    while ((int64_t(1) << steps) <= pairs)
      ++steps;
    s.loop(last - first, [&](unsigned i) {
      s.scalar("add", expert, Val(i, 0), first);
      s.mov(lo, 0);
      s.mov(hi, pairs);
      for (int64_t step = 0; step < steps; ++step) {
        s.select(active, Val(lo, 0), Val(hi, 0), 1, 0);
        s.scalar("add", mid, Val(lo, 0), Val(hi, 0));
        s.scalar("div", mid, Val(mid, 0), 2);
        s.scalar("min", t, Val(mid, 0), pairs - 1);
        s.scalar("mul", t, Val(t, 0), 4);
        s.load(value, "ub", Val(t, ubSortedIds));
        // value < expert: lo = mid + 1, else hi = mid (while lo < hi).
        s.scalar("add", t, Val(mid, 0), 1);
        s.select(t, Val(value, 0), Val(expert, 0), Val(t, 0), Val(lo, 0));
        s.select(mid, Val(value, 0), Val(expert, 0), Val(hi, 0), Val(mid, 0));
        s.select(lo, 0, Val(active, 0), Val(t, 0), Val(lo, 0));
        s.select(hi, 0, Val(active, 0), Val(mid, 0), Val(hi, 0));
      }
      s.scalar("mul", t, Val(i, 0), 4);
      s.store("ub", Val(t, ubOffsets), Val(lo, 0));
    });
    for (unsigned reg : {expert, t, active, value, mid, hi, lo})
      s.releaseRegister(reg);
    p.sync("s", engines->out, 0);
    s.copy("ub", "gm", int64_t(plan.offsets.address + first * 4), ubOffsets, 1,
           (last - first) * 4, 0, 0);
    // The gathers below reuse UB.
    p.sync(engines->out, engines->in, 0);
  }

  // Every core gathers its share of the rows by the permutation.
  const int64_t rowBytes = plan.input.rowBytes();
  FailureOr<int64_t> fit =
      rowsThatFit(lowering, rowBytes + 4, 64, "moe.dispatch");
  if (failed(fit))
    return failure();
  int64_t chunk = std::min(*fit, pairs);
  int64_t ubData = align64(chunk * 4);
  for (unsigned c = 0; c < lowering.coreCount(); ++c) {
    auto [begin, end] = lowering.share(pairs, c);
    StreamBuilder &s = lowering.core(c);
    PipeFlags p{s};
    for (int64_t row = begin; row < end; row += chunk) {
      int64_t n = std::min(chunk, end - row);
      s.copy("gm", "ub", 0, int64_t(plan.permutation.address + row * 4), 1,
             n * 4, 0, 0);
      s.gather("ub", ubData, int64_t(plan.input.address), 0, n, rowBytes,
               rowBytes, plan.ids.cols, rowBytes);
      p.sync(engines->in, engines->out, 1);
      s.copy("ub", "gm", int64_t(plan.rows.address + row * rowBytes), ubData, n,
             rowBytes, rowBytes, rowBytes);
      p.sync(engines->out, engines->in, 1);
    }
  }
  lowering.barrier();
  return success();
}

LogicalResult moec::npu::lowerCombine(ProgramLowering &lowering,
                                      const CombinePlan &plan) {
  FailureOr<UbEngines> engines = UbEngines::get(lowering);
  if (failed(engines))
    return failure();
  const int64_t pairs = plan.permutation.cols;
  const int64_t k = plan.weights.cols, h = plan.rows.cols;
  const int64_t tokens = plan.output.rows;
  GmMatrix inverse = lowering.allocate(1, pairs, ElemType::I32);
  int64_t ubPerm = 0, ubFloat = align64(pairs * 4);
  int64_t ubSorted = ubFloat + align64(pairs * 4);
  int64_t ubInverse = ubSorted + align64(pairs * 4);
  if (uint64_t(ubInverse + pairs * 4) > lowering.bufferBytes(Space::UB))
    return lowering.emitError()
           << "moe.combine: inverting a permutation of " << pairs
           << " rows needs more than the chip's UB";
  {
    // The slot of each pair: sorting the permutation gives its inverse.
    StreamBuilder &s = lowering.core(0);
    PipeFlags p{s};
    s.copy("gm", "ub", ubPerm, int64_t(plan.permutation.address), 1, pairs * 4,
           0, 0);
    p.sync(engines->in, "v", 0);
    sortAscending(s, pairs, ubPerm, ubFloat, ubSorted, ubInverse, -1);
    p.sync("v", engines->out, 0);
    s.copy("ub", "gm", int64_t(inverse.address), ubInverse, 1, pairs * 4, 0, 0);
  }
  lowering.barrier();

  // Per token: the weighted sum of its k rows, gathered by slot.
  int64_t rowBytes = h * 4;
  FailureOr<int64_t> fit = rowsThatFit(
      lowering, k * (rowBytes + 8) + 2 * rowBytes, 64 * 5, "moe.combine");
  if (failed(fit))
    return failure();
  int64_t chunk = std::min(*fit, tokens);
  int64_t ubSlots = 0, ubWeights = align64(chunk * k * 4);
  int64_t ubRows = ubWeights + align64(chunk * k * 4);
  int64_t ubOut = ubRows + align64(chunk * k * rowBytes);
  int64_t ubTmp = ubOut + align64(chunk * rowBytes);
  for (unsigned c = 0; c < lowering.coreCount(); ++c) {
    auto [begin, end] = lowering.share(tokens, c);
    StreamBuilder &s = lowering.core(c);
    PipeFlags p{s};
    for (int64_t row = begin; row < end; row += chunk) {
      int64_t n = std::min(chunk, end - row);
      s.copy("gm", "ub", ubSlots, int64_t(inverse.address + row * k * 4), 1,
             n * k * 4, 0, 0);
      s.copy("gm", "ub", ubWeights, int64_t(plan.weights.address + row * k * 4),
             1, n * k * 4, 0, 0);
      s.gather("ub", ubRows, int64_t(plan.rows.address), ubSlots, n * k,
               rowBytes, rowBytes, 1, rowBytes);
      p.sync(engines->in, "v", 2);
      for (int64_t j = 0; j < k; ++j) {
        StreamBuilder::VectorRows shape{h, n, rowBytes, k * rowBytes, k * 4};
        s.vector("mul", "f32", j == 0 ? ubOut : ubTmp, ubRows + j * rowBytes,
                 ubWeights + j * 4, shape, "row_scalar");
        if (j > 0)
          s.vector("add", "f32", ubOut, ubOut, ubTmp,
                   {h, n, rowBytes, rowBytes, rowBytes});
      }
      p.sync("v", engines->out, 2);
      s.copy("ub", "gm", int64_t(plan.output.address + row * rowBytes), ubOut,
             n, rowBytes, rowBytes, rowBytes);
      p.sync(engines->out, engines->in, 2);
    }
  }
  lowering.barrier();
  return success();
}
