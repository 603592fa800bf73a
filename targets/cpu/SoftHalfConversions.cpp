//===- SoftHalfConversions.cpp - f16/bf16 conversions without libcalls ----===//
//
// cpu-soft-half-conversions (Passes.td): the f16 <-> f32 conversions of a
// CPU with no instruction for them, written as integer and f32 operations
// that vectorize, so that neither the kernels nor the binary depend on
// libgcc helpers the architecture's libgcc lacks.
//
//===----------------------------------------------------------------------===//

#include "targets/cpu/Passes.h"

#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace moec::cpu {
#define GEN_PASS_DEF_CPUSOFTHALFCONVERSIONS
#include "targets/cpu/Passes.h.inc"
} // namespace moec::cpu

using namespace mlir;

/// `like`'s shape (scalar or vector) with element type `element`.
static Type withElement(Type like, Type element) {
  if (auto vector = dyn_cast<VectorType>(like))
    return vector.clone(element);
  return element;
}

/// A constant of `type` (scalar or vector) with every element `value`.
static Value splatInt(OpBuilder &b, Location loc, Type type, uint32_t value) {
  Type element = getElementTypeOrSelf(type);
  auto attr = b.getIntegerAttr(element, value);
  if (auto vector = dyn_cast<VectorType>(type))
    return arith::ConstantOp::create(b, loc,
                                     DenseElementsAttr::get(vector, attr));
  return arith::ConstantOp::create(b, loc, attr);
}

static Value splatFloat(OpBuilder &b, Location loc, Type type, float value) {
  auto attr = b.getF32FloatAttr(value);
  if (auto vector = dyn_cast<VectorType>(type))
    return arith::ConstantOp::create(b, loc,
                                     DenseElementsAttr::get(vector, attr));
  return arith::ConstantOp::create(b, loc, attr);
}

namespace {
/// extf f16 -> f32 (then to a wider type when asked): the magnitude's
/// bits shifted into f32 position and scaled by 2^(127 - 15), exact for
/// normals and subnormals; an all-ones exponent stays all ones.
struct ExtendHalf : OpRewritePattern<arith::ExtFOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(arith::ExtFOp op,
                                PatternRewriter &rewriter) const override {
    Type source = op.getIn().getType();
    if (!getElementTypeOrSelf(source).isF16())
      return failure();
    Location loc = op.getLoc();
    Type i16 = withElement(source, rewriter.getI16Type());
    Type i32 = withElement(source, rewriter.getI32Type());
    Type f32 = withElement(source, rewriter.getF32Type());
    auto c = [&](uint32_t v) { return splatInt(rewriter, loc, i32, v); };
    Value h = arith::ExtUIOp::create(
        rewriter, loc, i32,
        arith::BitcastOp::create(rewriter, loc, i16, op.getIn()));
    Value sign = arith::ShLIOp::create(
        rewriter, loc, arith::AndIOp::create(rewriter, loc, h, c(0x8000)),
        c(16));
    Value magnitude = arith::ShLIOp::create(
        rewriter, loc, arith::AndIOp::create(rewriter, loc, h, c(0x7fff)),
        c(13));
    Value scaled = arith::MulFOp::create(
        rewriter, loc, arith::BitcastOp::create(rewriter, loc, f32, magnitude),
        splatFloat(rewriter, loc, f32, 0x1p112f));
    Value bits = arith::BitcastOp::create(rewriter, loc, i32, scaled);
    Value special = arith::CmpIOp::create(
        rewriter, loc, arith::CmpIPredicate::eq,
        arith::AndIOp::create(rewriter, loc, h, c(0x7c00)), c(0x7c00));
    bits = arith::SelectOp::create(
        rewriter, loc, special,
        arith::OrIOp::create(rewriter, loc, bits, c(0x7f800000)), bits);
    Value result = arith::BitcastOp::create(
        rewriter, loc, f32, arith::OrIOp::create(rewriter, loc, bits, sign));
    if (getElementTypeOrSelf(op.getType()).isF32())
      rewriter.replaceOp(op, result);
    else
      rewriter.replaceOpWithNewOp<arith::ExtFOp>(op, op.getType(), result);
    return success();
  }
};

/// truncf f32 -> f16, round to nearest even: adding a power of two that
/// puts the half's last mantissa bit at f32's last one lets the f32 adder
/// round (FP16 library, fp16_ieee_from_fp32_value).
struct TruncateToHalf : OpRewritePattern<arith::TruncFOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(arith::TruncFOp op,
                                PatternRewriter &rewriter) const override {
    Type source = op.getIn().getType();
    if (!getElementTypeOrSelf(op.getType()).isF16() ||
        !getElementTypeOrSelf(source).isF32())
      return failure();
    if (op.getRoundingmode() &&
        *op.getRoundingmode() != arith::RoundingMode::to_nearest_even)
      return failure();
    Location loc = op.getLoc();
    Type i32 = withElement(source, rewriter.getI32Type());
    Type i16 = withElement(source, rewriter.getI16Type());
    auto c = [&](uint32_t v) { return splatInt(rewriter, loc, i32, v); };
    Value f = op.getIn();
    // |f| scaled up and back down: overflows to infinity past the half's
    // range, and keeps the bits a half can hold.
    Value base = arith::MulFOp::create(
        rewriter, loc,
        arith::MulFOp::create(rewriter, loc,
                              math::AbsFOp::create(rewriter, loc, f),
                              splatFloat(rewriter, loc, source, 0x1p112f)),
        splatFloat(rewriter, loc, source, 0x1p-110f));
    Value w = arith::BitcastOp::create(rewriter, loc, i32, f);
    Value shl1 = arith::AddIOp::create(rewriter, loc, w, w);
    Value sign = arith::AndIOp::create(rewriter, loc, w, c(0x80000000));
    Value bias = arith::MaxUIOp::create(
        rewriter, loc,
        arith::AndIOp::create(rewriter, loc, shl1, c(0xff000000)),
        c(0x71000000));
    Value rounder = arith::BitcastOp::create(
        rewriter, loc, source,
        arith::AddIOp::create(rewriter, loc,
                              arith::ShRUIOp::create(rewriter, loc, bias, c(1)),
                              c(0x07800000)));
    Value bits = arith::BitcastOp::create(
        rewriter, loc, i32,
        arith::AddFOp::create(rewriter, loc, rounder, base));
    Value exponent = arith::AndIOp::create(
        rewriter, loc, arith::ShRUIOp::create(rewriter, loc, bits, c(13)),
        c(0x7c00));
    Value mantissa = arith::AndIOp::create(rewriter, loc, bits, c(0x0fff));
    Value nonsign = arith::AddIOp::create(rewriter, loc, exponent, mantissa);
    Value isNan = arith::CmpIOp::create(
        rewriter, loc, arith::CmpIPredicate::ugt, shl1, c(0xff000000));
    Value half = arith::OrIOp::create(
        rewriter, loc, arith::ShRUIOp::create(rewriter, loc, sign, c(16)),
        arith::SelectOp::create(rewriter, loc, isNan, c(0x7e00), nonsign));
    rewriter.replaceOpWithNewOp<arith::BitcastOp>(
        op, op.getType(), arith::TruncIOp::create(rewriter, loc, i16, half));
    return success();
  }
};

struct CpuSoftHalfConversionsPass
    : public moec::cpu::impl::CpuSoftHalfConversionsBase<
          CpuSoftHalfConversionsPass> {
  using Base::Base;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    if (f16)
      patterns.add<ExtendHalf, TruncateToHalf>(&getContext());
    if (bf16)
      arith::populateExpandBFloat16Patterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
