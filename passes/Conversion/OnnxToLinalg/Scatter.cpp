//===- Scatter.cpp - ScatterElements and ScatterND to scf loops -----------===//
//
// Scatters are scf.for nests that tensor.insert into a copy of the data, one
// update at a time (later updates win, as ONNX's reference does). Their
// shapes are often computed at run time (torch's index_add_ scatters
// Expand(..., Shape(...)) values), so every extent the compiler cannot
// compare is compared at run time, and every index is checked against its
// dimension before it is used: bad input stops the program with a message
// naming the node instead of writing out of bounds.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/OnnxToLinalg/NodeLowering.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace moec;
using namespace moec::onnx_lowering;

/// Combines an update with the current value for a scatter `reduction`.
static FailureOr<std::function<Value(OpBuilder &, Location, Value, Value)>>
getScatterCombiner(NodeLowering &node, Type element) {
  StringRef reduction = node.stringAttr("reduction", "none");
  bool isFloat = isa<FloatType>(element);
  bool isUnsigned = isUnsignedInteger(element);
  using Fn = std::function<Value(OpBuilder &, Location, Value, Value)>;
  if (reduction == "none")
    return Fn(
        [](OpBuilder &, Location, Value, Value update) { return update; });
  if (reduction == "add")
    return Fn([isFloat](OpBuilder &b, Location l, Value cur, Value upd) {
      return isFloat ? Value(arith::AddFOp::create(b, l, cur, upd))
                     : Value(arith::AddIOp::create(b, l, cur, upd));
    });
  if (reduction == "mul")
    return Fn([isFloat](OpBuilder &b, Location l, Value cur, Value upd) {
      return isFloat ? Value(arith::MulFOp::create(b, l, cur, upd))
                     : Value(arith::MulIOp::create(b, l, cur, upd));
    });
  if (reduction == "max" || reduction == "min") {
    bool isMax = reduction == "max";
    return Fn([=](OpBuilder &b, Location l, Value cur, Value upd) -> Value {
      if (isFloat)
        return isMax ? Value(arith::MaximumFOp::create(b, l, cur, upd))
                     : Value(arith::MinimumFOp::create(b, l, cur, upd));
      if (isUnsigned)
        return isMax ? Value(arith::MaxUIOp::create(b, l, cur, upd))
                     : Value(arith::MinUIOp::create(b, l, cur, upd));
      return isMax ? Value(arith::MaxSIOp::create(b, l, cur, upd))
                   : Value(arith::MinSIOp::create(b, l, cur, upd));
    });
  }
  return node.error() << "unknown reduction '" << reduction << "'", failure();
}

/// Loops over `bounds`, threading `tensor` through; `body` returns the
/// updated tensor for one iteration.
static Value buildScatterLoops(
    OpBuilder &b, Location loc, ArrayRef<Value> bounds, Value tensor,
    function_ref<Value(OpBuilder &, Location, ValueRange, Value)> body) {
  SmallVector<Value> lbs(bounds.size(), indexConstant(b, loc, 0));
  SmallVector<Value> steps(bounds.size(), indexConstant(b, loc, 1));
  scf::LoopNest nest = scf::buildLoopNest(
      b, loc, lbs, bounds, steps, ValueRange{tensor},
      [&](OpBuilder &nb, Location l, ValueRange ivs, ValueRange iterArgs) {
        return scf::ValueVector{body(nb, l, ivs, iterArgs[0])};
      });
  return nest.results.empty() ? tensor : nest.results.front();
}

static FailureOr<SmallVector<Value>> lowerScatterElements(NodeLowering &node) {
  FailureOr<Value> data = node.rankedInput(0);
  FailureOr<Value> indices = node.rankedInput(1);
  FailureOr<Value> updates = node.rankedInput(2);
  if (failed(data) || failed(indices) || failed(updates))
    return failure();
  if (!isIndexTensor(*indices))
    return node.error() << "expects int32 or int64 indices", failure();
  OpBuilder &b = node.b;
  Location loc = node.loc;
  Type element = getElementType(*data);
  int64_t rank = cast<RankedTensorType>(data->getType()).getRank();
  if (cast<RankedTensorType>(indices->getType()).getRank() != rank ||
      cast<RankedTensorType>(updates->getType()).getRank() != rank)
    return node.error() << "expects indices and updates of the data's rank, "
                           "got data "
                        << data->getType() << ", indices " << indices->getType()
                        << " and updates " << updates->getType(),
           failure();
  if (failed(node.requireElementType(*updates, element)))
    return failure();
  FailureOr<int64_t> axis = node.normalizeAxis(node.intAttr("axis", 0), rank);
  auto combine = getScatterCombiner(node, element);
  if (failed(axis) || failed(combine))
    return failure();
  // Indices and updates have one shape; off the axis, an update lands at
  // its own position, which must lie inside the data.
  using P = arith::CmpIPredicate;
  for (int64_t d = 0; d < rank; ++d) {
    if (failed(node.requireExtent(P::eq, *updates, d, "updates", *indices, d,
                                  "indices")))
      return failure();
    if (d != *axis && failed(node.requireExtent(P::ule, *indices, d, "indices",
                                                *data, d, "data")))
      return failure();
  }
  Value dataSignless = toSignless(b, loc, *data);
  Value updatesSignless = toSignless(b, loc, *updates);
  SmallVector<Value> bounds;
  for (int64_t d = 0; d < rank; ++d)
    bounds.push_back(getDim(b, loc, *indices, d));
  Value axisDim = getDim(b, loc, *data, *axis);
  Value result = buildScatterLoops(
      b, loc, bounds, dataSignless,
      [&](OpBuilder &nb, Location l, ValueRange ivs, Value current) {
        Value index = node.checkedIndex(
            nb, l, tensor::ExtractOp::create(nb, l, *indices, ivs), axisDim,
            *axis);
        SmallVector<Value> at(ivs.begin(), ivs.end());
        at[*axis] = index;
        Value update = tensor::ExtractOp::create(nb, l, updatesSignless, ivs);
        Value old = tensor::ExtractOp::create(nb, l, current, at);
        return Value(tensor::InsertOp::create(
            nb, l, (*combine)(nb, l, old, update), current, at));
      });
  return single(fromSignless(b, loc, result, element));
}

static FailureOr<SmallVector<Value>> lowerScatterND(NodeLowering &node) {
  FailureOr<Value> data = node.rankedInput(0);
  FailureOr<Value> indices = node.rankedInput(1);
  FailureOr<Value> updates = node.rankedInput(2);
  if (failed(data) || failed(indices) || failed(updates))
    return failure();
  if (!getElementType(*indices).isSignlessInteger(64))
    return node.error() << "expects int64 indices", failure();
  OpBuilder &b = node.b;
  Location loc = node.loc;
  Type element = getElementType(*data);
  auto dataType = cast<RankedTensorType>(data->getType());
  auto indicesType = cast<RankedTensorType>(indices->getType());
  int64_t indexRank = indicesType.getRank();
  if (indexRank < 1 || indicesType.isDynamicDim(indexRank - 1))
    return node.error() << "needs indices whose last dimension is static",
           failure();
  int64_t depth = indicesType.getDimSize(indexRank - 1);
  int64_t updateRank = cast<RankedTensorType>(updates->getType()).getRank();
  if (failed(node.requireElementType(*updates, element)))
    return failure();
  if (depth > dataType.getRank() ||
      updateRank != indexRank - 1 + dataType.getRank() - depth)
    return node.error() << "has indices " << indicesType << " and updates "
                        << updates->getType() << " that do not fit data "
                        << dataType,
           failure();
  auto combine = getScatterCombiner(node, element);
  if (failed(combine))
    return failure();
  // updates.shape == indices.shape[:-1] + data.shape[depth:]
  using P = arith::CmpIPredicate;
  for (int64_t d = 0; d < updateRank; ++d) {
    bool batch = d < indexRank - 1;
    if (failed(node.requireExtent(P::eq, *updates, d, "updates",
                                  batch ? *indices : *data,
                                  batch ? d : d - (indexRank - 1) + depth,
                                  batch ? "indices" : "data")))
      return failure();
  }
  Value dataSignless = toSignless(b, loc, *data);
  Value updatesSignless = toSignless(b, loc, *updates);
  SmallVector<Value> bounds;
  for (int64_t d = 0; d < updateRank; ++d)
    bounds.push_back(getDim(b, loc, *updates, d));
  Value result = buildScatterLoops(
      b, loc, bounds, dataSignless,
      [&](OpBuilder &nb, Location l, ValueRange ivs, Value current) {
        SmallVector<Value> at;
        ValueRange outer = ivs.take_front(indexRank - 1);
        for (int64_t j = 0; j < depth; ++j) {
          SmallVector<Value> position(outer.begin(), outer.end());
          position.push_back(indexConstant(nb, l, j));
          at.push_back(node.checkedIndex(
              nb, l, tensor::ExtractOp::create(nb, l, *indices, position),
              getDim(nb, l, *data, j), j));
        }
        for (Value iv : ivs.drop_front(indexRank - 1))
          at.push_back(iv);
        Value update = tensor::ExtractOp::create(nb, l, updatesSignless, ivs);
        Value old = tensor::ExtractOp::create(nb, l, current, at);
        return Value(tensor::InsertOp::create(
            nb, l, (*combine)(nb, l, old, update), current, at));
      });
  return single(fromSignless(b, loc, result, element));
}

void onnx_lowering::addScatterLowerings(LoweringTable &table) {
  table[loweringKey("", "ScatterElements")] = lowerScatterElements;
  table[loweringKey("", "ScatterND")] = lowerScatterND;
}
