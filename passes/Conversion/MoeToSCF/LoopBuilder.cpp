//===- LoopBuilder.cpp - Loop-nest code for the moe ops -------------------===//

#include "moec/Conversion/LoopBuilder.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace moec;

LoopBuilder::LoopBuilder(Operation *op, int64_t alignment)
    : ImplicitLocOpBuilder(op->getLoc(), op), alignment(alignment) {}

Value LoopBuilder::read(Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  auto memrefType = MemRefType::get(type.getShape(), type.getElementType());
  return bufferization::ToBufferOp::create(*this, memrefType, tensor,
                                           /*read_only=*/true);
}

Value LoopBuilder::alloc(RankedTensorType type, ValueRange sizes) {
  auto memrefType = MemRefType::get(type.getShape(), type.getElementType());
  SmallVector<Value> dynSizes;
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (type.isDynamicDim(d)) {
      assert(d < int64_t(sizes.size()) && sizes[d] && "missing dynamic size");
      dynSizes.push_back(sizes[d]);
    }
  return memref::AllocOp::create(*this, memrefType, dynSizes,
                                 getI64IntegerAttr(alignment));
}

Value LoopBuilder::allocFilled(RankedTensorType type, Value value) {
  Value buffer = alloc(type, {});
  SmallVector<Value> ubs;
  for (int64_t d = 0; d < type.getRank(); ++d)
    ubs.push_back(dim(buffer, d));
  SmallVector<Value> zeros(type.getRank(), index(0));
  SmallVector<Value> ones(type.getRank(), index(1));
  scf::ParallelOp::create(*this, zeros, ubs, ones,
                          [&](OpBuilder &b, Location loc, ValueRange ivs) {
                            memref::StoreOp::create(b, loc, value, buffer, ivs);
                          });
  return buffer;
}

Value LoopBuilder::result(Value buffer) {
  auto type = cast<MemRefType>(buffer.getType());
  return bufferization::ToTensorOp::create(
      *this, RankedTensorType::get(type.getShape(), type.getElementType()),
      buffer, /*restrict=*/true, /*writable=*/true);
}

Value LoopBuilder::index(int64_t value) {
  return arith::ConstantIndexOp::create(*this, value);
}

Value LoopBuilder::i32(int64_t value) {
  return arith::ConstantIntOp::create(*this, value, 32);
}

Value LoopBuilder::floatConst(Type type, double value) {
  auto floatType = cast<FloatType>(type);
  APFloat converted(value);
  bool losesInfo;
  converted.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven,
                    &losesInfo);
  return arith::ConstantFloatOp::create(*this, floatType, converted);
}

Value LoopBuilder::dim(Value shaped, int64_t d) {
  if (isa<MemRefType>(shaped.getType()))
    return memref::DimOp::create(*this, shaped, d);
  return arith::ConstantIndexOp::create(
      *this, cast<ShapedType>(shaped.getType()).getDimSize(d));
}

Value LoopBuilder::load(Value buffer, ValueRange indices) {
  return memref::LoadOp::create(*this, buffer, indices);
}

void LoopBuilder::store(Value value, Value buffer, ValueRange indices) {
  memref::StoreOp::create(*this, value, buffer, indices);
}

Value LoopBuilder::loadIndex(Value buffer, ValueRange indices) {
  return toIndex(load(buffer, indices));
}

Value LoopBuilder::toIndex(Value integer) {
  return arith::IndexCastOp::create(*this, getIndexType(), integer);
}

Value LoopBuilder::inRange(Value value, Value lower, Value upper) {
  return arith::AndIOp::create(
      *this,
      arith::CmpIOp::create(*this, arith::CmpIPredicate::sge, value, lower),
      arith::CmpIOp::create(*this, arith::CmpIPredicate::slt, value, upper));
}

Value LoopBuilder::toFloat(Value value, Type type) {
  Type from = value.getType();
  if (from == type)
    return value;
  if (from.isInteger())
    return arith::SIToFPOp::create(*this, type, value);
  if (from.getIntOrFloatBitWidth() < type.getIntOrFloatBitWidth())
    return arith::ExtFOp::create(*this, type, value);
  return arith::TruncFOp::create(*this, type, value);
}

arith::FastMathFlagsAttr LoopBuilder::reassoc() {
  return arith::FastMathFlagsAttr::get(getContext(),
                                       arith::FastMathFlags::reassoc |
                                           arith::FastMathFlags::contract);
}

void LoopBuilder::forLoop(Value lb, Value ub, Body body) {
  auto loop = scf::ForOp::create(*this, lb, ub, index(1));
  InsertionGuard guard(*this);
  setInsertionPoint(loop.getBody()->getTerminator());
  body(loop.getInductionVar());
}

Value LoopBuilder::reduce(Value lb, Value ub, Value init,
                          function_ref<Value(Value, Value)> body) {
  auto loop = scf::ForOp::create(*this, lb, ub, index(1), ValueRange{init});
  InsertionGuard guard(*this);
  setInsertionPointToStart(loop.getBody());
  Value next = body(loop.getInductionVar(), loop.getRegionIterArgs()[0]);
  scf::YieldOp::create(*this, next);
  return loop.getResult(0);
}

void LoopBuilder::parallelLoop(Value lb, Value ub, Body body) {
  auto loop = scf::ParallelOp::create(*this, ValueRange{lb}, ValueRange{ub},
                                      ValueRange{index(1)});
  InsertionGuard guard(*this);
  setInsertionPoint(loop.getBody()->getTerminator());
  body(loop.getInductionVars()[0]);
}

void LoopBuilder::ifThen(Value cond, function_ref<void()> then) {
  auto ifOp = scf::IfOp::create(*this, cond, /*withElseRegion=*/false);
  InsertionGuard guard(*this);
  setInsertionPoint(ifOp.thenBlock()->getTerminator());
  then();
}

Value LoopBuilder::sigmoid(Value x) {
  Type type = x.getType();
  Value one = floatConst(type, 1.0);
  Value negated = arith::NegFOp::create(*this, x);
  Value denom =
      arith::AddFOp::create(*this, one, math::ExpOp::create(*this, negated));
  return arith::DivFOp::create(*this, one, denom);
}
