//===- LowerMatmul.cpp - Grouped matmuls on the cube ----------------------===//
//
// One phase per grouped matmul (a dense matmul is one group). The work is
// split into units of (group, block of output columns). Each core compacts
// the list of groups that have rows (the routed experts, known only at run
// time) and takes every C-th unit of it, so that a decode step's few
// experts still spread over every core. A unit streams its weight chunks
// GM -> L1 -> L0B once per tile of rows, with the rows' chunks beside them;
// two buffers per stage let the DMA of step k+1 overlap the cube at step k.
//
//===----------------------------------------------------------------------===//

#include "Transforms/Lowering.h"
#include "Transforms/Tiles.h"

using namespace mlir;
using namespace moec::npu;

namespace {
/// Set/wait between two pipes, nothing when they are the same pipe (a pipe
/// runs its commands in order).
struct Pipes {
  StreamBuilder &s;
  void set(StringRef src, StringRef dst, int64_t event) {
    if (src != dst)
      s.setFlag(src, dst, event);
  }
  void wait(StringRef src, StringRef dst, int64_t event) {
    if (src != dst)
      s.waitFlag(src, dst, event);
  }
  void sync(StringRef src, StringRef dst, int64_t event) {
    set(src, dst, event);
    wait(src, dst, event);
  }
};

/// A scope of scalar registers, released in reverse order.
struct Registers {
  StreamBuilder &s;
  SmallVector<unsigned> taken;
  unsigned get() {
    taken.push_back(s.allocRegister());
    return taken.back();
  }
  ~Registers() {
    for (unsigned reg : llvm::reverse(taken))
      s.releaseRegister(reg);
  }
};
} // namespace

namespace {
struct QuantizedBuffers {
  int64_t values, scales, offsets, widened, rounded;
};
} // namespace

/// Chunk kb of a quantized unit: GM -> UB, q * scale + offset in f32 on the
/// vector unit, rounded to the cube's type, UB -> L1 at `l1`. `values` and
/// `scales` hold the unit's addresses in their arrays.
static void dequantizeChunk(StreamBuilder &s, Pipes &p,
                            const QuantizedMatrix &q, int64_t kb,
                            unsigned values, unsigned scales,
                            StringRef load, StringRef loadL1,
                            StringRef toL1, StringRef toL0, int64_t buf,
                            int64_t l1, const QuantizedBuffers &ub) {
  const PackedMatrix &w = q.layout;
  const int64_t elems = w.chunkBytes(kb) / w.elemBytes();
  const int64_t elemOffset = w.chunkOffset(kb) / w.elemBytes();
  const int64_t scaleOffset = elemOffset / w.cubeK * 4;
  s.copy("gm", "ub", ub.values, Val(values, elemOffset * q.bits / 8), 1,
         q.valueBytes(kb), 0, 0);
  s.copy("gm", "ub", ub.scales, Val(scales, int64_t(q.scales) + scaleOffset),
         1, q.scaleBytes(kb), 0, 0);
  s.copy("gm", "ub", ub.offsets,
         Val(scales, int64_t(q.offsets) + scaleOffset), 1, q.scaleBytes(kb),
         0, 0);
  p.sync(load, "v", 6);
  StreamBuilder::VectorRows all{elems, 1, 0, 0, 0};
  if (q.bits == 8)
    s.cast("f32", q.isSigned ? "i8" : "u8", ub.widened, ub.values, all);
  else
    s.unpackInt4(ub.widened, ub.values, elems, q.isSigned);
  StreamBuilder::VectorRows tileRows{w.cubeK, elems / w.cubeK, w.cubeK * 4,
                                     w.cubeK * 4, 4};
  s.vector("mul", "f32", ub.widened, ub.widened, ub.scales, tileRows,
           "row_scalar");
  s.vector("add", "f32", ub.widened, ub.widened, ub.offsets, tileRows,
           "row_scalar");
  p.wait(toL1, "v", 7);
  s.cast(elemName(w.elem), "f32", ub.rounded, ub.widened, all);
  p.sync("v", toL1, 7);
  // L1's buffer is free once the rows' chunk went in after its token.
  p.sync(loadL1, toL1, buf);
  s.copy("ub", "l1", l1, ub.rounded, 1, w.chunkBytes(kb), 0, 0);
  p.set(toL1, "v", 7);
  p.sync(toL1, toL0, buf);
  // The next chunk's loads overwrite what the vector unit read.
  p.sync(toL1, load, 5);
}

FailureOr<GmMatrix> moec::npu::castForCube(ProgramLowering &lowering,
                                           const GmMatrix &input,
                                           bool split) {
  if (input.elem == lowering.cubeType && !split)
    return input;
  if (input.elem != ElemType::F32) {
    lowering.emitError() << "the cube takes " << elemName(lowering.cubeType)
                         << " or f32 rows, not " << elemName(input.elem);
    return failure();
  }
  const int64_t k = input.cols;
  GmMatrix out =
      lowering.allocate(input.rows, split ? 3 * k : k, lowering.cubeType);
  FailureOr<std::string> load = lowering.engine(Space::GM, Space::UB);
  FailureOr<std::string> store = lowering.engine(Space::UB, Space::GM);
  if (failed(load) || failed(store))
    return failure();
  // Rows per chunk: f32 in and the casts beside it fill at most the UB.
  int64_t rowBytes = k * (split ? 12 : 6);
  int64_t chunk = std::min<int64_t>(
      input.rows, (lowering.bufferBytes(Space::UB) - 4 * 64) / rowBytes);
  if (chunk < 1) {
    lowering.emitError() << "a row of " << k
                         << " elements does not fit the chip's UB";
    return failure();
  }
  auto align = [](int64_t bytes) { return (bytes + 63) / 64 * 64; };
  const int64_t eb = elemTypeBytes(out.elem);
  int64_t ubHigh = align(chunk * k * 4);
  int64_t ubRest = ubHigh + align(chunk * k * eb);
  int64_t ubLow = ubRest + align(chunk * k * 4);
  const char *type = elemName(out.elem);
  for (unsigned c = 0; c < lowering.coreCount(); ++c) {
    auto [begin, end] = lowering.share(input.rows, c);
    StreamBuilder &s = lowering.core(c);
    Pipes pipes{s};
    for (int64_t row = begin; row < end; row += chunk) {
      int64_t rows = std::min(chunk, end - row);
      s.copy("gm", "ub", 0, int64_t(input.address + row * input.rowBytes()),
             rows, input.rowBytes(), input.rowBytes(), input.rowBytes());
      pipes.sync(*load, "v", 0);
      StreamBuilder::VectorRows all{k, rows, k * eb, k * 4, 0};
      s.cast(type, "f32", ubHigh, 0, all);
      if (split) {
        // x = high + low, both in the cube's type: the rest x - high,
        // rounded again.
        s.cast("f32", type, ubRest, ubHigh, {k, rows, k * 4, k * eb, 0});
        s.vector("sub", "f32", ubRest, 0, ubRest,
                 {k, rows, k * 4, k * 4, k * 4});
        s.cast(type, "f32", ubLow, ubRest, all);
      }
      pipes.sync("v", *store, 0);
      uint64_t dst = out.address + row * out.rowBytes();
      s.copy("ub", "gm", int64_t(dst), ubHigh, rows, k * eb, k * eb,
             out.rowBytes());
      if (split) {
        s.copy("ub", "gm", int64_t(dst + k * eb), ubHigh, rows, k * eb,
               k * eb, out.rowBytes());
        s.copy("ub", "gm", int64_t(dst + 2 * k * eb), ubLow, rows, k * eb,
               k * eb, out.rowBytes());
      }
      // The next chunk overwrites every buffer.
      pipes.sync(*store, *load, 0);
    }
  }
  lowering.barrier();
  return out;
}

LogicalResult moec::npu::lowerGroupedMatmul(ProgramLowering &lowering,
                                            const GmMatrix &rows,
                                            const PackedMatrix &weight,
                                            const GmMatrix *offsets,
                                            const GmMatrix *bias,
                                            const GmMatrix &out,
                                            const QuantizedMatrix *quantized) {
  const ChipDescription &chip = lowering.chip;
  const CubeShape *cube = chip.findCube(weight.elem);
  if (!cube)
    return lowering.emitError()
           << "chip '" << chip.name << "' has no cube for "
           << elemName(weight.elem);
  FailureOr<MatmulTiles> tiles =
      chooseMatmulTiles(lowering, *cube, rows.rows, weight);
  if (failed(tiles))
    return failure();
  FailureOr<std::string> e2 = lowering.engine(Space::GM, Space::L1);
  FailureOr<std::string> e1 = lowering.engine(Space::L1, Space::L0A);
  FailureOr<std::string> e1b = lowering.engine(Space::L1, Space::L0B);
  FailureOr<std::string> eC = lowering.engine(Space::L0C, Space::UB);
  FailureOr<std::string> eOut = lowering.engine(Space::UB, Space::GM);
  FailureOr<std::string> eIn = lowering.engine(Space::GM, Space::UB);
  if (failed(e2) || failed(e1) || failed(e1b) || failed(eC) || failed(eOut) ||
      failed(eIn))
    return failure();
  if (*e1 != *e1b)
    return lowering.emitError() << "the matmul lowering needs one engine for "
                                   "L1 -> L0A and L1 -> L0B";

  const int64_t eb = elemTypeBytes(weight.elem);
  const int64_t mb = tiles->blockM, nbw = weight.blockN, kbw = weight.blockK;
  const int64_t aBytes = mb * kbw * eb, bBytes = weight.chunkBytes(0);
  const int64_t groups = weight.groups, nBlocks = weight.nBlocks();
  // UB: the output tile, the bias block, the offsets, the active groups.
  const int64_t ubTile = 0, ubBias = mb * nbw * 4;
  const int64_t ubOffsets = ubBias + nbw * 4;
  const int64_t ubActive = ubOffsets + (groups + 1) * 4 + 60;
  // Quantized chunks: values, scales, offsets, f32, the cube's type.
  FailureOr<std::string> eU2L = std::string();
  const int64_t chunkElems = weight.chunkBytes(0) / eb;
  auto align = [](int64_t bytes) { return (bytes + 63) / 64 * 64; };
  const int64_t ubQ = align(ubActive + groups * 4);
  const int64_t ubS = ubQ + align(chunkElems);
  const int64_t ubO = ubS + align(chunkElems / weight.cubeK * 4);
  const int64_t ubF = ubO + align(chunkElems / weight.cubeK * 4);
  const int64_t ubH = ubF + align(chunkElems * 4);
  if (quantized) {
    eU2L = lowering.engine(Space::UB, Space::L1);
    if (failed(eU2L))
      return failure();
    if (uint64_t(ubH + chunkElems * eb) > lowering.bufferBytes(Space::UB))
      return lowering.emitError()
             << "chip '" << chip.name << "': its UB cannot hold a "
             << weight.blockN << " x " << weight.blockK
             << " chunk of a quantized weight and its dequantized forms";
  }

  for (unsigned c = 0; c < lowering.coreCount(); ++c) {
    StreamBuilder &s = lowering.core(c);
    Pipes p{s};
    Registers r{s};
    // The groups' row offsets, into UB for the scalar unit.
    if (offsets) {
      s.copy("gm", "ub", ubOffsets, int64_t(offsets->address), 1,
             (groups + 1) * 4, 0, 0);
      p.sync(*eIn, "s", 1);
    } else {
      s.store("ub", ubOffsets, 0);
      s.store("ub", ubOffsets + 4, rows.rows);
    }
    // Compact the groups with rows: active[n++] = g when it has any.
    unsigned active = r.get(), count = r.get(), next = r.get();
    s.mov(active, 0);
    s.loop(groups, [&](unsigned g) {
      s.scalar("mul", next, Val(g, 0), 4);
      s.load(count, "ub", Val(next, ubOffsets + 4));
      s.load(next, "ub", Val(next, ubOffsets));
      s.scalar("sub", count, Val(count, 0), Val(next, 0));
      s.scalar("mul", next, Val(active, 0), 4);
      s.store("ub", Val(next, ubActive), Val(g, 0));
      s.select(next, 0, Val(count, 0), 1, 0);
      s.scalar("add", active, Val(active, 0), Val(next, 0));
    });
    // Tokens for the buffers each stage frees (docs/npu.md, "Flags").
    p.set(*e1, *e2, 0);
    p.set(*e1, *e2, 1);
    p.set("m", *e1, 0);
    p.set("m", *e1, 1);
    p.set(*eC, "m", 0);
    p.set(*eOut, *eC, 0);
    if (bias)
      p.set("v", *eIn, 3);
    if (quantized)
      p.set(*eU2L, "v", 7);

    // Units of this core: u = c, c + C, ... < active * nBlocks.
    unsigned units = r.get();
    s.scalar("mul", units, Val(active, 0), nBlocks);
    s.scalar("sub", units, Val(units, 0), int64_t(c));
    s.scalar("add", units, Val(units, 0), int64_t(lowering.coreCount() - 1));
    s.scalar("div", units, Val(units, 0), int64_t(lowering.coreCount()));
    s.loop(Val(units, 0), [&](unsigned i) {
      Registers u{s};
      unsigned unit = u.get(), group = u.get(), block = u.get();
      unsigned first = u.get(), rowsLeft = u.get(), n0 = u.get(),
               ncols = u.get(), wAddr = u.get(), tilesReg = u.get();
      s.scalar("mul", unit, Val(i, 0), int64_t(lowering.coreCount()));
      s.scalar("add", unit, Val(unit, 0), int64_t(c));
      s.scalar("div", group, Val(unit, 0), nBlocks);
      s.scalar("mul", block, Val(group, 0), nBlocks);
      s.scalar("sub", block, Val(unit, 0), Val(block, 0));
      s.scalar("mul", group, Val(group, 0), 4);
      s.load(group, "ub", Val(group, ubActive));
      s.scalar("mul", first, Val(group, 0), 4);
      s.load(rowsLeft, "ub", Val(first, ubOffsets + 4));
      s.load(first, "ub", Val(first, ubOffsets));
      s.scalar("sub", rowsLeft, Val(rowsLeft, 0), Val(first, 0));
      s.scalar("mul", n0, Val(block, 0), nbw);
      s.scalar("sub", ncols, weight.n, Val(n0, 0));
      s.scalar("min", ncols, Val(ncols, 0), nbw);
      // The unit's weight chunks: (group * nBlocks + block) * kBlocks.
      s.scalar("mul", wAddr, Val(group, 0), nBlocks);
      s.scalar("add", wAddr, Val(wAddr, 0), Val(block, 0));
      unsigned sAddr = 0;
      if (quantized) {
        // Unit u's values and its scales (the offsets follow the scales at
        // the same distance in their own array).
        sAddr = u.get();
        s.scalar("mul", sAddr, Val(wAddr, 0), quantized->unitScaleBytes());
        s.scalar("mul", wAddr, Val(wAddr, 0), quantized->unitValueBytes());
        s.scalar("add", wAddr, Val(wAddr, 0), int64_t(quantized->values));
      } else {
        s.scalar("mul", wAddr, Val(wAddr, 0), weight.unitBytes());
        s.scalar("add", wAddr, Val(wAddr, 0), int64_t(weight.address));
      }
      if (bias) {
        unsigned biasAddr = u.get(), biasBytes = u.get();
        s.scalar("mul", biasBytes, Val(n0, 0), 4);
        s.scalar("mul", biasAddr, Val(group, 0), bias->rowBytes());
        s.scalar("add", biasAddr, Val(biasAddr, 0), Val(biasBytes, 0));
        s.scalar("mul", biasBytes, Val(ncols, 0), 4);
        p.wait("v", *eIn, 3);
        s.copy("gm", "ub", ubBias, Val(biasAddr, int64_t(bias->address)), 1,
               Val(biasBytes, 0), 0, 0);
        p.sync(*eIn, "v", 3);
      }
      s.scalar("add", tilesReg, Val(rowsLeft, 0), mb - 1);
      s.scalar("div", tilesReg, Val(tilesReg, 0), mb);
      s.loop(Val(tilesReg, 0), [&](unsigned t) {
        Registers m{s};
        unsigned row0 = m.get(), nrows = m.get(), aAddr = m.get(),
                 oAddr = m.get(), bytes = m.get();
        s.scalar("mul", row0, Val(t, 0), mb);
        s.scalar("sub", nrows, Val(rowsLeft, 0), Val(row0, 0));
        s.scalar("min", nrows, Val(nrows, 0), mb);
        s.scalar("add", row0, Val(row0, 0), Val(first, 0));
        s.scalar("mul", aAddr, Val(row0, 0), rows.rowBytes());
        s.scalar("add", aAddr, Val(aAddr, 0), int64_t(rows.address));
        for (int64_t kb = 0; kb < weight.kBlocks(); ++kb) {
          int64_t buf = kb % 2;
          int64_t k0 = kb * kbw, kcols = std::min(kbw, weight.k - k0);
          int64_t l1A = buf * aBytes, l1B = 2 * aBytes + buf * bBytes;
          p.wait(*e1, *e2, buf);
          s.toFractal("gm", "l1", elemName(rows.elem), l1A,
                      Val(aAddr, k0 * eb), Val(nrows, 0), kcols,
                      rows.rowBytes(), cube->m, cube->k);
          int64_t chunk = weight.chunkBytes(kb);
          if (quantized) {
            dequantizeChunk(s, p, *quantized, kb, wAddr, sAddr, *eIn, *e2,
                            *eU2L, *e1, buf, l1B, {ubQ, ubS, ubO, ubF, ubH});
          } else {
            s.copy("gm", "l1", l1B, Val(wAddr, weight.chunkOffset(kb)), 1,
                   chunk, 0, 0);
          }
          p.sync(*e2, *e1, buf);
          p.wait("m", *e1, buf);
          s.copy("l1", "l0a", buf * aBytes, l1A, 1, aBytes, 0, 0);
          s.copy("l1", "l0b", buf * bBytes, l1B, 1, chunk, 0, 0);
          p.set(*e1, *e2, buf);
          p.sync(*e1, "m", buf);
          if (kb == 0)
            p.wait(*eC, "m", 0);
          s.mmad(elemName(weight.elem), kb > 0, 0, buf * aBytes, buf * bBytes,
                 Val(nrows, 0), kcols, nbw);
          p.set("m", *e1, buf);
        }
        p.sync("m", *eC, 1);
        p.wait(*eOut, *eC, 0);
        s.fromFractal("l0c", "ub", false, ubTile, 0, Val(nrows, 0), nbw,
                      nbw * 4, cube->m, cube->n);
        p.set(*eC, "m", 0);
        std::string last = *eC;
        if (bias) {
          p.sync(*eC, "v", 4);
          s.vector("add", "f32", ubTile, ubTile, ubBias,
                   {Val(ncols, 0), Val(nrows, 0), nbw * 4, nbw * 4, 0});
          last = "v";
        }
        p.sync(last, *eOut, 5);
        s.scalar("mul", oAddr, Val(row0, 0), out.rowBytes());
        s.scalar("mul", bytes, Val(n0, 0), 4);
        s.scalar("add", oAddr, Val(oAddr, 0), Val(bytes, 0));
        s.scalar("mul", bytes, Val(ncols, 0), 4);
        s.copy("ub", "gm", Val(oAddr, int64_t(out.address)), ubTile,
               Val(nrows, 0), Val(bytes, 0), nbw * 4, out.rowBytes());
        p.set(*eOut, *eC, 0);
      });
      if (bias)
        p.set("v", *eIn, 3);
    });
    // Take the tokens back: every set above has its wait.
    p.wait(*e1, *e2, 0);
    p.wait(*e1, *e2, 1);
    p.wait("m", *e1, 0);
    p.wait("m", *e1, 1);
    p.wait(*eC, "m", 0);
    p.wait(*eOut, *eC, 0);
    if (bias)
      p.wait("v", *eIn, 3);
    if (quantized)
      p.wait(*eU2L, "v", 7);
    if (s.outOfRegisters())
      return lowering.emitError() << "the matmul lowering ran out of scalar "
                                     "registers";
  }
  lowering.barrier();
  return success();
}
