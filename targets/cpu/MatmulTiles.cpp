//===- MatmulTiles.cpp - fp32 linalg.matmul on register tiles -------------===//
//
// Dense fp32 matmuls (the router's logits, shared experts, dense MLPs) on
// the same register tiles as the experts. B is [K, N] row-major, so each k
// row already holds the columns of a tile side by side: no packing. The
// parallel iterations are (24-row block, tile of columns) pairs.
//
//===----------------------------------------------------------------------===//

#include "targets/cpu/Passes.h"
#include "targets/cpu/RegisterTile.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace moec::cpu {
#define GEN_PASS_DEF_CPUMATMULTOTILES
#include "targets/cpu/Passes.h.inc"
} // namespace moec::cpu

using namespace mlir;
using namespace moec;

/// Register tiles each parallel iteration sweeps down the rows.
static constexpr int64_t kTilesPerTask = 4;

/// A matmul this lowering takes: fp32 tensors, the default indexing maps,
/// A [M, K], B [K, N] with K and N static.
static bool isTileable(linalg::MatmulOp op) {
  if (!op.hasPureTensorSemantics() || op.hasUserDefinedMaps())
    return false;
  for (Value operand : op->getOperands()) {
    auto type = dyn_cast<RankedTensorType>(operand.getType());
    if (!type || type.getRank() != 2 || !type.getElementType().isF32())
      return false;
  }
  auto rhs = cast<RankedTensorType>(op.getDpsInputs()[1].getType());
  return rhs.hasStaticShape();
}

static void lowerMatmul(linalg::MatmulOp op, const TileShape &shape) {
  LoopBuilder b(op);
  auto rhsType = cast<RankedTensorType>(op.getDpsInputs()[1].getType());
  int64_t k = rhsType.getDimSize(0), n = rhsType.getDimSize(1);
  Value lhs = b.read(op.getDpsInputs()[0]);
  Value rhs = b.read(op.getDpsInputs()[1]);
  Value init = b.read(op.getDpsInits()[0]);
  Value m = b.dim(lhs, 0);
  Value output =
      b.alloc(cast<RankedTensorType>(op->getResult(0).getType()), {m});
  auto vectorType = VectorType::get({shape.lanes}, b.getF32Type());
  Value zero = arith::ConstantOp::create(
      b, vectorType, DenseElementsAttr::get(vectorType, 0.0f));
  int64_t columnTiles = (n + shape.columns() - 1) / shape.columns();
  int64_t taskRows = shape.rows * kTilesPerTask;
  Value rowTasks = arith::DivUIOp::create(
      b, arith::AddIOp::create(b, m, b.index(taskRows - 1)), b.index(taskRows));
  Value tasks = arith::MulIOp::create(b, rowTasks, b.index(columnTiles));
  b.parallelLoop(b.index(0), tasks, [&](Value task) {
    Value rowTask = arith::DivUIOp::create(b, task, b.index(columnTiles));
    Value columnTile = arith::RemUIOp::create(b, task, b.index(columnTiles));
    TiledProduct product;
    product.rowBegin = arith::MulIOp::create(b, rowTask, b.index(taskRows));
    product.rowEnd = arith::MinUIOp::create(
        b, arith::AddIOp::create(b, product.rowBegin, b.index(taskRows)), m);
    product.depth = b.index(k);
    product.col0 =
        arith::MulIOp::create(b, columnTile, b.index(shape.columns()));
    product.width = shape.columns();
    product.columnLimit = b.index(n);
    product.output = output;
    auto loadA = [&](Value row, Value kk) { return b.load(lhs, {row, kk}); };
    auto loadB = [&](Value col, Value kk, Value mask) -> Value {
      return vector::MaskedLoadOp::create(b, vectorType, rhs, {kk, col}, mask,
                                          zero);
    };
    auto initial = [&](Value row, Value col, Value mask) -> Value {
      return vector::MaskedLoadOp::create(b, vectorType, init, {row, col}, mask,
                                          zero);
    };
    product.loadA = loadA;
    product.loadB = loadB;
    product.initial = initial;
    emitTiledProduct(b, shape, product);
  });
  op->getResult(0).replaceAllUsesWith(b.result(output));
  op.erase();
}

namespace {
struct CpuMatmulToTilesPass
    : public moec::cpu::impl::CpuMatmulToTilesBase<CpuMatmulToTilesPass> {
  using Base::Base;

  void runOnOperation() override {
    TileShape shape{vectorWidth, tilePanels, tileRows, tileDepth};
    if (vectorWidth < 1 || tileRows < 1 || tilePanels < 1 || tileDepth < 1) {
      getOperation().emitError(
          "cpu-matmul-to-tiles: the tile sizes must be positive");
      return signalPassFailure();
    }
    SmallVector<linalg::MatmulOp> matmuls;
    getOperation().walk([&](linalg::MatmulOp op) {
      if (isTileable(op))
        matmuls.push_back(op);
    });
    for (linalg::MatmulOp op : matmuls)
      lowerMatmul(op, shape);
  }
};
} // namespace
