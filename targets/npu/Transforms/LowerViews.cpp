//===- LowerViews.cpp - Index values, reshapes, slices, the KV cache ------===//
//
// What a whole model adds around its tensor ops: index arithmetic that the
// run time decides (the position a call continues at), run-time checks the
// host makes, reshapes (views of the same rows), slices and concatenations
// (views, or strided copies), transposes, and the KV cache's update in
// place at the current position.
//
//===----------------------------------------------------------------------===//

#include "Transforms/BodyLowering.h"

#include "Transforms/LowerCopies.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace moec;
using namespace moec::npu;

FailureOr<int64_t> BodyLowering::scalarOf(Value value) {
  if (auto found = runtimeIndices.find(value); found != runtimeIndices.end())
    return found->second;
  FailureOr<int64_t> constant = indexOf(value);
  if (failed(constant))
    return failure();
  return scalars.constant(*constant);
}

/// An index op (arith on index or integer values) as scalar kinds, applied
/// by `binary` and `select` to its operands `v`: constants folded at
/// compile time, or RuntimeScalars nodes. `one` is 1 in the same form.
template <typename Binary, typename Select>
static int64_t combineIndices(Operation *op, ArrayRef<int64_t> v, int64_t one,
                              Binary binary, Select select) {
  int64_t a = v[0], b = v.size() > 1 ? v[1] : 0;
  return llvm::TypeSwitch<Operation *, int64_t>(op)
      .Case([&](arith::MaxUIOp) { return binary(ScalarKind::Max, a, b); })
      .Case([&](arith::MinUIOp) { return binary(ScalarKind::Min, a, b); })
      .Case([&](arith::AddIOp) { return binary(ScalarKind::Add, a, b); })
      .Case([&](arith::SubIOp) { return binary(ScalarKind::Sub, a, b); })
      .Case([&](arith::MulIOp) { return binary(ScalarKind::Mul, a, b); })
      .Case([&](arith::AndIOp) { return binary(ScalarKind::And, a, b); })
      .Case([&](arith::SelectOp) { return select(a, b, v[2]); })
      .Case([&](arith::CmpIOp cmp) -> int64_t {
        switch (cmp.getPredicate()) {
        case arith::CmpIPredicate::eq:
          return binary(ScalarKind::Equal, a, b);
        case arith::CmpIPredicate::ne:
          return binary(ScalarKind::Sub, one, binary(ScalarKind::Equal, a, b));
        case arith::CmpIPredicate::slt:
        case arith::CmpIPredicate::ult:
          return binary(ScalarKind::Less, a, b);
        case arith::CmpIPredicate::sle:
        case arith::CmpIPredicate::ule:
          return binary(ScalarKind::LessEqual, a, b);
        case arith::CmpIPredicate::sgt:
        case arith::CmpIPredicate::ugt:
          return binary(ScalarKind::Less, b, a);
        case arith::CmpIPredicate::sge:
        case arith::CmpIPredicate::uge:
          return binary(ScalarKind::LessEqual, b, a);
        }
        return binary(ScalarKind::Sub, one, one);
      });
}

LogicalResult BodyLowering::lowerIndexOp(Operation *op) {
  auto staticOf = [&](Value v) -> std::optional<int64_t> {
    auto found = indices.find(v);
    if (found == indices.end())
      return std::nullopt;
    return found->second;
  };
  bool runtime = llvm::any_of(
      op->getOperands(), [&](Value v) { return runtimeIndices.count(v) != 0; });
  Value result = op->getResult(0);
  if (isa<arith::IndexCastOp, arith::IndexCastUIOp, arith::ExtSIOp,
          arith::ExtUIOp, arith::TruncIOp>(op)) {
    Value in = op->getOperand(0);
    if (std::optional<int64_t> v = staticOf(in))
      indices[result] = *v;
    if (runtime)
      runtimeIndices[result] = runtimeIndices.lookup(in);
    if (!runtime && !staticOf(in))
      return indexOf(in);
    return success();
  }
  if (isa<arith::AndIOp>(op) && !result.getType().isInteger(1))
    return op->emitError("the NPU lowers arith.andi of booleans only");
  SmallVector<int64_t> values;
  bool allStatic = true;
  for (Value v : op->getOperands()) {
    std::optional<int64_t> value = staticOf(v);
    allStatic &= value.has_value();
    values.push_back(value.value_or(0));
  }
  if (!allStatic && !runtime) {
    for (Value v : op->getOperands())
      if (!staticOf(v))
        return indexOf(v);
  }
  // The static value, folded, and the run-time node: one mapping.
  if (allStatic)
    indices[result] = combineIndices(
        op, values, 1, RuntimeScalars::fold,
        [](int64_t c, int64_t a, int64_t b) { return c ? a : b; });
  if (!runtime)
    return success();
  SmallVector<int64_t> nodes;
  for (Value v : op->getOperands()) {
    FailureOr<int64_t> node = scalarOf(v);
    if (failed(node))
      return failure();
    nodes.push_back(*node);
  }
  runtimeIndices[result] = combineIndices(
      op, nodes, scalars.constant(1),
      [&](ScalarKind kind, int64_t a, int64_t b) {
        return scalars.binary(kind, a, b);
      },
      [&](int64_t c, int64_t a, int64_t b) { return scalars.select(c, a, b); });
  return success();
}

LogicalResult BodyLowering::lowerCheck(moe::CheckOp op) {
  if (!runtimeIndices.count(op.getCondition())) {
    FailureOr<int64_t> holds = indexOf(op.getCondition());
    if (failed(holds))
      return failure();
    if (!*holds)
      return op->emitError("fails for ")
             << lowering.tokens << " tokens: " << op.getMessage();
    return success();
  }
  Builder b(op.getContext());
  SmallVector<int64_t> values;
  for (Value v : op.getValues()) {
    FailureOr<int64_t> node = scalarOf(v);
    if (failed(node))
      return failure();
    values.push_back(*node);
  }
  checks.push_back(b.getDictionaryAttr(
      {b.getNamedAttr("message", op.getMessageAttr()),
       b.getNamedAttr("condition",
                      b.getI64IntegerAttr(runtimeIndices[op.getCondition()])),
       b.getNamedAttr("values", b.getDenseI64ArrayAttr(values))}));
  return success();
}

LogicalResult BodyLowering::lowerTensorExtract(Operation *op) {
  auto extract = cast<tensor::ExtractOp>(op);
  auto arg = dyn_cast<BlockArgument>(extract.getTensor());
  auto type = extract.getTensor().getType();
  if (!arg || !type.getElementType().isSignlessInteger() ||
      (type.getElementTypeBitWidth() != 32 &&
       type.getElementTypeBitWidth() != 64))
    return op->emitError("the NPU reads integer scalars of its inputs only");
  int64_t linear = 0;
  for (auto [i, index] : llvm::enumerate(extract.getIndices())) {
    FailureOr<int64_t> at = indexOf(index);
    if (failed(at))
      return failure();
    linear = linear * type.getDimSize(i) + *at;
  }
  runtimeIndices[extract.getResult()] = scalars.inputWord(
      arg.getArgNumber(), linear * type.getElementTypeBitWidth() / 8);
  return success();
}

LogicalResult BodyLowering::lowerTensorInsert(Operation *op) {
  auto insert = cast<tensor::InsertOp>(op);
  auto arg = dyn_cast<BlockArgument>(insert.getDest());
  if (!arg || !func.getArgAttr(arg.getArgNumber(), "moec.state") ||
      insert.getDest().getType().getNumElements() != 1 ||
      !insert.getDest().getType().getElementType().isInteger(64))
    return op->emitError("the NPU writes a scalar only into an i64 state "
                         "of one element (the position)");
  for (OpOperand &use : insert.getResult().getUses())
    if (!isa<func::ReturnOp>(use.getOwner()))
      return op->emitError("the NPU's state update is only returned");
  FailureOr<int64_t> node = scalarOf(insert.getScalar());
  if (failed(node))
    return failure();
  stateStores.push_back({arg, *node});
  return success();
}

LogicalResult BodyLowering::lowerFromElements(Operation *op) {
  auto from = cast<tensor::FromElementsOp>(op);
  auto type = from.getType();
  if (type.getRank() != 1 || !type.getElementType().isInteger(32))
    return op->emitError("the NPU builds 1-D i32 tensors of elements only");
  std::vector<int32_t> values;
  std::string key = "i32";
  for (Value element : from.getElements()) {
    FailureOr<int64_t> v = indexOf(element);
    if (failed(v))
      return failure();
    values.push_back(int32_t(*v));
    key += "," + std::to_string(*v);
  }
  matrices[from.getResult()] = generatedWeight(
      key,
      [&] {
        std::vector<uint8_t> bytes(values.size() * 4);
        std::memcpy(bytes.data(), values.data(), bytes.size());
        return bytes;
      },
      1, int64_t(values.size()), ElemType::I32);
  return success();
}

bool BodyLowering::recordPositions(linalg::GenericOp op) {
  // out[i] = base + i, as an i64 (the positions of a call's tokens).
  if (op.getNumLoops() != 1 || op.getNumDpsInputs() != 0 ||
      op.getNumDpsInits() != 1)
    return false;
  Value yielded = op.getRegion().front().getTerminator()->getOperand(0);
  if (auto cast = yielded.getDefiningOp<arith::IndexCastOp>())
    yielded = cast.getIn();
  auto add = yielded.getDefiningOp<arith::AddIOp>();
  if (!add)
    return false;
  for (unsigned i = 0; i < 2; ++i) {
    auto index = add->getOperand(i).getDefiningOp<linalg::IndexOp>();
    Value base = add->getOperand(1 - i);
    if (!index || index.getDim() != 0 ||
        base.getParentRegion() == &op.getRegion())
      continue;
    FailureOr<int64_t> node = scalarOf(base);
    if (failed(node))
      return false;
    positionBase[op.getResult(0)] = *node;
    return true;
  }
  return false;
}

FailureOr<bool> BodyLowering::lowerTranspose(linalg::GenericOp op) {
  if (op.getNumLoops() != 3 || op.getNumDpsInputs() != 1 ||
      op.getNumDpsInits() != 1 || op.getNumReductionLoops() != 0)
    return false;
  Block &body = op.getRegion().front();
  if (body.getOperations().size() != 1 ||
      body.getTerminator()->getOperand(0) != body.getArgument(0))
    return false;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  if (!maps[1].isIdentity() || !maps[0].isPermutation())
    return false;
  MLIRContext *ctx = op.getContext();
  auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
  // out[i, j, k] = in[j, i, k]: the first two dimensions swapped.
  if (maps[0].getResult(0) != d(1) || maps[0].getResult(1) != d(0) ||
      maps[0].getResult(2) != d(2))
    return op.emitError("the NPU lowers transposes of the first two "
                        "dimensions only");
  FailureOr<GmMatrix> in = matrixOf(op.getDpsInputs()[0]);
  FailureOr<SmallVector<int64_t>> shape = shapeOf(op.getDpsInputs()[0]);
  if (failed(in) || failed(shape))
    return failure();
  if (shape->size() != 3 || in->stride)
    return op.emitError("the NPU transposes contiguous 3-D tensors only");
  int64_t a = (*shape)[0], b = (*shape)[1], c = (*shape)[2];
  int64_t eb = elemTypeBytes(in->elem);
  FailureOr<GmMatrix> out = resultFor(op.getResult(0), b, a * c, in->elem);
  if (failed(out))
    return failure();
  viewShapes[op.getResult(0)] = {b, a, c};
  SmallVector<RowCopy> copies;
  for (int64_t j = 0; j < b; ++j)
    copies.push_back({out->address + uint64_t(j * a * c * eb),
                      in->address + uint64_t(j * c * eb), a, c * eb, b * c * eb,
                      c * eb});
  if (failed(lowerRowCopies(lowering, copies)))
    return failure();
  return true;
}

/// The static sizes of a reshape's result.
static FailureOr<SmallVector<int64_t>>
reshapeResultShape(Operation *op, ArrayRef<int64_t> source,
                   const std::function<FailureOr<int64_t>(Value)> &index) {
  SmallVector<int64_t> shape;
  if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op)) {
    for (OpFoldResult size : expand.getMixedOutputShape()) {
      if (auto attr = dyn_cast<Attribute>(size)) {
        shape.push_back(cast<IntegerAttr>(attr).getInt());
        continue;
      }
      FailureOr<int64_t> v = index(cast<Value>(size));
      if (failed(v))
        return failure();
      shape.push_back(*v);
    }
    return shape;
  }
  auto collapse = cast<tensor::CollapseShapeOp>(op);
  for (const ReassociationIndices &group : collapse.getReassociationIndices()) {
    int64_t n = 1;
    for (int64_t i : group)
      n *= source[i];
    shape.push_back(n);
  }
  return shape;
}

LogicalResult BodyLowering::lowerReshape(Operation *op) {
  Value source = op->getOperand(0);
  FailureOr<GmMatrix> in = matrixOf(source);
  FailureOr<SmallVector<int64_t>> sourceShape = shapeOf(source);
  if (failed(in) || failed(sourceShape))
    return failure();
  if (in->stride)
    return op->emitError("the NPU reshapes contiguous tensors only");
  FailureOr<SmallVector<int64_t>> shape =
      reshapeResultShape(op, *sourceShape, [&](Value v) { return indexOf(v); });
  if (failed(shape))
    return failure();
  GmMatrix m = *in;
  m.rows = (*shape)[0];
  m.cols = 1;
  for (int64_t d : ArrayRef<int64_t>(*shape).drop_front())
    m.cols *= d;
  if (shape->size() == 1) {
    m.rows = 1;
    m.cols = (*shape)[0];
  }
  matrices[op->getResult(0)] = m;
  if (shape->size() == 3)
    viewShapes[op->getResult(0)] = *shape;
  return success();
}

LogicalResult BodyLowering::lowerExtractSlice(Operation *op) {
  auto slice = cast<tensor::ExtractSliceOp>(op);
  FailureOr<GmMatrix> in = matrixOf(slice.getSource());
  FailureOr<SmallVector<int64_t>> shape = shapeOf(slice.getSource());
  if (failed(in) || failed(shape))
    return failure();
  if (!slice.hasUnitStride() || in->stride)
    return op->emitError("the NPU slices contiguous tensors with unit "
                         "strides only");
  SmallVector<OpFoldResult> offsets = slice.getMixedOffsets();
  SmallVector<OpFoldResult> sizes = slice.getMixedSizes();
  auto staticOf = [&](OpFoldResult v) -> std::optional<int64_t> {
    if (auto attr = dyn_cast<Attribute>(v))
      return cast<IntegerAttr>(attr).getInt();
    // A bound known statically (a bucket's token count) serves too.
    auto found = indices.find(cast<Value>(v));
    if (found == indices.end())
      return std::nullopt;
    return found->second;
  };
  auto nodeOf = [&](OpFoldResult v) -> FailureOr<int64_t> {
    if (auto attr = dyn_cast<Attribute>(v))
      return scalars.constant(cast<IntegerAttr>(attr).getInt());
    return scalarOf(cast<Value>(v));
  };
  size_t rank = shape->size();
  bool innerFull = true;
  for (size_t i = 1; i < rank; ++i)
    innerFull &= staticOf(offsets[i]) == 0 && staticOf(sizes[i]) == (*shape)[i];
  Value result = slice.getResult();
  std::optional<int64_t> offset0 = staticOf(offsets[0]),
                         size0 = staticOf(sizes[0]);
  if (innerFull && offset0 && size0) {
    // Whole rows: a view.
    GmMatrix m = *in;
    m.address += uint64_t(*offset0 * in->rowStride());
    m.rows = *size0;
    matrices[result] = m;
    if (rank == 3)
      viewShapes[result] = {*size0, (*shape)[1], (*shape)[2]};
    return success();
  }
  if (innerFull && offset0 == 0) {
    // The first rows, as many as the run time says (a KV cache up to the
    // current position): a view of every row with its length.
    FailureOr<int64_t> rows = nodeOf(sizes[0]);
    if (failed(rows))
      return failure();
    matrices[result] = *in;
    runtimeRows[result] = *rows;
    if (rank == 3)
      viewShapes[result] = *shape;
    return success();
  }
  if (innerFull) {
    // Rows from an offset only the run time knows (the last rows of a
    // prompt): copied to the front of a buffer as long as the source. Of a
    // single row (a decode step's), the offset can only be 0: a view.
    FailureOr<int64_t> from = nodeOf(offsets[0]);
    FailureOr<int64_t> count = nodeOf(sizes[0]);
    if (failed(from) || failed(count))
      return failure();
    if (in->rows == 1) {
      matrices[result] = *in;
      runtimeRows[result] = *count;
      if (rank == 3)
        viewShapes[result] = *shape;
      return success();
    }
    GmMatrix out = lowering.allocate(in->rows, in->cols, in->elem);
    matrices[result] = out;
    runtimeRows[result] = *count;
    if (rank == 3)
      viewShapes[result] = *shape;
    return lowerRuntimeRowCopy(
        lowering, scalars,
        {*in, out, *from, scalars.constant(0), *count, in->rows});
  }
  // Columns (and rows) with static bounds: a strided copy.
  SmallVector<int64_t> off, size;
  for (size_t i = 0; i < rank; ++i) {
    std::optional<int64_t> o = staticOf(offsets[i]), n = staticOf(sizes[i]);
    if (!o || !n)
      return op->emitError("the NPU slices columns at static offsets only");
    off.push_back(*o);
    size.push_back(*n);
  }
  int64_t eb = elemTypeBytes(in->elem);
  int64_t inner = rank == 3 ? (*shape)[2] : (*shape)[1];
  int64_t outInner = size.back();
  int64_t outCols = rank == 3 ? size[1] * size[2] : size[1];
  FailureOr<GmMatrix> out = resultFor(result, size[0], outCols, in->elem);
  if (failed(out))
    return failure();
  SmallVector<RowCopy> copies;
  if (rank == 2) {
    copies.push_back({out->address,
                      in->address + uint64_t((off[0] * inner + off[1]) * eb),
                      size[0], outInner * eb, inner * eb, outInner * eb});
  } else {
    int64_t mid = (*shape)[1];
    for (int64_t i = 0; i < size[0]; ++i)
      copies.push_back(
          {out->address + uint64_t(i * size[1] * outInner * eb),
           in->address +
               uint64_t((((off[0] + i) * mid + off[1]) * inner + off[2]) * eb),
           size[1], outInner * eb, inner * eb, outInner * eb});
    if (size[1] == mid) {
      // Every middle index: one copy of all the rows.
      copies.clear();
      copies.push_back(
          {out->address,
           in->address + uint64_t((off[0] * mid * inner + off[2]) * eb),
           size[0] * mid, outInner * eb, inner * eb, outInner * eb});
    }
    viewShapes[result] = size;
  }
  return lowerRowCopies(lowering, copies);
}

LogicalResult BodyLowering::lowerInsertSlice(Operation *op) {
  auto insert = cast<tensor::InsertSliceOp>(op);
  auto arg = dyn_cast<BlockArgument>(insert.getDest());
  if (!arg || !func.getArgAttr(arg.getArgNumber(), "moec.state"))
    return op->emitError("the NPU inserts slices into state (a KV cache) "
                         "only");
  FailureOr<GmMatrix> dst = matrixOf(insert.getDest());
  FailureOr<GmMatrix> src = matrixOf(insert.getSource());
  FailureOr<SmallVector<int64_t>> shape = shapeOf(insert.getDest());
  if (failed(dst) || failed(src) || failed(shape))
    return failure();
  SmallVector<OpFoldResult> offsets = insert.getMixedOffsets();
  SmallVector<OpFoldResult> sizes = insert.getMixedSizes();
  for (size_t i = 1; i < shape->size(); ++i) {
    auto offset = getConstantIntValue(offsets[i]);
    auto size = getConstantIntValue(sizes[i]);
    if (offset != 0 || size != (*shape)[i])
      return op->emitError("the NPU inserts whole rows into state only");
  }
  auto nodeOf = [&](OpFoldResult v) -> FailureOr<int64_t> {
    if (auto attr = dyn_cast<Attribute>(v))
      return scalars.constant(cast<IntegerAttr>(attr).getInt());
    return scalarOf(cast<Value>(v));
  };
  FailureOr<int64_t> at = nodeOf(offsets[0]);
  FailureOr<int64_t> count = nodeOf(sizes[0]);
  if (failed(at) || failed(count))
    return failure();
  matrices[insert.getResult()] = *dst;
  viewShapes[insert.getResult()] = *shape;
  return lowerRuntimeRowCopy(
      lowering, scalars,
      {*src, *dst, scalars.constant(0), *at, *count, src->rows});
}

LogicalResult BodyLowering::lowerConcat(Operation *op) {
  auto concat = cast<tensor::ConcatOp>(op);
  int64_t rank = concat.getType().getRank();
  if (concat.getDim() != uint64_t(rank - 1))
    return op->emitError("the NPU concatenates along the last dimension "
                         "only");
  SmallVector<GmMatrix> inputs;
  SmallVector<int64_t> widths;
  int64_t total = 0, rows = 0;
  SmallVector<int64_t> outShape;
  for (Value input : concat.getInputs()) {
    FailureOr<GmMatrix> m = matrixOf(input);
    FailureOr<SmallVector<int64_t>> s = shapeOf(input);
    if (failed(m) || failed(s))
      return failure();
    if (m->stride)
      return op->emitError("the NPU concatenates contiguous tensors only");
    inputs.push_back(*m);
    widths.push_back(s->back());
    total += s->back();
    rows = m->rows * m->cols / s->back();
    outShape = *s;
  }
  outShape.back() = total;
  ElemType elem = inputs.front().elem;
  int64_t eb = elemTypeBytes(elem);
  FailureOr<GmMatrix> out = resultFor(concat.getResult(), outShape[0],
                                      rows / outShape[0] * total, elem);
  if (failed(out))
    return failure();
  if (rank == 3)
    viewShapes[concat.getResult()] = outShape;
  SmallVector<RowCopy> copies;
  int64_t column = 0;
  for (auto [m, width] : llvm::zip(inputs, widths)) {
    copies.push_back({out->address + uint64_t(column * eb), m.address, rows,
                      width * eb, width * eb, total * eb});
    column += width;
  }
  return lowerRowCopies(lowering, copies);
}
