//===- LinearDots.cpp - Dense layers with [N, K] weights as dot products --===//
//
// y[t, o] = init[t, o] + sum_k x[t, k] * W[o, k] with W in torch's layout,
// as the checkpoint importer writes every dense layer. Each row of W is
// contiguous in k, so every result is a dot product: vectors along k, 4
// rows of W by 4 tokens of x per pass (16 accumulators), each weight read
// once per pass in its own dtype and widened in registers.
//
//===----------------------------------------------------------------------===//

#include "targets/cpu/Passes.h"

#include "moec/Conversion/LoopBuilder.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace moec::cpu {
#define GEN_PASS_DEF_CPULINEARTODOTS
#include "targets/cpu/Passes.h.inc"
} // namespace moec::cpu

using namespace mlir;
using namespace moec;

/// Rows of W and tokens of x per pass; rows of W per parallel iteration.
static constexpr int64_t kRows = 4, kTokens = 4, kRowsPerTask = 16;

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

namespace {
/// The code of one lowering: operands as buffers, the vector types.
struct DotEmitter {
  LoopBuilder &b;
  Value x, w, init, output;
  int64_t lanes, depth;
  VectorType f32Vector, wVector;
  Value zero;

  /// Sums rows [o, o + rows) of W against tokens [t, t + tokens) of x
  /// into output[t + c, o + r] = init[t + c, o + r] + the dot product.
  void emit(Value o, int64_t rows, Value t, int64_t tokens) {
    SmallVector<Value> rowIndex, tokenIndex;
    for (int64_t r = 0; r < rows; ++r)
      rowIndex.push_back(arith::AddIOp::create(b, o, b.index(r)));
    for (int64_t c = 0; c < tokens; ++c)
      tokenIndex.push_back(arith::AddIOp::create(b, t, b.index(c)));
    SmallVector<Value> accs(rows * tokens, zero);
    // One step of `lanes` k values (masked for the last partial one).
    auto step = [&](Value k, Value mask, ValueRange in) {
      SmallVector<Value> ws, xs, out;
      for (int64_t r = 0; r < rows; ++r) {
        Value v = mask ? vector::MaskedLoadOp::create(
                             b, wVector, w, {rowIndex[r], k}, mask, zeroW())
                             .getResult()
                       : vector::LoadOp::create(b, wVector, w, {rowIndex[r], k})
                             .getResult();
        ws.push_back(wVector == f32Vector
                         ? v
                         : arith::ExtFOp::create(b, f32Vector, v).getResult());
      }
      for (int64_t c = 0; c < tokens; ++c)
        xs.push_back(
            mask ? vector::MaskedLoadOp::create(b, f32Vector, x,
                                                {tokenIndex[c], k}, mask, zero)
                       .getResult()
                 : vector::LoadOp::create(b, f32Vector, x, {tokenIndex[c], k})
                       .getResult());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < tokens; ++c)
          out.push_back(
              vector::FMAOp::create(b, ws[r], xs[c], in[r * tokens + c]));
      return out;
    };
    int64_t full = depth / lanes * lanes;
    if (full > 0) {
      auto loop = scf::ForOp::create(b, b.index(0), b.index(full),
                                     b.index(lanes), accs);
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(loop.getBody());
        scf::YieldOp::create(
            b, step(loop.getInductionVar(), Value(), loop.getRegionIterArgs()));
      }
      accs.assign(loop.getResults().begin(), loop.getResults().end());
    }
    if (full < depth) {
      auto maskType = VectorType::get({lanes}, b.getI1Type());
      Value mask = vector::ConstantMaskOp::create(
          b, maskType, ArrayRef<int64_t>{depth - full});
      accs = step(b.index(full), mask, accs);
    }
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < tokens; ++c) {
        // The lanes' partial sums, added in any order (a tree).
        Value sum = vector::ReductionOp::create(b, vector::CombiningKind::ADD,
                                                accs[r * tokens + c],
                                                arith::FastMathFlags::reassoc);
        Value start = b.load(init, {tokenIndex[c], rowIndex[r]});
        b.store(arith::AddFOp::create(b, start, sum), output,
                {tokenIndex[c], rowIndex[r]});
      }
  }

  Value zeroW() {
    return arith::ConstantOp::create(
        b, wVector,
        DenseElementsAttr::get(wVector,
                               FloatAttr::get(wVector.getElementType(), 0.0)));
  }

  /// Every token against rows [o, o + rows): blocks of kTokens, then one
  /// at a time.
  void allTokens(Value o, int64_t rows, Value m) {
    Value blocks = arith::DivUIOp::create(b, m, b.index(kTokens));
    b.forLoop(b.index(0), blocks, [&](Value block) {
      emit(o, rows, arith::MulIOp::create(b, block, b.index(kTokens)), kTokens);
    });
    b.forLoop(arith::MulIOp::create(b, blocks, b.index(kTokens)), m,
              [&](Value t) { emit(o, rows, t, 1); });
  }
};
} // namespace

static void lowerLinear(linalg::GenericOp op, int64_t lanes) {
  LoopBuilder b(op);
  auto wType = cast<RankedTensorType>(op.getDpsInputs()[1].getType());
  int64_t n = wType.getDimSize(0), k = wType.getDimSize(1);
  DotEmitter e{b};
  e.x = b.read(op.getDpsInputs()[0]);
  e.w = b.read(op.getDpsInputs()[1]);
  e.init = b.read(op.getDpsInits()[0]);
  Value m = b.dim(e.x, 0);
  e.output = b.alloc(cast<RankedTensorType>(op->getResult(0).getType()), {m});
  e.lanes = lanes;
  e.depth = k;
  e.f32Vector = VectorType::get({lanes}, b.getF32Type());
  e.wVector = VectorType::get({lanes}, wType.getElementType());
  e.zero = arith::ConstantOp::create(b, e.f32Vector,
                                     DenseElementsAttr::get(e.f32Vector, 0.0f));
  int64_t tasks = (n + kRowsPerTask - 1) / kRowsPerTask;
  b.parallelLoop(b.index(0), b.index(tasks), [&](Value task) {
    Value begin = arith::MulIOp::create(b, task, b.index(kRowsPerTask));
    Value end = arith::MinUIOp::create(
        b, arith::AddIOp::create(b, begin, b.index(kRowsPerTask)), b.index(n));
    // Groups of kRows rows, then the rest one at a time.
    Value span = arith::SubIOp::create(b, end, begin);
    Value groups = arith::DivUIOp::create(b, span, b.index(kRows));
    b.forLoop(b.index(0), groups, [&](Value group) {
      e.allTokens(
          arith::AddIOp::create(
              b, begin, arith::MulIOp::create(b, group, b.index(kRows))),
          kRows, m);
    });
    Value rest = arith::AddIOp::create(
        b, begin, arith::MulIOp::create(b, groups, b.index(kRows)));
    b.forLoop(rest, end, [&](Value o) { e.allTokens(o, 1, m); });
  });
  op->getResult(0).replaceAllUsesWith(b.result(e.output));
  op.erase();
}

namespace {
struct CpuLinearToDotsPass
    : public moec::cpu::impl::CpuLinearToDotsBase<CpuLinearToDotsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (vectorWidth < 1) {
      getOperation().emitError(
          "cpu-linear-to-dots: the vector width must be positive");
      return signalPassFailure();
    }
    SmallVector<linalg::GenericOp> linears;
    getOperation().walk([&](linalg::GenericOp op) {
      if (isLinear(op))
        linears.push_back(op);
    });
    for (linalg::GenericOp op : linears)
      lowerLinear(op, vectorWidth);
  }
};
} // namespace
