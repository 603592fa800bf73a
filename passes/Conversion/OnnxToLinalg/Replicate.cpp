//===- Replicate.cpp - Expand and Tile to linalg --------------------------===//
//
// Expand broadcasts its input to a shape and Tile repeats it along each
// dimension; both take the target as a tensor that exporters often compute
// at run time (torch writes index_add_ with Expand(x, Shape(...)) and
// repeat() with Tile). Entries known at compile time give static extents;
// the others are checked at run time, and a run-time extent of 1 in
// Expand's input broadcasts as ONNX says rather than being assumed away.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/OnnxToLinalg/NodeLowering.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace moec;
using namespace moec::onnx_lowering;

namespace {
/// How Expand reads one input dimension for one result dimension.
struct ExpandDim {
  OpFoldResult size;
  /// The input's dimension, or -1 when the input has none here.
  int64_t inputDim = -1;
  /// Always 0 (a static 1 broadcast).
  bool broadcast = false;
  /// 0 when this run-time condition holds (a run-time 1 broadcast).
  Value broadcastIf;
};
} // namespace

/// One result dimension of Expand from the input's extent `a` and the shape
/// entry `t` (either may be absent); emits the checks it needs.
static FailureOr<ExpandDim> expandDim(NodeLowering &node, Value input,
                                      int64_t inputDim, OpFoldResult t,
                                      int64_t d) {
  OpBuilder &b = node.b;
  Location loc = node.loc;
  using P = arith::CmpIPredicate;
  ExpandDim result;
  result.inputDim = inputDim;
  std::optional<int64_t> st = t ? getConstantIntValue(t) : std::nullopt;
  if (st && *st < 0)
    return node.error() << "has negative shape entry " << *st, failure();
  if (t && !st &&
      failed(node.requireAtRunTime(
          compareIndex(b, loc, P::sge, t, b.getIndexAttr(0)),
          "has a negative shape entry at run time")))
    return failure();
  if (inputDim < 0) {
    result.size = t;
    return result;
  }
  OpFoldResult a = getResolvedSize(b, loc, input, inputDim);
  std::optional<int64_t> sa = getConstantIntValue(a);
  if (!t || st == 1) {
    result.size = a;
    return result;
  }
  if (sa == 1) {
    result.size = t;
    result.broadcast = true;
    return result;
  }
  if (sa && st) {
    if (*sa != *st)
      return node.error() << "cannot expand dimension " << d << " of size "
                          << *sa << " to " << *st,
             failure();
    result.size = a;
    return result;
  }
  Value aValue = getValueOrCreateConstantIndexOp(b, loc, a);
  Value tValue = getValueOrCreateConstantIndexOp(b, loc, t);
  Value same = b.createOrFold<arith::CmpIOp>(loc, P::eq, aValue, tValue);
  Value tIsOne = compareIndex(b, loc, P::eq, t, b.getIndexAttr(1));
  Value aIsOne = compareIndex(b, loc, P::eq, a, b.getIndexAttr(1));
  Value fits = b.createOrFold<arith::OrIOp>(
      loc, same, b.createOrFold<arith::OrIOp>(loc, tIsOne, aIsOne));
  if (failed(node.requireAtRunTime(
          fits, "cannot expand dimension " + Twine(d) +
                    " at run time: the input's extent and the shape's "
                    "differ and neither is 1")))
    return failure();
  if (sa) {
    // A static extent other than 1 only meets a shape entry of 1 or itself.
    result.size = a;
    return result;
  }
  result.size = getAsOpFoldResult(
      b.createOrFold<arith::SelectOp>(loc, tIsOne, aValue, tValue));
  result.broadcastIf = aIsOne;
  return result;
}

static FailureOr<SmallVector<Value>> lowerExpand(NodeLowering &node) {
  FailureOr<Value> input = node.rankedInput(0);
  FailureOr<Value> shapeInput = node.rankedInput(1);
  if (failed(input) || failed(shapeInput))
    return failure();
  OpBuilder &b = node.b;
  Location loc = node.loc;
  FailureOr<int64_t> shapeLength = node.vectorInput(1, "the shape");
  if (failed(shapeLength))
    return failure();
  SmallVector<OpFoldResult> entries =
      getIndexEntries(b, loc, *shapeInput, *shapeLength);
  Type element = getElementType(*input);
  Value x = toSignless(b, loc, *input);
  int64_t inputRank = cast<RankedTensorType>(x.getType()).getRank();
  int64_t rank = std::max(inputRank, *shapeLength);
  SmallVector<ExpandDim> dims;
  SmallVector<OpFoldResult> sizes;
  bool runtimeBroadcast = false;
  for (int64_t d = 0; d < rank; ++d) {
    int64_t inputDim = d - (rank - inputRank);
    int64_t entry = d - (rank - *shapeLength);
    FailureOr<ExpandDim> dim = expandDim(
        node, x, inputDim, entry >= 0 ? entries[entry] : OpFoldResult(), d);
    if (failed(dim))
      return failure();
    runtimeBroadcast |= static_cast<bool>(dim->broadcastIf);
    sizes.push_back(dim->size);
    dims.push_back(*dim);
  }
  Value init = emptyTensor(b, loc, sizes, getElementType(x));
  Value result;
  if (!runtimeBroadcast) {
    SmallVector<AffineExpr> exprs;
    for (auto [d, dim] : llvm::enumerate(dims))
      if (dim.inputDim >= 0)
        exprs.push_back(dim.broadcast ? b.getAffineConstantExpr(0)
                                      : b.getAffineDimExpr(d));
    result = buildParallelGeneric(
        b, loc, init, x, AffineMap::get(rank, 0, exprs, b.getContext()),
        [](OpBuilder &nb, Location l, ValueRange args) {
          linalg::YieldOp::create(nb, l, args[0]);
        });
  } else {
    // Which dimensions broadcast is known only at run time: read the input
    // at index 0 where its extent is 1.
    result = buildParallelGeneric(
        b, loc, init, {}, {}, [&](OpBuilder &nb, Location l, ValueRange) {
          SmallVector<Value> at;
          Value zero = indexConstant(nb, l, 0);
          for (auto [d, dim] : llvm::enumerate(dims)) {
            if (dim.inputDim < 0)
              continue;
            Value i = linalg::IndexOp::create(nb, l, d);
            if (dim.broadcast)
              i = zero;
            else if (dim.broadcastIf)
              i = arith::SelectOp::create(nb, l, dim.broadcastIf, zero, i);
            at.push_back(i);
          }
          linalg::YieldOp::create(
              nb, l, Value(tensor::ExtractOp::create(nb, l, x, at)));
        });
  }
  return single(fromSignless(b, loc, result, element));
}

/// Tile(input, repeats): out[..., r * n + i, ...] = input[..., i, ...],
/// built as a copy into [r0, n0, r1, n1, ...] that is then collapsed pairwise.
static FailureOr<SmallVector<Value>> lowerTile(NodeLowering &node) {
  FailureOr<Value> input = node.rankedInput(0);
  FailureOr<Value> repeatsInput = node.rankedInput(1);
  if (failed(input) || failed(repeatsInput))
    return failure();
  OpBuilder &b = node.b;
  Location loc = node.loc;
  FailureOr<int64_t> length = node.vectorInput(1, "repeats");
  if (failed(length))
    return failure();
  Type element = getElementType(*input);
  Value x = toSignless(b, loc, *input);
  int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
  if (*length != rank)
    return node.error() << "has " << *length << " repeats for an input of rank "
                        << rank,
           failure();
  SmallVector<OpFoldResult> repeats =
      getIndexEntries(b, loc, *repeatsInput, *length);
  for (auto [d, repeat] : llvm::enumerate(repeats)) {
    if (std::optional<int64_t> r = getConstantIntValue(repeat)) {
      if (*r < 0)
        return node.error()
                   << "has negative repeat " << *r << " for dimension " << d,
               failure();
    } else if (failed(node.requireAtRunTime(
                   compareIndex(b, loc, arith::CmpIPredicate::sge, repeat,
                                b.getIndexAttr(0)),
                   "has a negative repeat at run time"))) {
      return failure();
    }
  }
  if (llvm::all_of(repeats,
                   [](OpFoldResult r) { return isConstantIntValue(r, 1); }))
    return single(*input);
  SmallVector<OpFoldResult> sizes;
  SmallVector<AffineExpr> exprs;
  SmallVector<ReassociationIndices> pairs;
  for (int64_t d = 0; d < rank; ++d) {
    sizes.push_back(repeats[d]);
    sizes.push_back(tensor::getMixedSize(b, loc, x, d));
    exprs.push_back(b.getAffineDimExpr(2 * d + 1));
    pairs.push_back({2 * d, 2 * d + 1});
  }
  Value init = emptyTensor(b, loc, sizes, getElementType(x));
  Value copies = buildParallelGeneric(
      b, loc, init, x, AffineMap::get(2 * rank, 0, exprs, b.getContext()),
      [](OpBuilder &nb, Location l, ValueRange args) {
        linalg::YieldOp::create(nb, l, args[0]);
      });
  Value tiled = tensor::CollapseShapeOp::create(b, loc, copies, pairs);
  return single(fromSignless(b, loc, tiled, element));
}

void onnx_lowering::addReplicateLowerings(LoweringTable &table) {
  table[loweringKey("", "Expand")] = lowerExpand;
  table[loweringKey("", "Tile")] = lowerTile;
}
