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
struct QuantizedBuffers {
  int64_t values, scales, offsets, widened, rounded;
};
} // namespace

/// Chunk kb of a quantized unit: GM -> UB, q * scale + offset in f32 on the
/// vector unit, rounded to the cube's type, UB -> L1 at `l1`. `values` and
/// `scales` hold the unit's addresses in their arrays.
static void dequantizeChunk(StreamBuilder &s, PipeFlags &p,
                            const QuantizedMatrix &q, int64_t kb,
                            unsigned values, unsigned scales, StringRef load,
                            StringRef loadL1, StringRef toL1, StringRef toL0,
                            int64_t buf, int64_t l1,
                            const QuantizedBuffers &ub) {
  const PackedMatrix &w = q.layout;
  const int64_t elems = w.chunkBytes(kb) / w.elemBytes();
  const int64_t elemOffset = w.chunkOffset(kb) / w.elemBytes();
  const int64_t scaleOffset = elemOffset / w.cubeK * 4;
  s.copy("gm", "ub", ub.values, Val(values, elemOffset * q.bits / 8), 1,
         q.valueBytes(kb), 0, 0);
  s.copy("gm", "ub", ub.scales, Val(scales, int64_t(q.scales) + scaleOffset), 1,
         q.scaleBytes(kb), 0, 0);
  s.copy("gm", "ub", ub.offsets, Val(scales, int64_t(q.offsets) + scaleOffset),
         1, q.scaleBytes(kb), 0, 0);
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
                                           const GmMatrix &input, bool split) {
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
    PipeFlags pipes{s};
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
        s.copy("ub", "gm", int64_t(dst + k * eb), ubHigh, rows, k * eb, k * eb,
               out.rowBytes());
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

/// The gated activation of a tile of `rows` rows at `tile` (f32, rows of
/// `width` = 2 * half: the gate half, then the up half) into `act` (f32,
/// rows of half), rounded to `outElem` at `rounded` unless it is f32:
/// clamp(g) * sigmoid(alpha * clamp(g)) * (clamp(u) + beta).
static void activationEpilogue(StreamBuilder &s, PipeFlags &p,
                               const FusedActivation &a, StringRef tilePipe,
                               int64_t tile, int64_t width, unsigned rows,
                               int64_t act, int64_t rounded, ElemType outElem) {
  const int64_t half = a.half, stride = width * 4, actStride = half * 4;
  p.sync(tilePipe, "v", 4);
  int64_t gate = tile, up = tile + half * 4;
  StreamBuilder::VectorRows inPlace{half, Val(rows, 0), stride, stride, 0};
  StreamBuilder::VectorRows toAct{half, Val(rows, 0), actStride, stride, 0};
  StreamBuilder::VectorRows onAct{half, Val(rows, 0), actStride, actStride,
                                  actStride};
  if (a.limit) {
    s.vectorImm("min", gate, gate, float(*a.limit), inPlace);
    s.vectorImm("min", up, up, float(*a.limit), inPlace);
    s.vectorImm("max", up, up, -float(*a.limit), inPlace);
  }
  // gate / (1 + exp(-alpha * gate)), then times (up + beta).
  s.vectorImm("mul", act, gate, float(-a.alpha), toAct);
  s.vector("exp", "f32", act, act, 0, onAct);
  s.vectorImm("add", act, act, 1.0f, onAct);
  s.vector("div", "f32", act, gate, act,
           {half, Val(rows, 0), actStride, stride, actStride});
  if (a.beta != 0.0)
    s.vectorImm("add", up, up, float(a.beta), inPlace);
  s.vector("mul", "f32", act, act, up,
           {half, Val(rows, 0), actStride, actStride, stride});
  if (outElem != ElemType::F32)
    s.cast(elemName(outElem), "f32", rounded, act,
           {half, Val(rows, 0), half * int64_t(elemTypeBytes(outElem)),
            actStride, 0});
}

namespace {
struct Int8Buffers {
  int64_t tile, columnScales, corrections, rowScales, rowSums, product;
};
} // namespace

/// A tile of int32 sums (rows x `width`, rows of `ncols` used) to f32:
/// (acc + correction * rowSum) * columnScale * rowScale.
static void int8Epilogue(StreamBuilder &s, PipeFlags &p, const Int8Epilogue &e,
                         StringRef tilePipe, StringRef load, unsigned row0,
                         unsigned rows, unsigned ncols, int64_t width,
                         const Int8Buffers &ub) {
  // The tile's rows of the row scales (and sums).
  ScopedRegisters r{s};
  unsigned at = r.get(), bytes = r.get();
  s.scalar("mul", at, Val(row0, 0), 4);
  s.scalar("mul", bytes, Val(rows, 0), 4);
  s.copy("gm", "ub", ub.rowScales, Val(at, int64_t(e.rowScales.address)), 1,
         Val(bytes, 0), 0, 0);
  if (e.rowSums)
    s.copy("gm", "ub", ub.rowSums, Val(at, int64_t(e.rowSums->address)), 1,
           Val(bytes, 0), 0, 0);
  p.sync(load, "v", 5);
  p.sync(tilePipe, "v", 4);
  const int64_t stride = width * 4;
  StreamBuilder::VectorRows tile{Val(ncols, 0), Val(rows, 0), stride, stride,
                                 0};
  s.cast("f32", "i32", ub.tile, ub.tile, tile);
  if (e.corrections) {
    // correction[n] * rowSum[r]: the corrections as every row (stride 0).
    s.vector("mul", "f32", ub.product, ub.corrections, ub.rowSums,
             {Val(ncols, 0), Val(rows, 0), stride, 0, 4}, "row_scalar");
    s.vector("add", "f32", ub.tile, ub.tile, ub.product,
             {Val(ncols, 0), Val(rows, 0), stride, stride, stride});
  }
  s.vector("mul", "f32", ub.tile, ub.tile, ub.columnScales,
           {Val(ncols, 0), Val(rows, 0), stride, stride, 0});
  s.vector("mul", "f32", ub.tile, ub.tile, ub.rowScales,
           {Val(ncols, 0), Val(rows, 0), stride, stride, 4}, "row_scalar");
  // The next tile's loads overwrite the row vectors.
  p.sync("v", load, 5);
}

/// out = the sum of `slices` partial matrices stacked in `partials`.
static LogicalResult addPartials(ProgramLowering &lowering,
                                 const GmMatrix &partials, int64_t slices,
                                 const GmMatrix &out) {
  FailureOr<std::string> load = lowering.engine(Space::GM, Space::UB);
  FailureOr<std::string> store = lowering.engine(Space::UB, Space::GM);
  if (failed(load) || failed(store))
    return failure();
  const int64_t rowBytes = out.rowBytes();
  int64_t chunk = out.rows;
  // Every slice's chunk in UB at once: the loads pipeline on the engine.
  chunk = std::min<int64_t>(chunk, int64_t(lowering.bufferBytes(Space::UB)) /
                                       (slices * rowBytes));
  if (chunk < 1)
    return lowering.emitError() << slices << " partial rows of " << out.cols
                                << " sums do not fit the UB";
  int64_t sliceBytes = chunk * rowBytes;
  StreamBuilder::VectorRows shape{out.cols, 0, rowBytes, rowBytes, rowBytes};
  for (unsigned c = 0; c < lowering.coreCount(); ++c) {
    auto [begin, end] = lowering.share(out.rows, c);
    StreamBuilder &s = lowering.core(c);
    PipeFlags p{s};
    for (int64_t row = begin; row < end; row += chunk) {
      int64_t n = std::min(chunk, end - row);
      shape.rows = n;
      for (int64_t slice = 0; slice < slices; ++slice)
        s.copy("gm", "ub", slice * sliceBytes,
               int64_t(partials.address + (slice * out.rows + row) * rowBytes),
               n, rowBytes, rowBytes, rowBytes);
      p.sync(*load, "v", 0);
      for (int64_t slice = 1; slice < slices; ++slice)
        s.vector("add", "f32", 0, 0, slice * sliceBytes, shape);
      p.sync("v", *store, 0);
      s.copy("ub", "gm", int64_t(out.address + row * rowBytes), 0, n, rowBytes,
             rowBytes, rowBytes);
      p.sync(*store, *load, 0);
    }
  }
  lowering.barrier();
  return success();
}

LogicalResult moec::npu::lowerGroupedMatmul(
    ProgramLowering &lowering, const GmMatrix &rows, const PackedMatrix &weight,
    const GmMatrix *offsets, const GmMatrix *bias, const GmMatrix &out,
    const QuantizedMatrix *quantized, const FusedActivation *activation,
    const Int8Epilogue *int8) {
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
  // writes partial sums, which a second phase adds.
  int64_t kSplit = 1;
  if (!offsets && !quantized && !bias && weight.k % kbw == 0)
    for (int64_t d = 1; d <= weight.kBlocks(); ++d)
      if (weight.kBlocks() % d == 0 &&
          nBlocks * d <= int64_t(lowering.coreCount()))
        kSplit = d;
  const int64_t kBlocksPerSlice = weight.kBlocks() / kSplit;
  GmMatrix target = out;
  if (kSplit > 1)
    target = lowering.allocate(kSplit * rows.rows, out.cols, ElemType::F32);
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
        if (kSplit > 1) {
          // Slice s's partial sums: rows s * M ... of the partials.
          s.scalar("mul", bytes, Val(slice, 0), rows.rows * target.rowBytes());
          s.scalar("add", oAddr, Val(oAddr, 0), Val(bytes, 0));
        }
        s.scalar("mul", bytes, Val(ncols, 0), 4);
        s.copy("ub", "gm", Val(oAddr, int64_t(target.address)), ubTile,
               Val(nrows, 0), Val(bytes, 0), nbw * 4, target.rowBytes());
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
  if (kSplit > 1)
    return addPartials(lowering, target, kSplit, out);
  return success();
}
