//===- MatmulParts.cpp - Pieces of the grouped matmul's tile loop ---------===//
//
// MatmulParts.h's pieces, and castForCube (Lowering.h): the phase that
// rounds rows to the cube's type.
//
//===----------------------------------------------------------------------===//

#include "Transforms/MatmulParts.h"

using namespace mlir;
using namespace moec::npu;

void moec::npu::dequantizeChunk(StreamBuilder &s, PipeFlags &p,
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

void moec::npu::activationEpilogue(StreamBuilder &s, PipeFlags &p,
                                   const FusedActivation &a, StringRef tilePipe,
                                   int64_t tile, int64_t width, unsigned rows,
                                   int64_t act, int64_t rounded,
                                   ElemType outElem) {
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

void moec::npu::int8Epilogue(StreamBuilder &s, PipeFlags &p,
                             const Int8Epilogue &e, StringRef tilePipe,
                             StringRef load, unsigned row0, unsigned rows,
                             unsigned ncols, int64_t width,
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
