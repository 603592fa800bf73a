//===- LowerAttention.cpp - Attention on the cube and vector unit ---------===//
//
// One unit: KV head g and query tokens [t0, t0 + tt). Its rows are the
// group's query heads, head-major (row j * tt + t is query head g * G + j of
// token t0 + t), so that one score matmul serves every head that reads the
// same keys. Per block of keys kb (a loop whose trip count the position
// decides):
//
//   MTE2  K, V of block kb+1 -> L1 slot (kb+1) % 2 (fractal; V transposed)
//   MTE1  K -> L0B                          M  S = Q K^T -> L0C
//   V     S -> UB; mask; m' = max(m, rowmax S); P = exp(S - m');
//         l = l e^(m - m') + rowsum P; O = O e^(m - m'); P -> f16
//   MTE3  P -> L1;  MTE1 P -> L0A, V^T -> L0B;  M  P V -> L0C
//   V     O += P V
//
// Q (scaled, in the cube's type) stays in L0A for the unit. The mask adds
// -1e30 * max(0, key - last visible key) (and the window's lower bound),
// where key - (position of the row's query) comes from an iota row and one
// threshold per row; keys past the call's are never loaded. A cache in
// the cube's type is double-buffered so (two L1 slots, token-passing
// flags); one in another type goes through UB to be converted, one block
// after the other.
//
//===----------------------------------------------------------------------===//

#include "Transforms/LowerAttention.h"

using namespace mlir;
using namespace moec::npu;

namespace {
int64_t roundUp(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

/// A bump allocator of one scratchpad.
struct Arena {
  int64_t used = 0;
  int64_t take(int64_t bytes) {
    int64_t at = used;
    used += align64(bytes);
    return at;
  }
};

/// Where the unit's buffers live, for `m` rows.
struct Layout {
  int64_t m = 0;
  // UB.
  int64_t qStage, q16, kStage, k16, vStage, v16, scores, mask, window, p16, acc,
      thr, scalar, iota, sinkRow, maxOld, maxNew, blockMax, alpha, sum, rowSum;
  // L1, L0A, L0B, L0C.
  int64_t l1Q, l1K, l1P, l1V, l0aQ, l0aP, l0bK, l0bV, l0cS, l0cO;
  /// Bytes between the two slots of keys and values in L1.
  int64_t l1Slot;
  bool fits = false;
  std::string full;
};

Layout layoutFor(ProgramLowering &lowering, const AttentionPlan &plan,
                 const CubeShape &cube, int64_t m, bool convert) {
  const int64_t bk = kAttentionKeyBlock, d = plan.headDim, dv = plan.valueDim;
  const int64_t kvBytes = elemTypeBytes(plan.key.elem);
  const int64_t eb = elemTypeBytes(cube.input);
  const int64_t mp = roundUp(m, cube.m), dp = roundUp(d, cube.k),
                dvp = roundUp(dv, cube.n), bkp = roundUp(bk, cube.n);
  Layout l;
  l.m = m;
  Arena ub;
  l.qStage = ub.take(m * d * 4);
  l.q16 = ub.take(m * d * eb);
  l.kStage = convert ? ub.take(bk * d * kvBytes) : 0;
  l.k16 = convert ? ub.take(bk * d * eb) : 0;
  l.vStage = convert ? ub.take(bk * dv * kvBytes) : 0;
  l.v16 = convert ? ub.take(bk * dv * eb) : 0;
  l.scores = ub.take(m * bk * 4);
  l.mask = ub.take(m * bk * 4);
  l.window = plan.window ? ub.take(m * bk * 4) : 0;
  l.p16 = ub.take(m * bk * eb);
  l.acc = ub.take(m * dv * 4);
  l.thr = ub.take(m * 4);
  l.scalar = ub.take(8);
  l.iota = ub.take(bk * 4);
  l.sinkRow = ub.take(m * 4);
  l.maxOld = ub.take(m * 4);
  l.maxNew = ub.take(m * 4);
  l.blockMax = ub.take(m * 4);
  l.alpha = ub.take(m * 4);
  l.sum = ub.take(m * 4);
  l.rowSum = ub.take(m * 4);
  Arena l1, l0a, l0b, l0c;
  l.l1Q = l1.take(mp * dp * eb);
  // Two slots of keys and values: block kb + 1 loads while kb computes.
  l.l1Slot = align64(bkp * dp * eb) + align64(dvp * bkp * eb);
  l.l1K = l1.take(2 * l.l1Slot);
  l.l1V = l.l1K + align64(bkp * dp * eb);
  l.l1P = l1.take(mp * bkp * eb);
  l.l0aQ = l0a.take(mp * dp * eb);
  l.l0aP = l0a.take(mp * bkp * eb);
  l.l0bK = l0b.take(bkp * dp * eb);
  l.l0bV = l0b.take(dvp * bkp * eb);
  l.l0cS = l0c.take(mp * bkp * 4);
  l.l0cO = l0c.take(mp * dvp * 4);
  std::pair<Space, int64_t> needs[] = {{Space::UB, ub.used},
                                       {Space::L1, l1.used},
                                       {Space::L0A, l0a.used},
                                       {Space::L0B, l0b.used},
                                       {Space::L0C, l0c.used}};
  l.fits = true;
  for (auto [space, bytes] : needs)
    if (uint64_t(bytes) > lowering.bufferBytes(space)) {
      l.fits = false;
      l.full = spaceLower(space);
    }
  return l;
}
} // namespace

LogicalResult moec::npu::lowerAttentionPhase(ProgramLowering &lowering,
                                             RuntimeScalars &scalars,
                                             const AttentionPlan &plan,
                                             const GmMatrix &iota) {
  const CubeShape *cube = lowering.chip.findCube(lowering.cubeType);
  if (!cube)
    return lowering.emitError()
           << "the chip has no cube for " << elemName(lowering.cubeType);
  FailureOr<std::string> gmUb = lowering.engine(Space::GM, Space::UB);
  FailureOr<std::string> ubGm = lowering.engine(Space::UB, Space::GM);
  FailureOr<std::string> gmL1 = lowering.engine(Space::GM, Space::L1);
  FailureOr<std::string> ubL1 = lowering.engine(Space::UB, Space::L1);
  FailureOr<std::string> l1L0a = lowering.engine(Space::L1, Space::L0A);
  FailureOr<std::string> l1L0b = lowering.engine(Space::L1, Space::L0B);
  FailureOr<std::string> l0cUb = lowering.engine(Space::L0C, Space::UB);
  if (failed(gmUb) || failed(ubGm) || failed(gmL1) || failed(ubL1) ||
      failed(l1L0a) || failed(l1L0b) || failed(l0cUb))
    return failure();
  const int64_t heads = plan.heads, kvHeads = plan.kvHeads;
  const int64_t d = plan.headDim, dv = plan.valueDim;
  const int64_t group = heads / kvHeads, bk = kAttentionKeyBlock;
  const int64_t queryRows = plan.query.rows;
  const bool convert = plan.key.elem != lowering.cubeType;
  const char *cubeElem = elemName(lowering.cubeType);
  const char *kvElem = elemName(plan.key.elem);
  const int64_t kvBytes = elemTypeBytes(plan.key.elem);
  const int64_t eb = elemTypeBytes(lowering.cubeType);

  // Rows per unit: as many tokens as the buffers hold, up to 128 rows.
  Layout layout;
  int64_t tokensPerUnit =
      std::max<int64_t>(1, std::min(queryRows, 128 / group));
  for (;; tokensPerUnit /= 2) {
    layout = layoutFor(lowering, plan, *cube, tokensPerUnit * group, convert);
    if (layout.fits || tokensPerUnit == 1)
      break;
  }
  if (!layout.fits)
    return lowering.emitError()
           << "decoder.attention: " << group << " query heads of " << d
           << " and a block of " << bk << " keys do not fit the chip's "
           << layout.full;

  struct Unit {
    int64_t kvHead, token, tokens;
  };
  std::vector<Unit> units;
  for (int64_t g = 0; g < kvHeads; ++g)
    for (int64_t t = 0; t < queryRows; t += tokensPerUnit)
      units.push_back({g, t, std::min(tokensPerUnit, queryRows - t)});

  const int64_t qRowBytes = plan.query.rowStride();
  const int64_t outRowBytes = plan.output.rowStride();
  const float big = 1e30f;
  for (unsigned c = 0; c < lowering.coreCount(); ++c) {
    auto [first, last] = lowering.share(int64_t(units.size()), c);
    if (first == last)
      continue;
    StreamBuilder &s = lowering.core(c);
    PipeFlags p{s};
    ScopedRegisters phaseRegs{s};
    ScalarMaterializer values(scalars, s, phaseRegs);
    Val keys = values.get(plan.keys);
    Val queries = values.get(plan.queries);
    // The call's first position: the keys before it are the cache's.
    unsigned start = phaseRegs.get();
    s.scalar("sub", start, keys, queries);
    s.copy("gm", "ub", layout.iota, int64_t(iota.address), 1, bk * 4, 0, 0);
    for (int64_t u = first; u < last; ++u) {
      const Unit unit = units[u];
      const int64_t tt = unit.tokens, m = tt * group;
      const int64_t mp = roundUp(m, cube->m);
      ScopedRegisters regs{s};
      // Q rows, head-major; the sinks of each row's head.
      for (int64_t j = 0; j < group; ++j) {
        int64_t head = unit.kvHead * group + j;
        s.copy(
            "gm", "ub", layout.qStage + j * tt * d * 4,
            int64_t(plan.query.address + unit.token * qRowBytes + head * d * 4),
            tt, d * 4, qRowBytes, d * 4);
        if (plan.sinks)
          s.copy("gm", "ub", layout.sinkRow + j * tt * 4,
                 int64_t(plan.sinks->address + head * 4), tt, 4, 0, 4);
        // thr's row base: the row's token within the unit (t of j * tt + t).
        s.copy("gm", "ub", layout.thr + j * tt * 4, int64_t(iota.address), 1,
               tt * 4, 0, 0);
      }
      // The unit's key range: [kbFirst * bk, end), end = the keys its last
      // token sees; with a window, blocks wholly before every row's window
      // are skipped.
      unsigned end = regs.get(), blocks = regs.get(), kbFirst = regs.get();
      unsigned thrBase = regs.get();
      s.scalar("add", end, Val(start, 0), Val(unit.token + tt));
      s.scalar("min", end, Val(end, 0), keys);
      s.mov(kbFirst, Val(0));
      if (plan.window) {
        s.scalar("add", kbFirst, Val(start, 0),
                 Val(unit.token - *plan.window + 1));
        s.scalar("max", kbFirst, Val(kbFirst, 0), Val(0));
        s.scalar("div", kbFirst, Val(kbFirst, 0), Val(bk));
      }
      s.scalar("add", blocks, Val(end, 0), Val(bk - 1));
      s.scalar("div", blocks, Val(blocks, 0), Val(bk));
      s.scalar("sub", blocks, Val(blocks, 0), Val(kbFirst, 0));
      // thr = the row's query position - the first key of the block.
      s.scalar("mul", thrBase, Val(kbFirst, 0), Val(-bk));
      s.scalar("add", thrBase, Val(thrBase, 0), Val(start, 0));
      s.scalar("add", thrBase, Val(thrBase, 0), Val(unit.token));
      p.sync("v", "s", 0);
      s.store("ub", Val(layout.scalar), Val(thrBase, 0));
      p.sync("s", "v", 0);
      p.sync(*gmUb, "v", 0);
      StreamBuilder::VectorRows rowsOf1{m, 1, 0, 0, 0};
      s.cast("f32", "i32", layout.scalar + 4, layout.scalar, {1, 1, 0, 0, 0});
      s.vector("add", "f32", layout.thr, layout.thr, layout.scalar + 4,
               {1, m, 4, 4, 0}, "row_scalar");
      StreamBuilder::VectorRows qRows{d, m, d * 4, d * 4, 0};
      s.vectorImm("mul", layout.qStage, layout.qStage, float(plan.scale),
                  qRows);
      s.cast(cubeElem, "f32", layout.q16, layout.qStage,
             {d, m, d * eb, d * 4, 0});
      s.vectorImm("dup", layout.maxOld, 0, -3.0e38f, rowsOf1);
      s.vectorImm("dup", layout.sum, 0, 0.0f, rowsOf1);
      s.vectorImm("dup", layout.acc, 0, 0.0f, {dv * m, 1, 0, 0, 0});
      p.sync("v", *ubL1, 0);
      s.toFractal("ub", "l1", cubeElem, layout.l1Q, layout.q16, m, d, d * eb,
                  cube->m, cube->k);
      p.sync(*ubL1, *l1L0a, 0);
      s.copy("l1", "l0a", layout.l0aQ, layout.l1Q, 1,
             mp * roundUp(d, cube->k) * eb, 0, 0);

      // A cache in the cube's type goes straight to L1, double-buffered:
      // MTE2 loads block kb + 1 into one slot while the cube and the vector
      // unit work on kb in the other. Tokens: "slot free" (MTE1 -> MTE2,
      // event 6) once MTE1 has copied a slot's values to L0B, "slot ready"
      // (MTE2 -> MTE1, event 5) once both of its loads are in.
      auto loadSlot = [&](unsigned row, unsigned count, unsigned slot,
                          unsigned at) {
        for (bool values : {false, true}) {
          const GmMatrix &m = values ? plan.value : plan.key;
          int64_t width = values ? dv : d;
          s.scalar("mul", at, Val(row, 0), Val(m.rowStride()));
          s.toFractal(
              "gm", "l1", cubeElem, Val(slot, values ? layout.l1V : layout.l1K),
              Val(at, int64_t(m.address) + unit.kvHead * width * kvBytes),
              Val(count, 0), width, m.rowStride(), cube->n, cube->k, values);
        }
      };
      unsigned nextRow = regs.get(), nextCount = regs.get(), slot = regs.get(),
               gmAt = regs.get();
      auto blockOf = [&](unsigned row, unsigned count, Val index) {
        // row = the block's first key; count = its keys (0 to bk).
        s.scalar("add", row, index, Val(kbFirst, 0));
        s.scalar("mul", row, Val(row, 0), Val(bk));
        s.scalar("sub", count, Val(end, 0), Val(row, 0));
        s.scalar("min", count, Val(count, 0), Val(bk));
        s.scalar("max", count, Val(count, 0), Val(0));
      };
      s.mov(slot, Val(0));
      if (!convert) {
        s.setFlag(*l1L0b, *gmL1, 6);
        s.setFlag(*l1L0b, *gmL1, 6);
        blockOf(nextRow, nextCount, Val(0));
        s.mov(slot, Val(0));
        s.waitFlag(*l1L0b, *gmL1, 6);
        loadSlot(nextRow, nextCount, slot, gmAt);
        s.setFlag(*gmL1, *l1L0b, 5);
      }

      // Block `index` (a register); `prefetch`: load the next block's keys
      // and values first (every block but the last, which is peeled off).
      auto block = [&](Val index, bool prefetch) {
        ScopedRegisters inner{s};
        unsigned row = inner.get(), count = inner.get(), at = inner.get();
        blockOf(row, count, index);
        if (!convert) {
          // This block's slot: (i % 2) * l1Slot; the next block's the other.
          s.scalar("div", slot, index, Val(2));
          s.scalar("mul", slot, Val(slot, 0), Val(-2));
          s.scalar("add", slot, Val(slot, 0), index);
          s.scalar("mul", at, Val(slot, 0), Val(layout.l1Slot));
          if (prefetch) {
            s.scalar("sub", slot, Val(layout.l1Slot), Val(at, 0));
            blockOf(nextRow, nextCount, index + 1);
            s.waitFlag(*l1L0b, *gmL1, 6);
            loadSlot(nextRow, nextCount, slot, gmAt);
            s.setFlag(*gmL1, *l1L0b, 5);
          }
          s.mov(slot, Val(at, 0));
        }
        // A cache of another type: through UB to be converted, one block
        // after the other.
        auto convertBlock = [&](const GmMatrix &m, int64_t width, int64_t stage,
                                int64_t converted, int64_t l1,
                                bool transposed) {
          s.scalar("mul", at, Val(row, 0), Val(m.rowStride()));
          Val src(at, int64_t(m.address) + unit.kvHead * width * kvBytes);
          s.copy("gm", "ub", stage, src, Val(count, 0), width * kvBytes,
                 m.rowStride(), width * kvBytes);
          p.sync(*gmUb, "v", 1);
          s.cast(cubeElem, kvElem, converted, stage,
                 {width, Val(count, 0), width * eb, width * kvBytes, 0});
          p.sync("v", *ubL1, 1);
          s.toFractal("ub", "l1", cubeElem, l1, converted, Val(count, 0), width,
                      width * eb, cube->n, cube->k, transposed);
        };
        if (convert) {
          convertBlock(plan.key, d, layout.kStage, layout.k16, layout.l1K,
                       false);
          p.sync(*ubL1, *l1L0b, 1);
        } else {
          s.waitFlag(*gmL1, *l1L0b, 5);
        }
        s.copy("l1", "l0b", layout.l0bK, Val(slot, layout.l1K), 1,
               roundUp(kAttentionKeyBlock, cube->n) * roundUp(d, cube->k) * eb,
               0, 0);
        p.sync(*l1L0b, "m", 1);
        s.mmad(cubeElem, false, layout.l0cS, layout.l0aQ, layout.l0bK, m, d,
               Val(count, 0));
        // The values' load overlaps the scores.
        if (convert)
          convertBlock(plan.value, dv, layout.vStage, layout.v16, layout.l1V,
                       true);
        p.sync("m", *l0cUb, 1);
        s.fromFractal("l0c", "ub", false, layout.scores, layout.l0cS, m,
                      Val(count, 0), bk * 4, cube->m, cube->n);
        p.sync(*l0cUb, "v", 1);
        StreamBuilder::VectorRows block{Val(count, 0), m, bk * 4, bk * 4, 4};
        StreamBuilder::VectorRows plain{Val(count, 0), m, bk * 4, bk * 4,
                                        bk * 4};
        // mask = key - query position (iota - thr), positive past it.
        s.vector("sub", "f32", layout.mask, layout.iota, layout.thr,
                 {Val(count, 0), m, bk * 4, 0, 4}, "row_scalar");
        if (plan.window) {
          // Keys at or before query - window: window - 1 - (thr - iota)...
          s.vectorImm("mul", layout.window, layout.mask, -1.0f, plain);
          s.vectorImm("add", layout.window, layout.window,
                      float(1 - *plan.window), plain);
          s.vectorImm("max", layout.window, layout.window, 0.0f, plain);
          s.vectorImm("mul", layout.window, layout.window, -big, plain);
          s.vector("add", "f32", layout.scores, layout.scores, layout.window,
                   plain);
        }
        s.vectorImm("max", layout.mask, layout.mask, 0.0f, plain);
        s.vectorImm("mul", layout.mask, layout.mask, -big, plain);
        s.vector("add", "f32", layout.scores, layout.scores, layout.mask,
                 plain);
        // Online softmax.
        s.vector("reduce_max", "f32", layout.blockMax, layout.scores, 0,
                 {Val(count, 0), m, 4, bk * 4, 0});
        s.vector("max", "f32", layout.maxNew, layout.maxOld, layout.blockMax,
                 rowsOf1);
        s.vector("sub", "f32", layout.alpha, layout.maxOld, layout.maxNew,
                 rowsOf1);
        s.vector("exp", "f32", layout.alpha, layout.alpha, 0, rowsOf1);
        s.vector("sub", "f32", layout.scores, layout.scores, layout.maxNew,
                 block, "row_scalar");
        s.vector("exp", "f32", layout.scores, layout.scores, 0, plain);
        s.vector("reduce_sum", "f32", layout.rowSum, layout.scores, 0,
                 {Val(count, 0), m, 4, bk * 4, 0});
        s.vector("mul", "f32", layout.sum, layout.sum, layout.alpha, rowsOf1);
        s.vector("add", "f32", layout.sum, layout.sum, layout.rowSum, rowsOf1);
        s.vector("dup", "f32", layout.maxOld, 0, layout.maxNew, rowsOf1);
        s.vector("mul", "f32", layout.acc, layout.acc, layout.alpha,
                 {dv, m, dv * 4, dv * 4, 4}, "row_scalar");
        s.cast(cubeElem, "f32", layout.p16, layout.scores,
               {Val(count, 0), m, bk * eb, bk * 4, 0});
        s.vectorImm("add", layout.thr, layout.thr, float(-bk), rowsOf1);
        p.sync("v", *ubL1, 2);
        s.toFractal("ub", "l1", cubeElem, layout.l1P, layout.p16, m,
                    Val(count, 0), bk * eb, cube->m, cube->k);
        p.sync(*ubL1, *l1L0a, 2);
        s.copy("l1", "l0a", layout.l0aP, layout.l1P, 1,
               mp * roundUp(bk, cube->k) * eb, 0, 0);
        if (convert)
          p.sync(*ubL1, *l1L0b, 2);
        s.copy("l1", "l0b", layout.l0bV, Val(slot, layout.l1V), 1,
               roundUp(dv, cube->n) * roundUp(bk, cube->k) * eb, 0, 0);
        if (!convert)
          s.setFlag(*l1L0b, *gmL1, 6); // the slot is free
        p.sync(*l1L0a, "m", 2);
        p.sync(*l1L0b, "m", 3);
        s.mmad(cubeElem, false, layout.l0cO, layout.l0aP, layout.l0bV, m,
               Val(count, 0), dv);
        p.sync("m", *l0cUb, 2);
        s.fromFractal("l0c", "ub", true, layout.acc, layout.l0cO, m, dv, dv * 4,
                      cube->m, cube->n);
        // Converted: the next block's loads wait for this one's last reader.
        p.sync(*l0cUb, "v", 3);
        if (convert) {
          p.sync("v", *gmL1, 3);
          p.sync("v", *gmUb, 4);
        }
      };
      if (convert) {
        s.loop(Val(blocks, 0), [&](unsigned i) { block(Val(i, 0), false); });
      } else {
        unsigned last = regs.get();
        s.scalar("sub", last, Val(blocks, 0), Val(1));
        s.loop(Val(last, 0), [&](unsigned i) { block(Val(i, 0), true); });
        block(Val(last, 0), false);
        // Take the two slot tokens back.
        s.waitFlag(*l1L0b, *gmL1, 6);
        s.waitFlag(*l1L0b, *gmL1, 6);
      }
      // Sinks join the denominator; then O / l.
      if (plan.sinks) {
        s.vector("sub", "f32", layout.alpha, layout.sinkRow, layout.maxOld,
                 rowsOf1);
        s.vector("exp", "f32", layout.alpha, layout.alpha, 0, rowsOf1);
        s.vector("add", "f32", layout.sum, layout.sum, layout.alpha, rowsOf1);
      }
      s.vector("div", "f32", layout.acc, layout.acc, layout.sum,
               {dv, m, dv * 4, dv * 4, 4}, "row_scalar");
      // An output only the cube reads (o_proj) is stored in its type.
      const int64_t ob = elemTypeBytes(plan.output.elem);
      int64_t result = layout.acc;
      if (plan.output.elem != ElemType::F32) {
        s.cast(elemName(plan.output.elem), "f32", layout.qStage, layout.acc,
               {dv, m, dv * ob, dv * 4, 0});
        result = layout.qStage;
      }
      p.sync("v", *ubGm, 0);
      for (int64_t j = 0; j < group; ++j) {
        int64_t head = unit.kvHead * group + j;
        s.copy("ub", "gm",
               int64_t(plan.output.address + unit.token * outRowBytes +
                       head * dv * ob),
               result + j * tt * dv * ob, tt, dv * ob, dv * ob, outRowBytes);
      }
      p.sync(*ubGm, "v", 0);
      p.sync(*ubGm, *gmUb, 0);
    }
  }
  lowering.barrier();
  return success();
}
