//===- Indexing.cpp - Gather, TopK and friends to upstream ----------------===//
//
// Gathers are linalg.generic ops that tensor.extract at computed indices;
// TopK ranks every element against the others (lower index wins ties, as
// ONNX requires) and picks the first k ranks. Scatters are in Scatter.cpp.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/OnnxToLinalg/NodeLowering.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace moec;
using namespace moec::onnx_lowering;

static SmallVector<utils::IteratorType> parallel(int64_t n) {
  return SmallVector<utils::IteratorType>(n, utils::IteratorType::parallel);
}

static FailureOr<SmallVector<Value>> lowerGather(NodeLowering &node) {
  FailureOr<Value> data = node.rankedInput(0);
  FailureOr<Value> indices = node.rankedInput(1);
  if (failed(data) || failed(indices))
    return failure();
  if (!isIndexTensor(*indices))
    return node.error() << "expects int32 or int64 indices", failure();
  OpBuilder &b = node.b;
  Location loc = node.loc;
  auto dataType = cast<RankedTensorType>(data->getType());
  int64_t dataRank = dataType.getRank();
  FailureOr<int64_t> axis =
      node.normalizeAxis(node.intAttr("axis", 0), dataRank);
  if (failed(axis))
    return failure();
  auto indicesType = cast<RankedTensorType>(indices->getType());
  int64_t indexRank = indicesType.getRank();

  // Shape arithmetic (picking entries of a constant shape vector) folds.
  auto dataInts = getConstantInts(*data);
  auto indexInts = getConstantInts(*indices);
  if (dataRank == 1 && dataInts && indexInts && indexRank <= 1) {
    SmallVector<int64_t> values;
    int64_t n = dataInts->size();
    for (int64_t i : *indexInts) {
      if (i < -n || i >= n)
        return node.error()
                   << "index " << i << " is out of range for " << dataType,
               failure();
      values.push_back((*dataInts)[i < 0 ? i + n : i]);
    }
    return single(intTensorConstant(b, loc, indicesType.getShape(),
                                    dataType.getElementType(), values));
  }
  // Picking entries of a shape vector with run-time extents keeps them.
  std::optional<SmallVector<OpFoldResult>> elements = getVectorElements(*data);
  if (dataRank == 1 && elements && indexInts && indexRank <= 1) {
    SmallVector<OpFoldResult> picked;
    int64_t n = elements->size();
    for (int64_t i : *indexInts) {
      if (i < -n || i >= n)
        return node.error()
                   << "index " << i << " is out of range for " << dataType,
               failure();
      picked.push_back((*elements)[i < 0 ? i + n : i]);
    }
    return single(buildVector(b, loc,
                              RankedTensorType::get(indicesType.getShape(),
                                                    dataType.getElementType()),
                              picked));
  }

  SmallVector<OpFoldResult> sizes;
  for (int64_t d = 0; d < *axis; ++d)
    sizes.push_back(tensor::getMixedSize(b, loc, *data, d));
  for (int64_t d = 0; d < indexRank; ++d)
    sizes.push_back(tensor::getMixedSize(b, loc, *indices, d));
  for (int64_t d = *axis + 1; d < dataRank; ++d)
    sizes.push_back(tensor::getMixedSize(b, loc, *data, d));
  int64_t rank = sizes.size();
  SmallVector<AffineExpr> indexExprs;
  for (int64_t d = 0; d < indexRank; ++d)
    indexExprs.push_back(b.getAffineDimExpr(*axis + d));
  Value init = emptyTensor(b, loc, sizes, dataType.getElementType());
  Value axisDim = getDim(b, loc, *data, *axis);
  Value result = buildParallelGeneric(
      b, loc, init, *indices,
      AffineMap::get(rank, 0, indexExprs, b.getContext()),
      [&](OpBuilder &nb, Location l, ValueRange args) {
        SmallVector<Value> at;
        for (int64_t d = 0; d < *axis; ++d)
          at.push_back(linalg::IndexOp::create(nb, l, d));
        at.push_back(node.checkedIndex(nb, l, args[0], axisDim, *axis));
        for (int64_t d = *axis + 1; d < dataRank; ++d)
          at.push_back(linalg::IndexOp::create(nb, l, d - 1 + indexRank));
        linalg::YieldOp::create(
            nb, l, Value(tensor::ExtractOp::create(nb, l, *data, at)));
      });
  return single(result);
}

static FailureOr<SmallVector<Value>> lowerGatherElements(NodeLowering &node) {
  FailureOr<Value> data = node.rankedInput(0);
  FailureOr<Value> indices = node.rankedInput(1);
  if (failed(data) || failed(indices))
    return failure();
  if (!isIndexTensor(*indices))
    return node.error() << "expects int32 or int64 indices", failure();
  OpBuilder &b = node.b;
  Location loc = node.loc;
  int64_t rank = cast<RankedTensorType>(data->getType()).getRank();
  if (cast<RankedTensorType>(indices->getType()).getRank() != rank)
    return node.error() << "expects indices of the data's rank", failure();
  FailureOr<int64_t> axis = node.normalizeAxis(node.intAttr("axis", 0), rank);
  if (failed(axis))
    return failure();
  // Off the axis, an element is read at its own position.
  for (int64_t d = 0; d < rank; ++d)
    if (d != *axis &&
        failed(node.requireExtent(arith::CmpIPredicate::ule, *indices, d,
                                  "indices", *data, d, "data")))
      return failure();
  Value init =
      emptyTensor(b, loc, getSizes(b, loc, *indices), getElementType(*data));
  Value axisDim = getDim(b, loc, *data, *axis);
  Value result = buildParallelGeneric(
      b, loc, init, *indices, b.getMultiDimIdentityMap(rank),
      [&](OpBuilder &nb, Location l, ValueRange args) {
        SmallVector<Value> at;
        for (int64_t d = 0; d < rank; ++d)
          at.push_back(d == *axis
                           ? node.checkedIndex(nb, l, args[0], axisDim, *axis)
                           : Value(linalg::IndexOp::create(nb, l, d)));
        linalg::YieldOp::create(
            nb, l, Value(tensor::ExtractOp::create(nb, l, *data, at)));
      });
  return single(result);
}

static FailureOr<SmallVector<Value>> lowerGatherND(NodeLowering &node) {
  FailureOr<Value> data = node.rankedInput(0);
  FailureOr<Value> indices = node.rankedInput(1);
  if (failed(data) || failed(indices))
    return failure();
  if (!getElementType(*indices).isSignlessInteger(64))
    return node.error() << "expects int64 indices", failure();
  OpBuilder &b = node.b;
  Location loc = node.loc;
  auto dataType = cast<RankedTensorType>(data->getType());
  auto indicesType = cast<RankedTensorType>(indices->getType());
  int64_t batch = node.intAttr("batch_dims", 0);
  int64_t indexRank = indicesType.getRank();
  if (indexRank < 1 || indicesType.isDynamicDim(indexRank - 1))
    return node.error() << "needs indices whose last dimension is static",
           failure();
  int64_t depth = indicesType.getDimSize(indexRank - 1);
  if (batch < 0 || batch >= indexRank || batch + depth > dataType.getRank())
    return node.error() << "has batch_dims " << batch << " and index depth "
                        << depth << " that do not fit data " << dataType,
           failure();
  // The batch dimensions are read at the indices' own positions.
  for (int64_t d = 0; d < batch; ++d)
    if (failed(node.requireExtent(arith::CmpIPredicate::ule, *indices, d,
                                  "indices", *data, d, "data")))
      return failure();
  SmallVector<OpFoldResult> sizes;
  for (int64_t d = 0; d < indexRank - 1; ++d)
    sizes.push_back(tensor::getMixedSize(b, loc, *indices, d));
  for (int64_t d = batch + depth; d < dataType.getRank(); ++d)
    sizes.push_back(tensor::getMixedSize(b, loc, *data, d));
  int64_t rank = sizes.size();
  Value init = emptyTensor(b, loc, sizes, dataType.getElementType());
  Value result = buildParallelGeneric(
      b, loc, init, {}, {}, [&](OpBuilder &nb, Location l, ValueRange) {
        SmallVector<Value> outer, at;
        for (int64_t d = 0; d < indexRank - 1; ++d)
          outer.push_back(linalg::IndexOp::create(nb, l, d));
        for (int64_t d = 0; d < batch; ++d)
          at.push_back(outer[d]);
        for (int64_t j = 0; j < depth; ++j) {
          SmallVector<Value> position(outer);
          position.push_back(indexConstant(nb, l, j));
          Value element = tensor::ExtractOp::create(nb, l, *indices, position);
          at.push_back(node.checkedIndex(
              nb, l, element, getDim(nb, l, *data, batch + j), batch + j));
        }
        for (int64_t d = indexRank - 1; d < rank; ++d)
          at.push_back(linalg::IndexOp::create(nb, l, d));
        linalg::YieldOp::create(
            nb, l, Value(tensor::ExtractOp::create(nb, l, *data, at)));
      });
  return single(result);
}

/// The k of TopK: a one-element int64 tensor, constant or not.
static FailureOr<OpFoldResult> getK(NodeLowering &node) {
  Value k = node.input(1);
  if (!k)
    return node.error() << "expects K", failure();
  if (std::optional<SmallVector<int64_t>> values = getConstantInts(k)) {
    if (values->size() != 1 || (*values)[0] < 0)
      return node.error() << "expects one non-negative K", failure();
    return OpFoldResult(node.b.getIndexAttr((*values)[0]));
  }
  auto type = dyn_cast<RankedTensorType>(k.getType());
  if (!type || !type.hasStaticShape() || type.getNumElements() != 1 ||
      !type.getElementType().isInteger())
    return node.error() << "expects K as a one-element integer tensor",
           failure();
  SmallVector<Value> zeros(type.getRank(), indexConstant(node.b, node.loc, 0));
  Value element = tensor::ExtractOp::create(
      node.b, node.loc, toSignless(node.b, node.loc, k), zeros);
  return OpFoldResult(toIndex(node.b, node.loc, element));
}

static FailureOr<SmallVector<Value>> lowerTopK(NodeLowering &node) {
  FailureOr<Value> input = node.rankedInput(0);
  FailureOr<OpFoldResult> k = getK(node);
  if (failed(input) || failed(k))
    return failure();
  OpBuilder &b = node.b;
  Location loc = node.loc;
  auto type = cast<RankedTensorType>(input->getType());
  Type element = type.getElementType();
  int64_t rank = type.getRank();
  FailureOr<int64_t> axis = node.normalizeAxis(node.intAttr("axis", -1), rank);
  if (failed(axis))
    return failure();
  if (std::optional<int64_t> kValue = getConstantIntValue(*k))
    if (!type.isDynamicDim(*axis) && *kValue > type.getDimSize(*axis))
      return node.error() << "asks for " << *kValue << " of "
                          << type.getDimSize(*axis) << " elements",
             failure();
  bool largest = node.intAttr("largest", 1);
  bool isFloat = isa<FloatType>(element);
  bool isUnsigned = isUnsignedInteger(element);
  Value x = toSignless(b, loc, *input);
  Type signlessElement = toSignlessType(element);

  // rank[..., i] = #{j : x_j beats x_i, or ties it with j < i}.
  int64_t loops = rank + 1;
  AffineExpr j = b.getAffineDimExpr(rank);
  SmallVector<AffineExpr> atI, atJ;
  for (int64_t d = 0; d < rank; ++d) {
    atI.push_back(b.getAffineDimExpr(d));
    atJ.push_back(d == *axis ? j : b.getAffineDimExpr(d));
  }
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, x);
  Value zeroI64 = scalarConstant(b, loc, b.getI64Type(), 0);
  Value ranksInit = filledTensor(b, loc, sizes, zeroI64);
  SmallVector<utils::IteratorType> iterators = parallel(loops);
  iterators.back() = utils::IteratorType::reduction;
  Value ranks =
      linalg::GenericOp::create(
          b, loc, ranksInit.getType(), ValueRange{x, x}, ranksInit,
          SmallVector<AffineMap>{AffineMap::get(loops, 0, atI, b.getContext()),
                                 AffineMap::get(loops, 0, atJ, b.getContext()),
                                 AffineMap::get(loops, 0, atI, b.getContext())},
          iterators,
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value xi = args[0], xj = args[1], count = args[2];
            Value beats, ties;
            if (isFloat) {
              beats = arith::CmpFOp::create(nb, l,
                                            largest ? arith::CmpFPredicate::OGT
                                                    : arith::CmpFPredicate::OLT,
                                            xj, xi);
              ties = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OEQ, xj,
                                           xi);
            } else {
              arith::CmpIPredicate p =
                  largest ? (isUnsigned ? arith::CmpIPredicate::ugt
                                        : arith::CmpIPredicate::sgt)
                          : (isUnsigned ? arith::CmpIPredicate::ult
                                        : arith::CmpIPredicate::slt);
              beats = arith::CmpIOp::create(nb, l, p, xj, xi);
              ties = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, xj,
                                           xi);
            }
            Value earlier =
                arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult,
                                      linalg::IndexOp::create(nb, l, rank),
                                      linalg::IndexOp::create(nb, l, *axis));
            Value wins = arith::OrIOp::create(
                nb, l, beats, arith::AndIOp::create(nb, l, ties, earlier));
            Value increment =
                arith::ExtUIOp::create(nb, l, nb.getI64Type(), wins);
            linalg::YieldOp::create(
                nb, l, Value(arith::AddIOp::create(nb, l, count, increment)));
          })
          .getResult(0);

  // values[..., p] and indices[..., p] come from the element of rank p.
  SmallVector<OpFoldResult> outSizes(sizes);
  outSizes[*axis] = *k;
  Value valuesInit = filledTensor(b, loc, outSizes,
                                  scalarConstant(b, loc, signlessElement, 0));
  Value indicesInit = filledTensor(b, loc, outSizes, zeroI64);
  AffineExpr i = b.getAffineDimExpr(rank);
  SmallVector<AffineExpr> atP, atSource;
  for (int64_t d = 0; d < rank; ++d) {
    atP.push_back(b.getAffineDimExpr(d));
    atSource.push_back(d == *axis ? i : b.getAffineDimExpr(d));
  }
  auto pick = linalg::GenericOp::create(
      b, loc, TypeRange{valuesInit.getType(), indicesInit.getType()},
      ValueRange{x, ranks}, ValueRange{valuesInit, indicesInit},
      SmallVector<AffineMap>{AffineMap::get(loops, 0, atSource, b.getContext()),
                             AffineMap::get(loops, 0, atSource, b.getContext()),
                             AffineMap::get(loops, 0, atP, b.getContext()),
                             AffineMap::get(loops, 0, atP, b.getContext())},
      iterators, [&](OpBuilder &nb, Location l, ValueRange args) {
        Value p = arith::IndexCastOp::create(
            nb, l, nb.getI64Type(), linalg::IndexOp::create(nb, l, *axis));
        Value source = arith::IndexCastOp::create(
            nb, l, nb.getI64Type(), linalg::IndexOp::create(nb, l, rank));
        Value hit =
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, args[1], p);
        linalg::YieldOp::create(
            nb, l,
            ValueRange{arith::SelectOp::create(nb, l, hit, args[0], args[2]),
                       arith::SelectOp::create(nb, l, hit, source, args[3])});
      });
  return SmallVector<Value>{fromSignless(b, loc, pick.getResult(0), element),
                            pick.getResult(1)};
}

static FailureOr<SmallVector<Value>> lowerNonZero(NodeLowering &node) {
  FailureOr<Value> input = node.rankedInput(0);
  if (failed(input))
    return failure();
  OpBuilder &b = node.b;
  Location loc = node.loc;
  Value x = toSignless(b, loc, *input);
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  auto isNonZero = [&](OpBuilder &nb, Location l, Value v) -> Value {
    Value zero = scalarConstant(nb, l, v.getType(), 0);
    if (isa<FloatType>(v.getType()))
      return arith::CmpFOp::create(nb, l, arith::CmpFPredicate::UNE, v, zero);
    return arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ne, v, zero);
  };
  SmallVector<int64_t> all;
  for (int64_t d = 0; d < rank; ++d)
    all.push_back(d);
  Value count =
      buildReduction(b, loc, x, all, /*keepDims=*/false,
                     scalarConstant(b, loc, b.getI64Type(), 0),
                     [&](OpBuilder &nb, Location l, ValueRange args) {
                       Value one = arith::ExtUIOp::create(
                           nb, l, nb.getI64Type(), isNonZero(nb, l, args[0]));
                       return arith::AddIOp::create(nb, l, args[1], one);
                     });
  Value total =
      toIndex(b, loc, tensor::ExtractOp::create(b, loc, count, ValueRange{}));
  Value init = filledTensor(b, loc, {b.getIndexAttr(rank), total},
                            scalarConstant(b, loc, b.getI64Type(), 0));
  // Walk the elements in row-major order, appending coordinates.
  SmallVector<Value> bounds;
  for (int64_t d = 0; d < rank; ++d)
    bounds.push_back(getDim(b, loc, x, d));
  SmallVector<Value> lbs(rank, indexConstant(b, loc, 0));
  SmallVector<Value> steps(rank, indexConstant(b, loc, 1));
  scf::LoopNest nest = scf::buildLoopNest(
      b, loc, lbs, bounds, steps, ValueRange{init, indexConstant(b, loc, 0)},
      [&](OpBuilder &nb, Location l, ValueRange ivs, ValueRange iterArgs) {
        Value element = tensor::ExtractOp::create(nb, l, x, ivs);
        auto ifOp = scf::IfOp::create(
            nb, l, isNonZero(nb, l, element),
            [&](OpBuilder &tb, Location tl) {
              Value out = iterArgs[0];
              for (int64_t d = 0; d < rank; ++d)
                out = tensor::InsertOp::create(
                    tb, tl,
                    arith::IndexCastOp::create(tb, tl, tb.getI64Type(), ivs[d]),
                    out, ValueRange{indexConstant(tb, tl, d), iterArgs[1]});
              Value next = arith::AddIOp::create(tb, tl, iterArgs[1],
                                                 indexConstant(tb, tl, 1));
              scf::YieldOp::create(tb, tl, ValueRange{out, next});
            },
            [&](OpBuilder &eb, Location el) {
              scf::YieldOp::create(eb, el, iterArgs);
            });
        return scf::ValueVector(ifOp.getResults().begin(),
                                ifOp.getResults().end());
      });
  return single(nest.results.empty() ? init : nest.results.front());
}

static FailureOr<SmallVector<Value>> lowerOneHot(NodeLowering &node) {
  FailureOr<Value> indices = node.rankedInput(0);
  FailureOr<Value> depth = node.rankedInput(1);
  FailureOr<Value> values = node.rankedInput(2);
  if (failed(indices) || failed(depth) || failed(values))
    return failure();
  OpBuilder &b = node.b;
  Location loc = node.loc;
  auto depthType = cast<RankedTensorType>(depth->getType());
  auto valuesType = cast<RankedTensorType>(values->getType());
  if (!depthType.hasStaticShape() || depthType.getNumElements() != 1 ||
      valuesType.getShape() != ArrayRef<int64_t>{2})
    return node.error() << "expects a one-element depth and two values",
           failure();
  int64_t rank = cast<RankedTensorType>(indices->getType()).getRank() + 1;
  FailureOr<int64_t> axis = node.normalizeAxis(node.intAttr("axis", -1), rank);
  if (failed(axis))
    return failure();
  OpFoldResult depthSize;
  SmallVector<Value> zeros(depthType.getRank(), indexConstant(b, loc, 0));
  Value depthScalar =
      tensor::ExtractOp::create(b, loc, toSignless(b, loc, *depth), zeros);
  if (auto ints = getConstantInts(*depth)) {
    depthSize = b.getIndexAttr((*ints)[0]);
  } else {
    // Depth may be any numeric type; a float depth is truncated.
    Value asInt =
        convertScalar(b, loc, depthScalar, b.getI64Type(),
                      isUnsignedInteger(depthType.getElementType()), false);
    depthSize = toIndex(b, loc, asInt);
  }
  Value signlessValues = toSignless(b, loc, *values);
  Value off = tensor::ExtractOp::create(b, loc, signlessValues,
                                        ValueRange{indexConstant(b, loc, 0)});
  Value on = tensor::ExtractOp::create(b, loc, signlessValues,
                                       ValueRange{indexConstant(b, loc, 1)});
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, *indices);
  sizes.insert(sizes.begin() + *axis, depthSize);
  SmallVector<AffineExpr> indexExprs;
  for (int64_t d = 0; d < rank; ++d)
    if (d != *axis)
      indexExprs.push_back(b.getAffineDimExpr(d));
  Value init = emptyTensor(b, loc, sizes, off.getType());
  Value depthIndex = getValueOrCreateConstantIndexOp(b, loc, depthSize);
  bool indexUnsigned = isUnsignedInteger(getElementType(*indices));
  Value indicesSignless = toSignless(b, loc, *indices);
  Value result = buildParallelGeneric(
      b, loc, init, indicesSignless,
      AffineMap::get(rank, 0, indexExprs, b.getContext()),
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value index = args[0];
        if (isa<FloatType>(index.getType()))
          index = arith::FPToSIOp::create(nb, l, nb.getI64Type(), index);
        else
          index = convertScalar(nb, l, index, nb.getI64Type(), indexUnsigned,
                                false);
        Value wrapped = wrapIndex(nb, l, index, depthIndex);
        Value hit =
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, wrapped,
                                  linalg::IndexOp::create(nb, l, *axis));
        linalg::YieldOp::create(
            nb, l, Value(arith::SelectOp::create(nb, l, hit, on, off)));
      });
  return single(fromSignless(b, loc, result, valuesType.getElementType()));
}

static FailureOr<SmallVector<Value>> lowerCumSum(NodeLowering &node) {
  FailureOr<Value> input = node.rankedInput(0);
  if (failed(input))
    return failure();
  std::optional<SmallVector<int64_t>> axisValue =
      getConstantInts(node.input(1));
  if (!axisValue || axisValue->size() != 1)
    return node.error() << "needs a constant scalar axis", failure();
  OpBuilder &b = node.b;
  Location loc = node.loc;
  Type element = getElementType(*input);
  Value x = toSignless(b, loc, *input);
  int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
  FailureOr<int64_t> axis = node.normalizeAxis((*axisValue)[0], rank);
  if (failed(axis))
    return failure();
  bool exclusive = node.intAttr("exclusive", 0);
  bool reverse = node.intAttr("reverse", 0);
  // out[i] = sum over j of x[j] for j before i (or after, reversed).
  int64_t loops = rank + 1;
  SmallVector<AffineExpr> atI, atJ;
  for (int64_t d = 0; d < rank; ++d) {
    atI.push_back(b.getAffineDimExpr(d));
    atJ.push_back(d == *axis ? b.getAffineDimExpr(rank)
                             : b.getAffineDimExpr(d));
  }
  Type signless = toSignlessType(element);
  Value init = filledTensor(b, loc, getSizes(b, loc, x),
                            scalarConstant(b, loc, signless, 0));
  SmallVector<utils::IteratorType> iterators = parallel(loops);
  iterators.back() = utils::IteratorType::reduction;
  arith::CmpIPredicate predicate =
      reverse
          ? (exclusive ? arith::CmpIPredicate::ugt : arith::CmpIPredicate::uge)
          : (exclusive ? arith::CmpIPredicate::ult : arith::CmpIPredicate::ule);
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), ValueRange{x}, init,
      SmallVector<AffineMap>{AffineMap::get(loops, 0, atJ, b.getContext()),
                             AffineMap::get(loops, 0, atI, b.getContext())},
      iterators, [&](OpBuilder &nb, Location l, ValueRange args) {
        Value counts = arith::CmpIOp::create(
            nb, l, predicate, linalg::IndexOp::create(nb, l, rank),
            linalg::IndexOp::create(nb, l, *axis));
        Value term = arith::SelectOp::create(
            nb, l, counts, args[0], scalarConstant(nb, l, signless, 0));
        linalg::YieldOp::create(
            nb, l,
            isa<FloatType>(signless)
                ? Value(arith::AddFOp::create(nb, l, args[1], term))
                : Value(arith::AddIOp::create(nb, l, args[1], term)));
      });
  return single(fromSignless(b, loc, generic.getResult(0), element));
}

void onnx_lowering::addIndexingLowerings(LoweringTable &table) {
  auto add = [&](StringRef op, LoweringFn fn) {
    table[loweringKey("", op)] = std::move(fn);
  };
  add("Gather", lowerGather);
  add("GatherElements", lowerGatherElements);
  add("GatherND", lowerGatherND);
  add("TopK", lowerTopK);
  add("NonZero", lowerNonZero);
  add("OneHot", lowerOneHot);
  add("CumSum", lowerCumSum);
}
