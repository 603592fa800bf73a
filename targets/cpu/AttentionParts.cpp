//===- AttentionParts.cpp - Pieces both attention kernels share -----------===//

#include "targets/cpu/AttentionParts.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace moec;

cpu::AttentionOperands::AttentionOperands(LoopBuilder &b,
                                          decoder::AttentionOp op) {
  auto qType = cast<RankedTensorType>(op.getQuery().getType());
  heads = qType.getDimSize(1);
  dim = qType.getDimSize(2);
  kvHeads = cast<RankedTensorType>(op.getKey().getType()).getDimSize(1);
  vDim = cast<RankedTensorType>(op.getValue().getType()).getDimSize(2);
  q = b.read(op.getQuery());
  k = b.read(op.getKey());
  v = b.read(op.getValue());
  sinks = op.getSinks() ? b.read(op.getSinks()) : Value();
  tq = b.dim(q, 0);
  tk = b.dim(k, 0);
  output = b.alloc(cast<RankedTensorType>(op.getResult().getType()), {tq});
}

cpu::KeyRange cpu::keyRange(LoopBuilder &b, Value tq, Value tk, Value i,
                            std::optional<int64_t> window) {
  Value position =
      arith::AddIOp::create(b, arith::SubIOp::create(b, tk, tq), i);
  Value hi = arith::AddIOp::create(b, position, b.index(1));
  Value lo = b.index(0);
  if (window) {
    // max(0, p + 1 - window), unsigned-safe.
    Value reach = b.index(*window);
    Value cond = arith::CmpIOp::create(b, arith::CmpIPredicate::ugt, hi, reach);
    lo = arith::SelectOp::create(b, cond, arith::SubIOp::create(b, hi, reach),
                                 b.index(0));
  }
  return {lo, hi};
}

Value cpu::loadF32(LoopBuilder &b, Value buffer, ValueRange at, int64_t lanes,
                   Value mask) {
  Type element = cast<MemRefType>(buffer.getType()).getElementType();
  auto type = VectorType::get({lanes}, element);
  Value v;
  if (mask) {
    Value zero = arith::ConstantOp::create(
        b, type, DenseElementsAttr::get(type, b.getZeroAttr(element)));
    v = vector::MaskedLoadOp::create(b, type, buffer, at, mask, zero);
  } else {
    v = vector::LoadOp::create(b, type, buffer, at);
  }
  if (element.isF32())
    return v;
  return arith::ExtFOp::create(b, VectorType::get({lanes}, b.getF32Type()), v);
}

Value cpu::sumWithSink(LoopBuilder &b, Value maximum, Value sum, Value sinks,
                       Value head) {
  Value sink = b.load(sinks, {head});
  if (!sink.getType().isF32())
    sink = arith::ExtFOp::create(b, b.getF32Type(), sink);
  // Both terms scaled by exp(m - top), top the larger, then scaled back.
  Value top = arith::MaximumFOp::create(b, maximum, sink);
  Value rescale =
      math::ExpOp::create(b, arith::SubFOp::create(b, maximum, top));
  Value scaled = arith::AddFOp::create(
      b, arith::MulFOp::create(b, sum, rescale),
      math::ExpOp::create(b, arith::SubFOp::create(b, sink, top)));
  return arith::DivFOp::create(b, scaled, rescale);
}
