//===- TiledExperts.cpp - fp32 grouped matmul on register tiles -----------===//
//
// The fp32 grouped matmul for targets with vector registers. At compile
// time each expert's [N, K] weight is re-laid out into panels: for every
// group of `lanes` output columns, K rows of `lanes` contiguous floats
// ([E, N/lanes, K, lanes], N padded with zero columns to a whole number of
// 64-column tiles). A token row then multiplies a panel with one broadcast
// and one vector load per k, for decode (one row per expert, a streaming
// read of the panels) and prefill (register tiles of several rows) alike;
// nothing is packed at run time and no horizontal sums are needed.
//
// Parallel iterations are (64-column tile, expert) pairs, tile-major, so
// every chunk the runtime hands a thread holds an equal share of each
// expert's work however few experts the tokens chose. Within one, the
// expert's rows sweep the tile in register tiles (emitTiledProduct).
//
//===----------------------------------------------------------------------===//

#include "targets/cpu/GroupedMatmul.h"
#include "targets/cpu/RegisterTile.h"

#include "dialects/moe/IR/MoeDialect.h"
#include "dialects/moe/IR/WeightFiles.h"
#include "moec/Support/WeightStore.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Parallel.h"

using namespace mlir;
using namespace moec;

/// Output columns of one parallel iteration.
static constexpr int64_t kTileColumns = 64;

static int64_t paddedColumns(int64_t n) {
  return (n + kTileColumns - 1) / kTileColumns * kTileColumns;
}

/// Re-lays [E, N, K] floats out as [E, Np / lanes, K, lanes].
static std::vector<uint8_t> packPanels(const float *source, int64_t experts,
                                       int64_t n, int64_t k, int64_t lanes) {
  int64_t panels = paddedColumns(n) / lanes;
  std::vector<uint8_t> bytes(size_t(experts * panels * k * lanes) * 4, 0);
  auto *packed = reinterpret_cast<float *>(bytes.data());
  llvm::parallelFor(0, size_t(experts), [&](size_t e) {
    for (int64_t p = 0; p < panels; ++p) {
      float *panel = packed + (e * panels + p) * k * lanes;
      for (int64_t l = 0; l < lanes && p * lanes + l < n; ++l) {
        const float *row = source + (e * n + p * lanes + l) * k;
        for (int64_t kk = 0; kk < k; ++kk)
          panel[kk * lanes + l] = row[kk];
      }
    }
  });
  return bytes;
}

/// The panel layout of an fp32 [E, N, K] weight that is a moe.weight or a
/// constant, as a new moe.weight; null when the weight is neither.
static FailureOr<Value> packWeight(LoopBuilder &b, Value weight, int64_t lanes,
                                   Operation *user) {
  auto type = cast<RankedTensorType>(weight.getType());
  int64_t experts = type.getDimSize(0), n = type.getDimSize(1),
          k = type.getDimSize(2);
  WeightStore &store =
      b.getContext()->getOrLoadDialect<moe::MoeDialect>()->getWeightStore();
  std::vector<uint8_t> bytes;
  std::string keyHint;
  if (auto source = weight.getDefiningOp<moe::WeightOp>()) {
    FailureOr<WeightView> view = moe::lookupWeight(source, user);
    if (failed(view))
      return failure();
    if (view->dtype != rt::DType::F32 ||
        view->bytes.size() != size_t(experts * n * k) * 4)
      return user->emitOpError("weight '")
             << source.getKey() << "' does not hold the f32 [E, N, K] "
             << "elements its type declares";
    bytes = packPanels(reinterpret_cast<const float *>(view->bytes.data()),
                       experts, n, k, lanes);
    keyHint = (source.getKey() + ".panels").str();
  } else if (auto constant = weight.getDefiningOp<arith::ConstantOp>()) {
    auto dense = dyn_cast<DenseElementsAttr>(constant.getValue());
    if (!dense)
      return Value();
    std::vector<float> values(dense.value_begin<float>(),
                              dense.value_end<float>());
    bytes = packPanels(values.data(), experts, n, k, lanes);
    keyHint = "constant.panels";
  } else {
    return Value();
  }
  SmallVector<int64_t> shape = {experts, paddedColumns(n) / lanes, k, lanes};
  std::string key =
      store.addBlob(keyHint, rt::DType::F32, shape, std::move(bytes));
  auto packed = moe::WeightOp::create(
      b, RankedTensorType::get(shape, b.getF32Type()), key);
  if (Operation *source = weight.getDefiningOp())
    if (Attribute fraction = source->getAttr("moec.routed_fraction"))
      packed->setAttr("moec.routed_fraction", fraction);
  return Value(packed);
}

/// True when the tiled lowering applies: fp32 rows, weight, bias and output.
static bool isTileable(moe::GroupedMatmulOp op) {
  auto f32 = [](Value v) {
    return !v || (isa<RankedTensorType>(v.getType()) &&
                  cast<RankedTensorType>(v.getType()).getElementType().isF32());
  };
  return f32(op.getRows()) && f32(op.getWeight()) && f32(op.getBias()) &&
         f32(op.getOutput());
}

FailureOr<bool> cpu::lowerGroupedMatmulToTiles(RewriterBase &rewriter,
                                               moe::GroupedMatmulOp op,
                                               const TileShape &shape) {
  if (!isTileable(op) || kTileColumns % shape.columns() != 0)
    return false;
  LoopBuilder b(op);
  FailureOr<Value> packed = packWeight(b, op.getWeight(), shape.lanes, op);
  if (failed(packed))
    return failure();
  if (!*packed)
    return false;
  auto weightType = cast<RankedTensorType>(op.getWeight().getType());
  int64_t numExperts = weightType.getDimSize(0);
  int64_t outFeatures = weightType.getDimSize(1);
  int64_t inFeatures = weightType.getDimSize(2);
  int64_t tiles = paddedColumns(outFeatures) / kTileColumns;

  Value weight = b.read(*packed);
  Value rows = b.read(op.getRows());
  Value offsets = b.read(op.getOffsets());
  Value bias = op.getBias() ? b.read(op.getBias()) : Value();
  Value numRows = b.dim(rows, 0);
  Value output = b.alloc(op.getOutput().getType(), {numRows});
  Value n = b.index(outFeatures);
  Value k = b.index(inFeatures);
  auto vectorType = VectorType::get({shape.lanes}, b.getF32Type());
  Value zero = arith::ConstantOp::create(
      b, vectorType, DenseElementsAttr::get(vectorType, 0.0f));

  b.parallelLoop(b.index(0), b.index(numExperts * tiles), [&](Value task) {
    GroupedMatmulTask at = groupedMatmulTask(b, task, numExperts, offsets);
    Value e = at.expert, tile = at.tile, lo = at.lo, hi = at.hi;
    Value hasRows = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, lo, hi);
    auto ifRows = scf::IfOp::create(b, hasRows, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifRows.thenBlock()->getTerminator());
    TiledProduct product;
    product.rowBegin = lo;
    product.rowEnd = hi;
    product.depth = k;
    product.col0 = arith::MulIOp::create(b, tile, b.index(kTileColumns));
    product.width = kTileColumns;
    product.columnLimit = n;
    product.output = output;
    auto loadA = [&](Value row, Value kk) { return b.load(rows, {row, kk}); };
    auto loadB = [&](Value col, Value kk, Value) -> Value {
      Value panel = arith::DivUIOp::create(b, col, b.index(shape.lanes));
      return vector::LoadOp::create(b, vectorType, weight,
                                    {e, panel, kk, b.index(0)});
    };
    auto initial = [&](Value, Value col, Value mask) -> Value {
      if (!bias)
        return zero;
      return vector::MaskedLoadOp::create(b, vectorType, bias, {e, col}, mask,
                                          zero);
    };
    product.loadA = loadA;
    product.loadB = loadB;
    product.initial = initial;
    emitTiledProduct(b, shape, product);
  });
  zeroUnroutedRows(b, offsets, numExperts, output);
  rewriter.replaceOp(op, b.result(output));
  return true;
}
