//===- RegisterTile.cpp - Register-blocked f32 matmul tiles ---------------===//

#include "targets/cpu/RegisterTile.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace moec;

SmallVector<Value>
moec::emitRegisterTile(LoopBuilder &b, const TileShape &shape, int64_t rows,
                       Value k0, Value k1, ValueRange init,
                       function_ref<Value(int64_t, Value)> loadA,
                       function_ref<Value(int64_t, Value)> loadB) {
  assert(int64_t(init.size()) == rows * shape.panels && "one init per acc");
  auto vectorType = VectorType::get({shape.lanes}, b.getF32Type());
  auto loop = scf::ForOp::create(b, k0, k1, b.index(1), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value k = loop.getInductionVar();
    SmallVector<Value> panels;
    for (int64_t j = 0; j < shape.panels; ++j)
      panels.push_back(loadB(j, k));
    SmallVector<Value> next;
    for (int64_t i = 0; i < rows; ++i) {
      Value a = vector::BroadcastOp::create(b, vectorType, loadA(i, k));
      for (int64_t j = 0; j < shape.panels; ++j)
        next.push_back(vector::FMAOp::create(
            b, a, panels[j], loop.getRegionIterArgs()[i * shape.panels + j]));
    }
    scf::YieldOp::create(b, next);
  }
  return SmallVector<Value>(loop.getResults());
}

void moec::forEachRowBlock(LoopBuilder &b, const TileShape &shape, Value lo,
                           Value hi, function_ref<void(int64_t, Value)> body) {
  Value count = arith::SubIOp::create(b, hi, lo);
  Value blockRows = b.index(shape.rows);
  Value fullEnd = arith::AddIOp::create(
      b, lo,
      arith::MulIOp::create(b, arith::DivUIOp::create(b, count, blockRows),
                            blockRows));
  auto loop = scf::ForOp::create(b, lo, fullEnd, blockRows);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    body(shape.rows, loop.getInductionVar());
  }
  // The remainder, largest block first: rows 4, 2, 1 of a 6-row tile.
  Value remainder = arith::SubIOp::create(b, hi, fullEnd);
  Value next = fullEnd;
  int64_t block = 1;
  while (block * 2 < shape.rows)
    block *= 2;
  for (; block >= 1; block /= 2) {
    Value bit = arith::AndIOp::create(b, remainder, b.index(block));
    Value has =
        arith::CmpIOp::create(b, arith::CmpIPredicate::ne, bit, b.index(0));
    Value first = next;
    b.ifThen(has, [&] { body(block, first); });
    next = arith::AddIOp::create(b, next, bit);
  }
}

Value moec::columnMask(LoopBuilder &b, int64_t lanes, Value col0, Value limit) {
  Value valid = arith::SubIOp::create(b, limit, col0);
  valid = arith::MaxSIOp::create(
      b, arith::MinSIOp::create(b, valid, b.index(lanes)), b.index(0));
  return vector::CreateMaskOp::create(
      b, VectorType::get({lanes}, b.getI1Type()), ValueRange{valid});
}

void moec::emitTiledProduct(LoopBuilder &b, const TileShape &shape,
                            const TiledProduct &p) {
  auto vectorType = VectorType::get({shape.lanes}, b.getF32Type());
  Value zero = arith::ConstantOp::create(
      b, vectorType, DenseElementsAttr::get(vectorType, 0.0f));
  auto depthLoop =
      scf::ForOp::create(b, b.index(0), p.depth, b.index(shape.depth));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(depthLoop.getBody()->getTerminator());
  Value k0 = depthLoop.getInductionVar();
  Value k1 = arith::MinUIOp::create(
      b, arith::AddIOp::create(b, k0, b.index(shape.depth)), p.depth);
  Value firstBlock =
      arith::CmpIOp::create(b, arith::CmpIPredicate::eq, k0, b.index(0));
  b.forLoop(b.index(0), b.index(p.width / shape.columns()), [&](Value sub) {
    Value first = arith::AddIOp::create(
        b, p.col0, arith::MulIOp::create(b, sub, b.index(shape.columns())));
    SmallVector<Value> cols, masks;
    for (int64_t j = 0; j < shape.panels; ++j) {
      cols.push_back(arith::AddIOp::create(b, first, b.index(j * shape.lanes)));
      masks.push_back(columnMask(b, shape.lanes, cols.back(), p.columnLimit));
    }
    forEachRowBlock(
        b, shape, p.rowBegin, p.rowEnd, [&](int64_t rows, Value r0) {
          SmallVector<Value> rowIndex;
          for (int64_t i = 0; i < rows; ++i)
            rowIndex.push_back(arith::AddIOp::create(b, r0, b.index(i)));
          // Each k block sums from zero, then adds its sums to `initial`
          // (first block) or to what the blocks before it stored: blocked
          // summation, whose rounding error grows with the block length
          // rather than with K.
          SmallVector<Value> zeros(rows * shape.panels, zero);
          SmallVector<Value> sums = emitRegisterTile(
              b, shape, rows, k0, k1, zeros,
              [&](int64_t i, Value k) { return p.loadA(rowIndex[i], k); },
              [&](int64_t j, Value k) {
                return p.loadB(cols[j], k, masks[j]);
              });
          SmallVector<Type> accTypes(rows * shape.panels, vectorType);
          auto base = scf::IfOp::create(b, accTypes, firstBlock,
                                        /*withElseRegion=*/true);
          {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPointToStart(base.thenBlock());
            SmallVector<Value> fresh, partial;
            for (int64_t i = 0; i < rows; ++i)
              for (int64_t j = 0; j < shape.panels; ++j)
                fresh.push_back(p.initial(rowIndex[i], cols[j], masks[j]));
            scf::YieldOp::create(b, fresh);
            b.setInsertionPointToStart(base.elseBlock());
            for (int64_t i = 0; i < rows; ++i)
              for (int64_t j = 0; j < shape.panels; ++j)
                partial.push_back(vector::MaskedLoadOp::create(
                    b, vectorType, p.output, {rowIndex[i], cols[j]}, masks[j],
                    zero));
            scf::YieldOp::create(b, partial);
          }
          for (auto [sum, start] : llvm::zip(sums, base.getResults()))
            sum = arith::AddFOp::create(b, sum, start);
          for (int64_t i = 0; i < rows; ++i)
            for (int64_t j = 0; j < shape.panels; ++j)
              vector::MaskedStoreOp::create(b, p.output, {rowIndex[i], cols[j]},
                                            masks[j],
                                            sums[i * shape.panels + j]);
        });
  });
}
