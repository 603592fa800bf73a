//===- DecoderPhases.cpp - Embedding, RMSNorm and RoPE phases -------------===//

#include "Transforms/DecoderPhases.h"

using namespace mlir;
using namespace moec::npu;

LogicalResult moec::npu::lowerEmbeddingPhase(ProgramLowering &lowering,
                                             const EmbeddingPlan &plan) {
  FailureOr<UbEngines> engines = UbEngines::get(lowering);
  if (failed(engines))
    return failure();
  const std::string &in = engines->in, &out = engines->out;
  const int64_t rows = plan.output.rows, rowBytes = plan.table.rowBytes();
  int64_t chunk = std::min<int64_t>(
      rows, (int64_t(lowering.bufferBytes(Space::UB)) - 64) / (rowBytes + 4));
  if (chunk < 1)
    return lowering.emitError()
           << "decoder.embedding: a row of " << plan.table.cols
           << " elements does not fit the chip's UB";
  const int64_t ubIds = 0, ubRows = align64(chunk * 4);
  for (unsigned c = 0; c < lowering.coreCount(); ++c) {
    auto [begin, end] = lowering.share(rows, c);
    StreamBuilder &s = lowering.core(c);
    PipeFlags p{s};
    for (int64_t row = begin; row < end; row += chunk) {
      int64_t n = std::min(chunk, end - row);
      s.copy("gm", "ub", ubIds,
             int64_t(plan.ids.address + row * plan.idWords * 4), n, 4,
             plan.idWords * 4, 4);
      s.gather("ub", ubRows, int64_t(plan.table.address), ubIds, n, rowBytes,
               plan.table.rowStride(), 1, rowBytes);
      p.sync(in, out, 0);
      s.copy("ub", "gm", int64_t(plan.output.address + row * rowBytes), ubRows,
             n, rowBytes, rowBytes, rowBytes);
      p.sync(out, in, 0);
    }
  }
  lowering.barrier();
  return success();
}

LogicalResult moec::npu::lowerRmsNormPhase(ProgramLowering &lowering,
                                           const RmsNormPlan &plan) {
  FailureOr<UbEngines> engines = UbEngines::get(lowering);
  if (failed(engines))
    return failure();
  const std::string &in = engines->in, &out = engines->out;
  const int64_t rows = plan.input.rows, width = plan.input.cols;
  const int64_t rowBytes = width * 4;
  // UB per row: x, x^2 (then the result), the weight, the addend (then the
  // result in the cube's type); one sum.
  const int64_t buffers = plan.addend ? 4 : 3;
  int64_t chunk = std::min<int64_t>(
      rows, (int64_t(lowering.bufferBytes(Space::UB)) - 5 * 64) /
                (buffers * rowBytes + 4));
  if (chunk < 1)
    return lowering.emitError() << "decoder.rms_norm: a row of " << width
                                << " elements does not fit the chip's UB";
  const int64_t ubX = 0, ubY = align64(chunk * rowBytes);
  const int64_t ubW = ubY + align64(chunk * rowBytes);
  const int64_t ubSum = ubW + align64(chunk * rowBytes);
  const int64_t ubAddend = ubSum + align64(chunk * 4);
  for (unsigned c = 0; c < lowering.coreCount(); ++c) {
    auto [begin, end] = lowering.share(rows, c);
    if (begin == end)
      continue;
    StreamBuilder &s = lowering.core(c);
    PipeFlags p{s};
    // The weight, once per row of a chunk (a DMA with row stride 0).
    s.copy("gm", "ub", ubW, int64_t(plan.weight.address),
           std::min(chunk, end - begin), rowBytes, 0, rowBytes);
    for (int64_t row = begin; row < end; row += chunk) {
      int64_t n = std::min(chunk, end - row);
      s.copy("gm", "ub", ubX,
             int64_t(plan.input.address + row * plan.input.rowStride()), n,
             rowBytes, plan.input.rowStride(), rowBytes);
      if (plan.addend)
        s.copy("gm", "ub", ubAddend,
               int64_t(plan.addend->address + row * plan.addend->rowStride()),
               n, rowBytes, plan.addend->rowStride(), rowBytes);
      p.sync(in, "v", 0);
      StreamBuilder::VectorRows all{width, n, rowBytes, rowBytes, rowBytes};
      StreamBuilder::VectorRows sums{1, n, 4, 4, 4};
      if (plan.addend) {
        // The residual connection's sum, stored while the norm runs.
        s.vector("add", "f32", ubX, ubX, ubAddend, all);
        p.sync("v", out, 1);
        s.copy("ub", "gm",
               int64_t(plan.sum->address + row * plan.sum->rowStride()), ubX, n,
               rowBytes, rowBytes, plan.sum->rowStride());
      }
      s.vector("mul", "f32", ubY, ubX, ubX, all);
      s.vector("reduce_sum", "f32", ubSum, ubY, 0, {width, n, 4, rowBytes, 0});
      s.vectorImm("mul", ubSum, ubSum, float(1.0 / double(width)), sums);
      s.vectorImm("add", ubSum, ubSum, float(plan.epsilon), sums);
      s.vector("sqrt", "f32", ubSum, ubSum, 0, sums);
      s.vector("div", "f32", ubY, ubX, ubSum, {width, n, rowBytes, rowBytes, 4},
               "row_scalar");
      s.vector("mul", "f32", ubY, ubY, ubW, all);
      int64_t result = ubY, outBytes = plan.output.rowBytes();
      if (plan.output.elem != ElemType::F32) {
        // For the cube: rounded to its type here, into a buffer no longer
        // read (x waits for the sum's store to finish).
        int64_t to = plan.addend ? ubAddend : ubX;
        s.cast(elemName(plan.output.elem), "f32", to, ubY,
               {width, n, outBytes, rowBytes, 0});
        result = to;
      }
      p.sync("v", out, 0);
      s.copy("ub", "gm",
             int64_t(plan.output.address + row * plan.output.rowStride()),
             result, n, outBytes, outBytes, plan.output.rowStride());
      p.sync(out, in, 0);
    }
  }
  lowering.barrier();
  return success();
}

LogicalResult moec::npu::lowerRopePhase(ProgramLowering &lowering,
                                        RuntimeScalars &scalars,
                                        const RopePlan &plan) {
  FailureOr<UbEngines> engines = UbEngines::get(lowering);
  if (failed(engines))
    return failure();
  const std::string &in = engines->in, &out = engines->out;
  const int64_t heads = plan.heads, headDim = plan.headDim;
  const int64_t half = plan.rotary / 2, halfBytes = half * 4;
  const int64_t tokens = plan.input.rows;
  const int64_t tableRows = plan.cosines.rows;
  // UB per token: its heads' two halves, cosines, sines and four products.
  int64_t perToken = 8 * heads * halfBytes;
  int64_t chunk = std::min<int64_t>(
      tokens, (int64_t(lowering.bufferBytes(Space::UB)) - 8 * 64) / perToken);
  if (chunk < 1)
    return lowering.emitError()
           << "decoder.rope: " << heads << " heads of " << headDim
           << " elements do not fit the chip's UB";
  const int64_t region = align64(chunk * heads * halfBytes);
  const int64_t ubA = 0, ubB = region, ubCos = 2 * region, ubSin = 3 * region,
                ubT1 = 4 * region, ubT2 = 5 * region, ubT3 = 6 * region,
                ubT4 = 7 * region;
  const int64_t rowStride = headDim * 4;
  // Where a head's two halves start, and the bytes between its elements.
  const int64_t secondOffset = plan.interleaved ? 4 : halfBytes;
  for (unsigned c = 0; c < lowering.coreCount(); ++c) {
    auto [begin, end] = lowering.share(tokens, c);
    if (begin == end)
      continue;
    StreamBuilder &s = lowering.core(c);
    PipeFlags p{s};
    ScopedRegisters regs{s};
    ScalarMaterializer values(scalars, s, regs);
    Val position = values.get(plan.position);
    unsigned row = regs.get();
    for (int64_t token = begin; token < end; token += chunk) {
      int64_t n = std::min(chunk, end - token), rows = n * heads;
      auto load = [&](int64_t ub, int64_t offset) {
        uint64_t at =
            plan.input.address + token * plan.input.rowStride() + offset;
        if (plan.interleaved)
          // Every other element: rows of one element, 8 bytes apart.
          s.copy("gm", "ub", ub, int64_t(at), rows * half, 4, 8, 4);
        else
          s.copy("gm", "ub", ub, int64_t(at), rows, halfBytes, rowStride,
                 halfBytes);
      };
      load(ubA, 0);
      load(ubB, secondOffset);
      for (int64_t t = 0; t < n; ++t) {
        // Row min(position + token, tableRows - 1) of each table, once
        // per head (a DMA with row stride 0).
        s.scalar("add", row, position, Val(token + t));
        s.scalar("min", row, Val(row, 0), Val(tableRows - 1));
        s.scalar("mul", row, Val(row, 0), Val(plan.cosines.rowStride()));
        for (auto [ub, table] :
             {std::pair{ubCos, plan.cosines}, std::pair{ubSin, plan.sines}})
          s.copy("gm", "ub", ub + t * heads * halfBytes,
                 Val(row, int64_t(table.address)), heads, halfBytes, 0,
                 halfBytes);
      }
      p.sync(in, "v", 0);
      StreamBuilder::VectorRows all{half * rows, 1, 0, 0, 0};
      // (a, b) -> (a cos - b sin, b cos + a sin).
      s.vector("mul", "f32", ubT1, ubA, ubCos, all);
      s.vector("mul", "f32", ubT2, ubB, ubSin, all);
      s.vector("sub", "f32", ubT1, ubT1, ubT2, all);
      s.vector("mul", "f32", ubT3, ubB, ubCos, all);
      s.vector("mul", "f32", ubT4, ubA, ubSin, all);
      s.vector("add", "f32", ubT3, ubT3, ubT4, all);
      p.sync("v", out, 0);
      auto store = [&](int64_t ub, int64_t offset) {
        uint64_t at =
            plan.output.address + token * plan.output.rowStride() + offset;
        if (plan.interleaved)
          s.copy("ub", "gm", int64_t(at), ub, rows * half, 4, 4, 8);
        else
          s.copy("ub", "gm", int64_t(at), ub, rows, halfBytes, halfBytes,
                 rowStride);
      };
      store(ubT1, 0);
      store(ubT3, secondOffset);
      p.sync(out, in, 0);
    }
  }
  lowering.barrier();
  return success();
}
