//===- ExpertDots.cpp - bf16 and f16 experts on dot products --------------===//
//
// A checkpoint's experts stay in its dtype, stacked as [E, N, K]: each
// expert's weight is in torch's layout, so its group of rows multiplies it
// on the dot-product kernel (DotProducts.h), the weights read as 2 bytes
// and widened in registers. One parallel iteration per (expert, 64 rows of
// its weight); an expert no row chose returns at once.
//
//===----------------------------------------------------------------------===//

#include "targets/cpu/DotProducts.h"
#include "targets/cpu/GroupedMatmul.h"

#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace moec;

/// f32 rows and output, a bf16 or f16 weight of static shape.
static bool takesDots(moe::GroupedMatmulOp op) {
  auto weight = dyn_cast<RankedTensorType>(op.getWeight().getType());
  auto rows = cast<RankedTensorType>(op.getRows().getType());
  auto output = cast<RankedTensorType>(op.getOutput().getType());
  return weight && weight.hasStaticShape() &&
         (weight.getElementType().isBF16() ||
          weight.getElementType().isF16()) &&
         rows.getElementType().isF32() && output.getElementType().isF32();
}

FailureOr<bool> cpu::lowerGroupedMatmulToDots(RewriterBase &rewriter,
                                              moe::GroupedMatmulOp op,
                                              const TileShape &shape) {
  if (!takesDots(op))
    return false;
  LoopBuilder b(op);
  auto weightType = cast<RankedTensorType>(op.getWeight().getType());
  int64_t numExperts = weightType.getDimSize(0);
  int64_t n = weightType.getDimSize(1);
  Value rows = b.read(op.getRows());
  Value weight = b.read(op.getWeight());
  Value offsets = b.read(op.getOffsets());
  Value bias = op.getBias() ? b.read(op.getBias()) : Value();
  Value count = b.dim(rows, 0);
  Value output = b.alloc(op.getOutput().getType(), {count});
  // Rows rounded to bf16 for the experts with bf16DotRows or more (only
  // when there are as many rows in all).
  int64_t pairRows = weightType.getElementType().isBF16() && shape.lanes == 16
                         ? shape.bf16DotRows
                         : 0;
  Value xPairs;
  if (pairRows > 0) {
    Value enough = arith::CmpIOp::create(b, arith::CmpIPredicate::uge, count,
                                         b.index(pairRows));
    xPairs = DotProducts::roundToBf16(
        b, rows, arith::SelectOp::create(b, enough, count, b.index(0)),
        shape.lanes);
  }
  int64_t rowsPerTask = DotProducts::kRowsPerTask;
  int64_t tiles = (n + rowsPerTask - 1) / rowsPerTask;
  b.parallelLoop(b.index(0), b.index(numExperts * tiles), [&](Value task) {
    GroupedMatmulTask at = groupedMatmulTask(b, task, numExperts, offsets);
    Value e = at.expert, tile = at.tile, lo = at.lo, hi = at.hi;
    Value hasRows = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, lo, hi);
    Value zero = b.floatConst(b.getF32Type(), 0.0);
    Value begin = arith::MulIOp::create(b, tile, b.index(rowsPerTask));
    Value end = arith::MinUIOp::create(
        b, arith::AddIOp::create(b, begin, b.index(rowsPerTask)), b.index(n));
    auto emit = [&](Value pairs) {
      DotProducts dots(b, rows, weight, output, shape.lanes);
      dots.prefix = {e};
      dots.xPairs = pairs;
      dots.initial = [&](Value, Value o) -> Value {
        if (!bias)
          return zero;
        Value v = b.load(bias, {e, o});
        return v.getType().isF32()
                   ? v
                   : arith::ExtFOp::create(b, b.getF32Type(), v).getResult();
      };
      dots.emit(begin, end, lo, hi);
    };
    if (!xPairs) {
      b.ifThen(hasRows, [&] { emit(Value()); });
      return;
    }
    Value size = arith::SubIOp::create(b, hi, lo);
    Value many = arith::CmpIOp::create(b, arith::CmpIPredicate::uge, size,
                                       b.index(pairRows));
    Value few = arith::AndIOp::create(
        b, hasRows,
        arith::CmpIOp::create(b, arith::CmpIPredicate::ult, size,
                              b.index(pairRows)));
    b.ifThen(many, [&] { emit(xPairs); });
    b.ifThen(few, [&] { emit(Value()); });
  });
  zeroUnroutedRows(b, offsets, numExperts, output);
  rewriter.replaceOp(op, b.result(output));
  return true;
}
