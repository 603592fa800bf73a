//===- LinearDots.cpp - Dense layers with [N, K] weights as dot products --===//
//
// y[t, o] = init[t, o] + sum_k x[t, k] * W[o, k] with W in torch's layout,
// as the checkpoint importer writes every dense layer, on the dot-product
// kernel (DotProducts.h): one parallel iteration per 64 rows of W.
//
//===----------------------------------------------------------------------===//

#include "targets/cpu/Passes.h"

#include "targets/cpu/DotProducts.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace moec::cpu {
#define GEN_PASS_DEF_CPULINEARTODOTS
#include "targets/cpu/Passes.h.inc"
} // namespace moec::cpu

using namespace mlir;
using namespace moec;

/// Whether `op` is a dense layer this lowering takes: f32 x [T, K], W
/// [N, K] (f32, bf16 or f16, static), f32 result [T, N], and a body
/// `init + x * w` with w widened by arith.extf when it is not f32.
static bool isLinear(linalg::GenericOp op) {
  if (!op.hasPureTensorSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || op.getNumLoops() != 3)
    return false;
  MLIRContext *ctx = op.getContext();
  AffineExpr t = getAffineDimExpr(0, ctx), o = getAffineDimExpr(1, ctx),
             k = getAffineDimExpr(2, ctx);
  SmallVector<AffineMap> expected{AffineMap::get(3, 0, {t, k}, ctx),
                                  AffineMap::get(3, 0, {o, k}, ctx),
                                  AffineMap::get(3, 0, {t, o}, ctx)};
  if (op.getIndexingMapsArray() != expected)
    return false;
  auto iterators = op.getIteratorTypesArray();
  if (iterators[0] != utils::IteratorType::parallel ||
      iterators[1] != utils::IteratorType::parallel ||
      iterators[2] != utils::IteratorType::reduction)
    return false;
  auto x = cast<RankedTensorType>(op.getDpsInputs()[0].getType());
  auto w = cast<RankedTensorType>(op.getDpsInputs()[1].getType());
  auto y = cast<RankedTensorType>(op.getDpsInits()[0].getType());
  Type wElement = w.getElementType();
  if (!x.getElementType().isF32() || !y.getElementType().isF32() ||
      !w.hasStaticShape() ||
      !(wElement.isF32() || wElement.isBF16() || wElement.isF16()))
    return false;
  // The body: yield(addf(acc, mulf(a, b | extf(b)))), either operand order.
  Block &body = op.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add)
    return false;
  Value a = body.getArgument(0), b = body.getArgument(1),
        acc = body.getArgument(2);
  Value product = add.getLhs() == acc ? add.getRhs() : add.getLhs();
  if ((add.getLhs() == acc) == (add.getRhs() == acc))
    return false;
  auto mul = product.getDefiningOp<arith::MulFOp>();
  if (!mul)
    return false;
  auto isB = [&](Value v) {
    if (auto ext = v.getDefiningOp<arith::ExtFOp>())
      v = ext.getIn();
    return v == b;
  };
  return (mul.getLhs() == a && isB(mul.getRhs())) ||
         (mul.getRhs() == a && isB(mul.getLhs()));
}

static void lowerLinear(linalg::GenericOp op, int64_t lanes,
                        int64_t bf16DotRows) {
  LoopBuilder b(op);
  auto wType = cast<RankedTensorType>(op.getDpsInputs()[1].getType());
  int64_t n = wType.getDimSize(0);
  Value x = b.read(op.getDpsInputs()[0]);
  Value w = b.read(op.getDpsInputs()[1]);
  Value init = b.read(op.getDpsInits()[0]);
  Value m = b.dim(x, 0);
  Value output =
      b.alloc(cast<RankedTensorType>(op->getResult(0).getType()), {m});
  // A call of bf16DotRows tokens or more multiplies them rounded to bf16.
  bool pairs = wType.getElementType().isBF16() && lanes == 16 && bf16DotRows;
  Value many, few, xPairs;
  if (pairs) {
    many = arith::CmpIOp::create(b, arith::CmpIPredicate::uge, m,
                                 b.index(bf16DotRows));
    few = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, m,
                                b.index(bf16DotRows));
    xPairs = cpu::DotProducts::roundToBf16(
        b, x, arith::SelectOp::create(b, many, m, b.index(0)), lanes);
  }
  int64_t rowsPerTask = cpu::DotProducts::kRowsPerTask;
  int64_t tasks = (n + rowsPerTask - 1) / rowsPerTask;
  b.parallelLoop(b.index(0), b.index(tasks), [&](Value task) {
    Value begin = arith::MulIOp::create(b, task, b.index(rowsPerTask));
    Value end = arith::MinUIOp::create(
        b, arith::AddIOp::create(b, begin, b.index(rowsPerTask)), b.index(n));
    auto emit = [&](Value pairRows) {
      cpu::DotProducts dots(b, x, w, output, lanes);
      dots.xPairs = pairRows;
      dots.initial = [&](Value t, Value o) { return b.load(init, {t, o}); };
      dots.emit(begin, end, b.index(0), m);
    };
    if (!pairs)
      return emit(Value());
    b.ifThen(many, [&] { emit(xPairs); });
    b.ifThen(few, [&] { emit(Value()); });
  });
  op->getResult(0).replaceAllUsesWith(b.result(output));
  op.erase();
}

namespace {
struct CpuLinearToDotsPass
    : public moec::cpu::impl::CpuLinearToDotsBase<CpuLinearToDotsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (vectorWidth < 1 || bf16DotRows < 0 ||
        (bf16DotRows > 0 && vectorWidth != 16)) {
      getOperation().emitError(
          "cpu-linear-to-dots: the vector width must be positive and "
          "bf16-dot-rows non-negative (positive only with vector-width 16)");
      return signalPassFailure();
    }
    SmallVector<linalg::GenericOp> linears;
    getOperation().walk([&](linalg::GenericOp op) {
      if (isLinear(op))
        linears.push_back(op);
    });
    for (linalg::GenericOp op : linears)
      lowerLinear(op, vectorWidth, bf16DotRows);
  }
};
} // namespace
