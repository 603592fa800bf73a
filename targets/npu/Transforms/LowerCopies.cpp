//===- LowerCopies.cpp - Phases that move rows in global memory -----------===//

#include "Transforms/LowerCopies.h"

using namespace mlir;
using namespace moec::npu;

LogicalResult moec::npu::lowerRowCopies(ProgramLowering &lowering,
                                        ArrayRef<RowCopy> copies) {
  FailureOr<UbEngines> engines = UbEngines::get(lowering);
  if (failed(engines))
    return failure();
  const std::string &in = engines->in, &out = engines->out;
  const int64_t ub = int64_t(lowering.bufferBytes(Space::UB));
  for (const RowCopy &copy : copies) {
    if (copy.rowBytes > ub)
      return lowering.emitError()
             << "a row of " << copy.rowBytes << " bytes does not fit UB";
    int64_t chunk = std::max<int64_t>(1, ub / copy.rowBytes);
    for (unsigned c = 0; c < lowering.coreCount(); ++c) {
      auto [begin, end] = lowering.share(copy.rows, c);
      StreamBuilder &s = lowering.core(c);
      PipeFlags p{s};
      for (int64_t row = begin; row < end; row += chunk) {
        int64_t n = std::min(chunk, end - row);
        s.copy("gm", "ub", 0, int64_t(copy.src + row * copy.srcStride), n,
               copy.rowBytes, copy.srcStride, copy.rowBytes);
        p.sync(in, out, 0);
        s.copy("ub", "gm", int64_t(copy.dst + row * copy.dstStride), 0, n,
               copy.rowBytes, copy.rowBytes, copy.dstStride);
        p.sync(out, in, 0);
      }
    }
  }
  lowering.barrier();
  return success();
}

LogicalResult moec::npu::lowerRuntimeRowCopy(ProgramLowering &lowering,
                                             RuntimeScalars &scalars,
                                             const RuntimeRowCopy &copy) {
  FailureOr<UbEngines> engines = UbEngines::get(lowering);
  if (failed(engines))
    return failure();
  const std::string &in = engines->in, &out = engines->out;
  const int64_t srcRowBytes = copy.src.rowBytes();
  const int64_t dstRowBytes = copy.dst.rowBytes();
  if (copy.src.cols != copy.dst.cols)
    return lowering.emitError()
           << "rows of " << copy.src.cols << " elements copied into rows of "
           << copy.dst.cols;
  bool convert = copy.src.elem != copy.dst.elem;
  int64_t perRow = srcRowBytes + (convert ? dstRowBytes : 0);
  int64_t chunk = std::min<int64_t>(
      copy.bound, (int64_t(lowering.bufferBytes(Space::UB)) - 128) / perRow);
  if (chunk < 1)
    return lowering.emitError()
           << "a row of " << srcRowBytes << " bytes does not fit UB";
  const int64_t converted = (chunk * srcRowBytes + 63) / 64 * 64;
  for (unsigned c = 0; c < lowering.coreCount(); ++c) {
    auto [begin, end] = lowering.share(copy.bound, c);
    if (begin == end)
      continue;
    StreamBuilder &s = lowering.core(c);
    PipeFlags p{s};
    ScopedRegisters regs{s};
    ScalarMaterializer values(scalars, s, regs);
    Val count = values.get(copy.count);
    unsigned srcBase = values.fresh(copy.srcRow);
    s.scalar("mul", srcBase, Val(srcBase, 0), Val(copy.src.rowStride()));
    unsigned dstBase = values.fresh(copy.dstRow);
    s.scalar("mul", dstBase, Val(dstBase, 0), Val(copy.dst.rowStride()));
    unsigned rows = regs.get();
    for (int64_t row = begin; row < end; row += chunk) {
      int64_t n = std::min(chunk, end - row);
      // This chunk's rows that exist: clamp(count - row, 0, n).
      s.scalar("sub", rows, count, Val(row));
      s.scalar("max", rows, Val(rows, 0), Val(0));
      s.scalar("min", rows, Val(rows, 0), Val(n));
      s.copy(
          "gm", "ub", 0,
          Val(srcBase, int64_t(copy.src.address) + row * copy.src.rowStride()),
          Val(rows, 0), srcRowBytes, copy.src.rowStride(), srcRowBytes);
      int64_t from = 0;
      if (convert) {
        p.sync(in, "v", 0);
        s.cast(elemName(copy.dst.elem), elemName(copy.src.elem), converted, 0,
               {copy.src.cols, Val(rows, 0), dstRowBytes, srcRowBytes, 0});
        p.sync("v", out, 0);
        from = converted;
      } else {
        p.sync(in, out, 0);
      }
      s.copy(
          "ub", "gm",
          Val(dstBase, int64_t(copy.dst.address) + row * copy.dst.rowStride()),
          from, Val(rows, 0), dstRowBytes, dstRowBytes, copy.dst.rowStride());
      p.sync(out, in, 0);
    }
  }
  lowering.barrier();
  return success();
}
