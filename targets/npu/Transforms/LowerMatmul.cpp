//===- LowerMatmul.cpp - Grouped matmuls on the cube ----------------------===//
//
// One phase per grouped matmul (a dense matmul is one group). The work is
// split into units of (group, block of output columns, slice of k). Each
// core compacts the list of groups that have rows (the routed experts,
// known only at run time) and takes a contiguous range of the units, so
// that a decode step's few experts still spread over every core and a
// core's units share their rows, which stay in L1 when they fit. A unit
// streams its weight chunks GM -> L1 -> L0B once per tile of rows; four L1
// slots and two L0 buffers let the DMA run ahead of the cube. A dense
// matmul of few column blocks splits k over the cores, each slice adding
// its partial sums into the output (an atomic add).
//
//===----------------------------------------------------------------------===//

#include "Transforms/Lowering.h"
#include "Transforms/MatmulParts.h"
#include "Transforms/Tiles.h"

using namespace mlir;
using namespace moec::npu;

LogicalResult moec::npu::lowerGroupedMatmul(
    ProgramLowering &lowering, const GmMatrix &rows, const PackedMatrix &weight,
    const GmMatrix *offsets, const GmMatrix *bias, const GmMatrix &out,
    const QuantizedMatrix *quantized, const FusedActivation *activation,
    const Int8Epilogue *int8, const RowsAtRunTime &runtimeRows) {
  const ChipDescription &chip = lowering.chip;
  const CubeShape *cube = chip.findCube(weight.elem);
  if (!cube)
    return lowering.emitError() << "chip '" << chip.name << "' has no cube for "
                                << elemName(weight.elem);
  FailureOr<MatmulTiles> tiles =
      chooseMatmulTiles(lowering, *cube, rows.rows, weight, int8 ? 2 : 1);
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
  // A dense matmul of few n blocks splits k over the cores too: each slice
  // adds its partial sums into the (zeroed) output, an atomic add.
  int64_t kSplit = 1;
  if (!offsets && !quantized && !bias && weight.k % kbw == 0)
    for (int64_t d = 1; d <= weight.kBlocks(); ++d)
      if (weight.kBlocks() % d == 0 &&
          nBlocks * d <= int64_t(lowering.coreCount()))
        kSplit = d;
  const int64_t kBlocksPerSlice = weight.kBlocks() / kSplit;
  const GmMatrix &target = out;
  // The rows' whole k stays in L1 while a core's units share them, when it
  // fits beside the weight's double buffer.
  const int64_t tileBytesA = cube->m * cube->k * eb;
  const int64_t residentColTiles = (rows.cols + cube->k - 1) / cube->k;
  const int64_t residentBytes =
      ((mb + cube->m - 1) / cube->m) * residentColTiles * tileBytesA;
  const bool residentA = kSplit == 1 && uint64_t(residentBytes + 2 * bBytes) <=
                                            lowering.bufferBytes(Space::L1);
  const int64_t l1Resident = residentA ? (residentBytes + 63) / 64 * 64 : 0;
  // L1 slots for the chunks in flight (the rows' chunk too when the rows
  // are not resident): four when they fit, so that loads run ahead of the
  // cube by more than one step.
  const int64_t l1Slot = (residentA ? 0 : aBytes) + bBytes;
  const int64_t l1Slots =
      uint64_t(l1Resident + 4 * l1Slot) <= lowering.bufferBytes(Space::L1) ? 4
                                                                           : 2;
  // Quantized chunks: values, scales, offsets, f32, the cube's type.
  FailureOr<std::string> eU2L = std::string();
  const int64_t chunkElems = weight.chunkBytes(0) / eb;
  auto align = [](int64_t bytes) { return (bytes + 63) / 64 * 64; };
  const int64_t ubQ = align(ubActive + groups * 4);
  const int64_t ubS = ubQ + align(chunkElems);
  const int64_t ubO = ubS + align(chunkElems / weight.cubeK * 4);
  const int64_t ubF = ubO + align(chunkElems / weight.cubeK * 4);
  const int64_t ubH = ubF + align(chunkElems * 4);
  // The fused activation's f32 rows and their rounding, where the
  // quantized chunks would be.
  const int64_t ubAct = ubQ;
  const int64_t ubActRounded =
      ubAct + align(activation ? mb * activation->half * 4 : 0);
  if (activation && uint64_t(ubActRounded + mb * activation->half * 2) >
                        lowering.bufferBytes(Space::UB))
    return lowering.emitError()
           << "chip '" << chip.name << "': its UB cannot hold a " << mb
           << "-row tile of a gate/up matmul and its activations";
  // The int8 epilogue's vectors and its product of two of them, where the
  // quantized chunks would be (the i8 cube reads its weight as it is).
  const int64_t ubColumnScales = ubQ, ubCorrections = ubQ + align(nbw * 4);
  const int64_t ubRowScales = ubCorrections + align(nbw * 4);
  const int64_t ubRowSums = ubRowScales + align(mb * 4);
  const int64_t ubProduct = ubRowSums + align(mb * 4);
  if (int8 &&
      uint64_t(ubProduct + mb * nbw * 4) > lowering.bufferBytes(Space::UB))
    return lowering.emitError()
           << "chip '" << chip.name << "': its UB cannot hold a " << mb
           << "-row tile of an int8 matmul and its scales";
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
    PipeFlags p{s};
    ScopedRegisters r{s};
    // The groups' row offsets, into UB for the scalar unit.
    if (offsets) {
      s.copy("gm", "ub", ubOffsets, int64_t(offsets->address), 1,
             (groups + 1) * 4, 0, 0);
      p.sync(*eIn, "s", 1);
    } else {
      s.store("ub", ubOffsets, 0);
      s.store("ub", ubOffsets + 4,
              runtimeRows ? runtimeRows(s, r) : Val(rows.rows));
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
    for (int64_t slot = 0; slot < l1Slots; ++slot)
      p.set(*e1, *e2, slot);
    p.set("m", *e1, 0);
    p.set("m", *e1, 1);
    p.set(*eC, "m", 0);
    p.set(*eOut, *eC, 0);
    if (bias)
      p.set("v", *eIn, 3);
    if (quantized)
      p.set(*eU2L, "v", 7);
    if (int8)
      p.set("v", *eIn, 2);

    // Units: (active group, n block, k slice), a contiguous range of them
    // per core, so that a core's units share their rows where they can.
    const int64_t perGroup = nBlocks * kSplit;
    unsigned begin = r.get(), units = r.get(), lastGroup = r.get();
    s.scalar("mul", units, Val(active, 0), perGroup);
    s.scalar("mul", begin, Val(units, 0), int64_t(c));
    s.scalar("div", begin, Val(begin, 0), int64_t(lowering.coreCount()));
    s.scalar("mul", units, Val(units, 0), int64_t(c + 1));
    s.scalar("div", units, Val(units, 0), int64_t(lowering.coreCount()));
    s.scalar("sub", units, Val(units, 0), Val(begin, 0));
    s.mov(lastGroup, -1);
    s.loop(Val(units, 0), [&](unsigned i) {
      ScopedRegisters u{s};
      unsigned unit = u.get(), group = u.get(), block = u.get();
      unsigned first = u.get(), rowsLeft = u.get(), n0 = u.get(),
               ncols = u.get(), wAddr = u.get(), tilesReg = u.get();
      unsigned slice = kSplit > 1 ? u.get() : 0;
      s.scalar("add", unit, Val(i, 0), Val(begin, 0));
      s.scalar("div", group, Val(unit, 0), perGroup);
      s.scalar("mul", block, Val(group, 0), perGroup);
      s.scalar("sub", block, Val(unit, 0), Val(block, 0));
      if (kSplit > 1) {
        // block = nb * kSplit + slice.
        s.scalar("div", first, Val(block, 0), kSplit);
        s.scalar("mul", slice, Val(first, 0), kSplit);
        s.scalar("sub", slice, Val(block, 0), Val(slice, 0));
        s.mov(block, Val(first, 0));
      }
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
      if (kSplit > 1) {
        // This slice's first chunk, and its first input column (in `n0`'s
        // stead below: aAddr adds it).
        unsigned chunkBytes = u.get();
        s.scalar("mul", chunkBytes, Val(slice, 0),
                 weight.chunkOffset(kBlocksPerSlice));
        s.scalar("add", wAddr, Val(wAddr, 0), Val(chunkBytes, 0));
      }
      if (int8) {
        // The unit's columns of the weight's scales and corrections.
        unsigned at = u.get(), bytes = u.get();
        s.scalar("mul", bytes, Val(n0, 0), 4);
        s.scalar("mul", at, Val(group, 0), int8->columnScales.rowBytes());
        s.scalar("add", at, Val(at, 0), Val(bytes, 0));
        s.scalar("mul", bytes, Val(ncols, 0), 4);
        p.wait("v", *eIn, 2);
        s.copy("gm", "ub", ubColumnScales,
               Val(at, int64_t(int8->columnScales.address)), 1, Val(bytes, 0),
               0, 0);
        if (int8->corrections)
          s.copy("gm", "ub", ubCorrections,
                 Val(at, int64_t(int8->corrections->address)), 1, Val(bytes, 0),
                 0, 0);
        p.sync(*eIn, "v", 2);
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
        ScopedRegisters m{s};
        unsigned row0 = m.get(), nrows = m.get(), aAddr = m.get(),
                 oAddr = m.get(), bytes = m.get(), mTiles = m.get();
        s.scalar("mul", row0, Val(t, 0), mb);
        s.scalar("sub", nrows, Val(rowsLeft, 0), Val(row0, 0));
        s.scalar("min", nrows, Val(nrows, 0), mb);
        s.scalar("add", row0, Val(row0, 0), Val(first, 0));
        s.scalar("mul", aAddr, Val(row0, 0), rows.rowBytes());
        s.scalar("add", aAddr, Val(aAddr, 0), int64_t(rows.address));
        if (kSplit > 1) {
          s.scalar("mul", bytes, Val(slice, 0), kBlocksPerSlice * kbw * eb);
          s.scalar("add", aAddr, Val(aAddr, 0), Val(bytes, 0));
        }
        s.scalar("add", mTiles, Val(nrows, 0), cube->m - 1);
        s.scalar("div", mTiles, Val(mTiles, 0), cube->m);
        if (residentA) {
          // The rows' whole k in L1, loaded again only when this tile's
          // rows differ from the last unit's (another group, or a group of
          // several tiles).
          unsigned load = bytes;
          s.select(load, Val(group, 0), Val(lastGroup, 0), 1, 0);
          s.select(load, Val(lastGroup, 0), Val(group, 0), 1, Val(load, 0));
          s.select(load, 1, Val(tilesReg, 0), 1, Val(load, 0));
          p.sync(*e1, *e2, 6);
          s.loop(Val(load, 0), [&](unsigned) {
            s.toFractal("gm", "l1", elemName(rows.elem), 0, Val(aAddr, 0),
                        Val(nrows, 0), rows.cols, rows.rowBytes(), cube->m,
                        cube->k);
          });
          p.sync(*e2, *e1, 6);
          s.select(lastGroup, 1, Val(tilesReg, 0), -1, Val(group, 0));
        }
        for (int64_t kl = 0; kl < kBlocksPerSlice; ++kl) {
          int64_t kb = kl, buf = kl % 2, slot = kl % l1Slots;
          int64_t k0 = kb * kbw, kcols = std::min(kbw, weight.k - k0);
          int64_t kTiles = (kcols + cube->k - 1) / cube->k;
          int64_t l1A = l1Resident + slot * l1Slot;
          int64_t l1B = l1A + (residentA ? 0 : aBytes);
          p.wait(*e1, *e2, slot);
          if (!residentA)
            s.toFractal("gm", "l1", elemName(rows.elem), l1A,
                        Val(aAddr, k0 * eb), Val(nrows, 0), kcols,
                        rows.rowBytes(), cube->m, cube->k);
          int64_t chunk = weight.chunkBytes(kb);
          if (quantized) {
            dequantizeChunk(s, p, *quantized, kb, wAddr, sAddr, *eIn, *e2,
                            *eU2L, *e1, slot, l1B, {ubQ, ubS, ubO, ubF, ubH});
          } else {
            s.copy("gm", "l1", l1B, Val(wAddr, weight.chunkOffset(kb)), 1,
                   chunk, 0, 0);
          }
          p.sync(*e2, *e1, slot);
          p.wait("m", *e1, buf);
          if (residentA)
            // k block kb of every row tile: tiles (i, kb * kbw / ck ...).
            s.copy("l1", "l0a", buf * aBytes, k0 / cube->k * tileBytesA,
                   Val(mTiles, 0), kTiles * tileBytesA,
                   residentColTiles * tileBytesA, kTiles * tileBytesA);
          else
            s.copy("l1", "l0a", buf * aBytes, l1A, 1, aBytes, 0, 0);
          s.copy("l1", "l0b", buf * bBytes, l1B, 1, chunk, 0, 0);
          p.set(*e1, *e2, slot);
          p.sync(*e1, "m", buf);
          if (kl == 0)
            p.wait(*eC, "m", 0);
          s.mmad(elemName(weight.elem), kl > 0, 0, buf * aBytes, buf * bBytes,
                 Val(nrows, 0), kcols, nbw);
          p.set("m", *e1, buf);
        }
        p.sync("m", *eC, 1);
        p.wait(*eOut, *eC, 0);
        s.fromFractal("l0c", "ub", false, ubTile, 0, Val(nrows, 0), nbw,
                      nbw * 4, cube->m, cube->n);
        p.set(*eC, "m", 0);
        std::string last = *eC;
        if (int8) {
          int8Epilogue(s, p, *int8, *eC, *eIn, row0, nrows, ncols, nbw,
                       {ubTile, ubColumnScales, ubCorrections, ubRowScales,
                        ubRowSums, ubProduct});
          last = "v";
        }
        if (bias) {
          p.sync(*eC, "v", 4);
          s.vector("add", "f32", ubTile, ubTile, ubBias,
                   {Val(ncols, 0), Val(nrows, 0), nbw * 4, nbw * 4, 0});
          last = "v";
        }
        if (activation) {
          activationEpilogue(s, p, *activation, *eC, ubTile, nbw, nrows, ubAct,
                             ubActRounded, out.elem);
          // Columns block * half ... of the activation.
          int64_t outBytes = elemTypeBytes(out.elem);
          int64_t half = activation->half;
          s.scalar("mul", oAddr, Val(row0, 0), out.rowBytes());
          s.scalar("mul", bytes, Val(block, 0), half * outBytes);
          s.scalar("add", oAddr, Val(oAddr, 0), Val(bytes, 0));
          s.scalar("mul", bytes, Val(block, 0), -half);
          s.scalar("add", bytes, Val(bytes, 0), out.cols);
          s.scalar("min", bytes, Val(bytes, 0), half);
          s.scalar("mul", bytes, Val(bytes, 0), outBytes);
          p.sync("v", *eOut, 5);
          s.copy("ub", "gm", Val(oAddr, int64_t(out.address)),
                 out.elem == ElemType::F32 ? ubAct : ubActRounded,
                 Val(nrows, 0), Val(bytes, 0), half * outBytes, out.rowBytes());
          p.set(*eOut, *eC, 0);
          return;
        }
        p.sync(last, *eOut, 5);
        s.scalar("mul", oAddr, Val(row0, 0), target.rowBytes());
        s.scalar("mul", bytes, Val(n0, 0), 4);
        s.scalar("add", oAddr, Val(oAddr, 0), Val(bytes, 0));
        s.scalar("mul", bytes, Val(ncols, 0), 4);
        s.copy("ub", "gm", Val(oAddr, int64_t(target.address)), ubTile,
               Val(nrows, 0), Val(bytes, 0), nbw * 4, target.rowBytes(),
               /*accumulate=*/kSplit > 1);
        p.set(*eOut, *eC, 0);
      });
      if (bias)
        p.set("v", *eIn, 3);
      if (int8)
        p.set("v", *eIn, 2);
    });
    // Take the tokens back: every set above has its wait.
    for (int64_t slot = 0; slot < l1Slots; ++slot)
      p.wait(*e1, *e2, slot);
    p.wait("m", *e1, 0);
    p.wait("m", *e1, 1);
    p.wait(*eC, "m", 0);
    p.wait(*eOut, *eC, 0);
    if (bias)
      p.wait("v", *eIn, 3);
    if (quantized)
      p.wait(*eU2L, "v", 7);
    if (int8)
      p.wait("v", *eIn, 2);
    if (s.outOfRegisters())
      return lowering.emitError() << "the matmul lowering ran out of scalar "
                                     "registers";
  }
  lowering.barrier();
  return success();
}
