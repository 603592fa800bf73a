//===- StreamBuilder.cpp - Writing one core's command stream --------------===//

#include "Transforms/StreamBuilder.h"

#include <cstring>

using namespace mlir;
using namespace moec::npu;

StreamBuilder::StreamBuilder(CoreOp core)
    : builder(core.getContext()), loc(core.getLoc()) {
  builder.setInsertionPointToEnd(&core.getBody().front());
}

unsigned StreamBuilder::allocRegister() {
  if (nextRegister >= kRegisterCount) {
    exhausted = true;
    return kRegisterCount - 1;
  }
  return nextRegister++;
}

void StreamBuilder::releaseRegister(unsigned reg) {
  if (!exhausted && reg + 1 == nextRegister)
    --nextRegister;
}

std::pair<DenseI64ArrayAttr, DenseI64ArrayAttr>
StreamBuilder::operands(ArrayRef<Val> values) {
  SmallVector<int64_t> args, regs;
  for (const Val &v : values) {
    args.push_back(v.offset);
    regs.push_back(v.reg);
  }
  return {builder.getDenseI64ArrayAttr(args),
          builder.getDenseI64ArrayAttr(regs)};
}

void StreamBuilder::mov(unsigned dst, Val value) {
  auto [args, regs] = operands({value});
  ScalarOp::create(builder, loc, "mov", dst, nullptr, args, regs);
}

void StreamBuilder::scalar(StringRef kind, unsigned dst, Val a, Val b) {
  auto [args, regs] = operands({a, b});
  ScalarOp::create(builder, loc, kind, dst, nullptr, args, regs);
}

void StreamBuilder::select(unsigned dst, Val a, Val b, Val then,
                           Val otherwise) {
  auto [args, regs] = operands({a, b, then, otherwise});
  ScalarOp::create(builder, loc, "select", dst, nullptr, args, regs);
}

void StreamBuilder::load(unsigned dst, StringRef space, Val addr) {
  auto [args, regs] = operands({addr});
  ScalarOp::create(builder, loc, "load", dst, builder.getStringAttr(space),
                   args, regs);
}

void StreamBuilder::store(StringRef space, Val addr, Val value) {
  auto [args, regs] = operands({addr, value});
  ScalarOp::create(builder, loc, "store", 0, builder.getStringAttr(space), args,
                   regs);
}

void StreamBuilder::loop(Val count, const std::function<void(unsigned)> &body) {
  unsigned index = allocRegister();
  auto [args, regs] = operands({count});
  auto op = LoopOp::create(builder, loc, index, args, regs);
  op.getBody().emplaceBlock();
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToEnd(&op.getBody().front());
  body(index);
  releaseRegister(index);
}

void StreamBuilder::setFlag(StringRef src, StringRef dst, int64_t event) {
  SetFlagOp::create(builder, loc, src, dst, event);
}

void StreamBuilder::waitFlag(StringRef src, StringRef dst, int64_t event) {
  WaitFlagOp::create(builder, loc, src, dst, event);
}

void StreamBuilder::sync(StringRef src, StringRef dst, int64_t event) {
  setFlag(src, dst, event);
  waitFlag(src, dst, event);
}

void StreamBuilder::barrierAll() { BarrierAllOp::create(builder, loc); }

void StreamBuilder::copy(StringRef from, StringRef to, Val dst, Val src,
                         Val rows, Val rowBytes, Val srcStride, Val dstStride,
                         bool accumulate) {
  auto [args, regs] =
      operands({dst, src, rows, rowBytes, srcStride, dstStride});
  DmaOp::create(builder, loc, "copy", from, to, nullptr, accumulate, false,
                args, regs);
}

void StreamBuilder::gather(StringRef to, Val dst, Val src, Val index, Val rows,
                           Val rowBytes, Val srcStride, Val divisor,
                           Val dstStride) {
  auto [args, regs] = operands(
      {dst, src, index, rows, rowBytes, srcStride, divisor, dstStride});
  DmaOp::create(builder, loc, "gather", "gm", to, nullptr, false, false, args,
                regs);
}

void StreamBuilder::toFractal(StringRef from, StringRef to, StringRef elem,
                              Val dst, Val src, Val rows, Val cols,
                              Val srcStride, int64_t tileRows, int64_t tileCols,
                              bool transposed) {
  auto [args, regs] =
      operands({dst, src, rows, cols, srcStride, tileRows, tileCols});
  DmaOp::create(builder, loc, "nd_to_fractal", from, to,
                builder.getStringAttr(elem), false, transposed, args, regs);
}

void StreamBuilder::fromFractal(StringRef from, StringRef to, bool accumulate,
                                Val dst, Val src, Val rows, Val cols,
                                Val dstStride, int64_t tileRows,
                                int64_t tileCols) {
  auto [args, regs] =
      operands({dst, src, rows, cols, dstStride, tileRows, tileCols});
  DmaOp::create(builder, loc, "fractal_to_nd", from, to, nullptr, accumulate,
                false, args, regs);
}

void StreamBuilder::mmad(StringRef elem, bool accumulate, Val c, Val a, Val b,
                         Val m, Val k, Val n) {
  auto [args, regs] = operands({c, a, b, m, k, n});
  MmadOp::create(builder, loc, elem, accumulate, args, regs);
}

void StreamBuilder::vector(StringRef kind, StringRef elem, Val dst, Val src0,
                           Val src1, const VectorRows &shape,
                           StringRef src1Mode) {
  auto [args, regs] =
      operands({dst, src0, src1, shape.count, shape.rows, shape.dstStride,
                shape.src0Stride, shape.src1Stride});
  VectorOp::create(builder, loc, kind, elem, nullptr,
                   src1Mode == "rows" ? nullptr
                                      : builder.getStringAttr(src1Mode),
                   false, args, regs);
}

void StreamBuilder::vectorImm(StringRef kind, Val dst, Val src0, float imm,
                              const VectorRows &shape) {
  uint32_t bits;
  std::memcpy(&bits, &imm, sizeof bits);
  vector(kind, "f32", dst, src0, Val(int64_t(bits)), shape, "imm");
}

void StreamBuilder::cast(StringRef to, StringRef from, Val dst, Val src,
                         const VectorRows &shape) {
  auto [args, regs] =
      operands({dst, src, Val(0), shape.count, shape.rows, shape.dstStride,
                shape.src0Stride, shape.src1Stride});
  VectorOp::create(builder, loc, "cast", to, builder.getStringAttr(from),
                   nullptr, false, args, regs);
}

void StreamBuilder::topk(Val values, Val scores, Val indices, Val n, Val rows,
                         Val k, Val scoresStride) {
  auto [args, regs] =
      operands({values, scores, indices, n, rows, k, scoresStride});
  VectorOp::create(builder, loc, "topk", "f32", nullptr, nullptr, false, args,
                   regs);
}

void StreamBuilder::unpackInt4(Val dst, Val src, Val count, bool isSigned) {
  auto [args, regs] =
      operands({dst, src, Val(0), count, Val(1), Val(0), Val(0), Val(0)});
  VectorOp::create(builder, loc, "unpack_int4", "f32", nullptr, nullptr,
                   isSigned, args, regs);
}
