//===- LowerBody.cpp - An entry point's values, weights and walk ----------===//
//
// The bucket's shapes and index values, where each tensor lives in global
// memory (segments, workspace), the weights packed for the cube, and the
// walk over the body's ops.
//
//===----------------------------------------------------------------------===//

#include "Transforms/BodyLowering.h"

#include "Transforms/LowerRouting.h"
#include "Transforms/LowerVector.h"
#include "Transforms/Tiles.h"

#include "dialects/decoder/IR/DecoderOps.h"
#include "dialects/moe/IR/MoeTypes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace moec;
using namespace moec::npu;

ElemType moec::npu::elemTypeOf(Type type) {
  if (type.isInteger(32))
    return ElemType::I32;
  if (type.isF16())
    return ElemType::F16;
  if (type.isBF16())
    return ElemType::BF16;
  return ElemType::F32;
}

bool moec::npu::isWeight(Value value) {
  Operation *def = value.getDefiningOp();
  return def &&
         (isa<moe::WeightOp>(def) || (isa<arith::ConstantOp>(def) &&
                                      isa<RankedTensorType>(value.getType())));
}

/// A linalg.generic that is a matmul into a zero accumulator: out[i, j] +=
/// a[i, k] * b[k, j] (or b[j, k]), as exporters write Gemm with transB.
bool moec::npu::isContraction(Operation *op) {
  auto generic = dyn_cast<linalg::GenericOp>(op);
  if (!generic || generic.getNumLoops() != 3 ||
      generic.getNumReductionLoops() != 1 || generic.getNumDpsInputs() != 2 ||
      !generic.getDpsInits()[0].getDefiningOp<linalg::FillOp>())
    return false;
  MLIRContext *ctx = op->getContext();
  auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
  SmallVector<AffineMap> maps = generic.getIndexingMapsArray();
  auto is = [&](AffineMap map, AffineExpr x, AffineExpr y) {
    return map.getNumResults() == 2 && map.getResult(0) == x &&
           map.getResult(1) == y;
  };
  if (!is(maps[0], d(0), d(2)) || !is(maps[2], d(0), d(1)) ||
      !(is(maps[1], d(2), d(1)) || is(maps[1], d(1), d(2))))
    return false;
  Block &body = generic.getRegion().front();
  // mulf, addf, yield, after an extf of an input (a BF16 weight) or two.
  auto yield = body.getTerminator();
  auto add =
      dyn_cast_or_null<arith::AddFOp>(yield->getOperand(0).getDefiningOp());
  auto mul = add ? dyn_cast_or_null<arith::MulFOp>(
                       (add.getLhs() == body.getArgument(2) ? add.getRhs()
                                                            : add.getLhs())
                           .getDefiningOp())
                 : nullptr;
  if (!mul)
    return false;
  unsigned extensions = 0;
  for (Operation &op : body)
    if (isa<arith::ExtFOp>(op))
      ++extensions;
  if (body.getOperations().size() != 3 + extensions)
    return false;
  auto unextended = [](Value v) {
    if (auto ext = v.getDefiningOp<arith::ExtFOp>())
      return ext.getIn();
    return v;
  };
  Value in0 = body.getArgument(0), in1 = body.getArgument(1),
        acc = body.getArgument(2);
  Value lhs = unextended(mul.getLhs()), rhs = unextended(mul.getRhs());
  bool mulOk = (lhs == in0 && rhs == in1) || (lhs == in1 && rhs == in0);
  bool addOk = (add.getLhs() == acc && add.getRhs() == mul.getResult()) ||
               (add.getRhs() == acc && add.getLhs() == mul.getResult());
  return mulOk && addOk;
}

/// Whether every use of `value` is as the rows of a grouped matmul (the
/// cube's input): then it is kept in the cube's type.
bool moec::npu::feedsCubeOnly(Value value) {
  return !value.use_empty() &&
         llvm::all_of(value.getUses(), [](OpOperand &use) {
           auto matmul = dyn_cast<moe::GroupedMatmulOp>(use.getOwner());
           return matmul && use.get() == matmul.getRows() &&
                  !matmul->hasAttr("moec.int8_activations");
         });
}

/// Whether `value` reaches a router's logits, directly or through
/// elementwise ops (a bias).
bool moec::npu::feedsRouter(Value value) {
  for (Operation *user : value.getUsers()) {
    if (isa<moe::RouterOp>(user))
      return true;
    if (isa<linalg::GenericOp>(user) && feedsRouter(user->getResult(0)))
      return true;
  }
  return false;
}

bool moec::npu::feedsDenseCubeOnly(Value value) {
  if (value.use_empty())
    return false;
  for (OpOperand &use : value.getUses()) {
    Operation *user = use.getOwner();
    if (isa<tensor::DimOp>(user))
      continue;
    if (isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp,
            tensor::ExtractSliceOp>(user)) {
      if (!feedsDenseCubeOnly(user->getResult(0)))
        return false;
      continue;
    }
    if (!(isa<linalg::MatmulOp>(user) || isContraction(user)) ||
        use.getOperandNumber() != 0 || feedsRouter(user->getResult(0)))
      return false;
  }
  return true;
}

/// Ops whose phase may run without a BARRIER_ALL after the one before when
/// they read nothing it wrote: each core's loads wait for its own stores
/// of the phase before (every chunk loop ends so), and no other core
/// writes what they read.
bool moec::npu::mayShareAPhase(Operation *op) {
  return isa<decoder::RopeOp, decoder::RmsNormOp, tensor::InsertSliceOp,
             linalg::MatmulOp>(op) ||
         isContraction(op);
}

FailureOr<int64_t> BodyLowering::indexOf(Value value) {
  auto found = indices.find(value);
  if (found != indices.end())
    return found->second;
  return emitError(value.getLoc(), "the NPU lowering needs this index to be "
                                   "known at compile time");
}

FailureOr<SmallVector<int64_t>> BodyLowering::shapeOf(Value value) {
  if (auto found = viewShapes.find(value); found != viewShapes.end())
    return found->second;
  if (auto found = emptyShapes.find(value); found != emptyShapes.end())
    return found->second;
  if (auto found = matrices.find(value); found != matrices.end()) {
    auto type = cast<RankedTensorType>(value.getType());
    if (type.getRank() == 1)
      return SmallVector<int64_t>{found->second.cols};
    return SmallVector<int64_t>{found->second.rows, found->second.cols};
  }
  auto type = cast<RankedTensorType>(value.getType());
  if (!type.hasStaticShape())
    return emitError(value.getLoc(), "the NPU lowering cannot tell the "
                                     "shape of this tensor");
  return SmallVector<int64_t>(type.getShape());
}

FailureOr<GmMatrix> BodyLowering::resultFor(Value value, int64_t rows,
                                            int64_t cols, ElemType elem) {
  for (OpOperand &use : value.getUses()) {
    if (!isa<func::ReturnOp>(use.getOwner()))
      continue;
    GmMatrix m;
    m.rows = rows;
    m.cols = cols;
    m.elem = elem;
    uint32_t segment = lowering.addSegment(
        "output", m.bytes(), std::to_string(use.getOperandNumber()));
    m.address = gmAddress(segment, 0);
    matrices[value] = m;
    return m;
  }
  GmMatrix m = lowering.allocate(rows, cols, elem);
  matrices[value] = m;
  return m;
}

uint32_t BodyLowering::weightSegment(unsigned index) {
  auto [segment, inserted] = weightSegments.try_emplace(index, 0);
  if (inserted)
    segment->second = lowering.addSegment(
        "weight", lowering.weights.weights[index].bytes.size(),
        std::to_string(lowering.inputCount + index));
  return segment->second;
}

FailureOr<GmMatrix> BodyLowering::placeWeight(Value value) {
  auto found = lowering.weights.plainByValue.find(value);
  unsigned index;
  if (found == lowering.weights.plainByValue.end()) {
    FailureOr<FloatTensor> data = readFloatTensor(value);
    if (failed(data))
      return failure();
    index = addPlainWeight(lowering.weights, value, *data);
  } else {
    index = found->second;
  }
  auto type = cast<RankedTensorType>(value.getType());
  GmMatrix m;
  m.cols = type.getShape().back();
  m.rows = type.getNumElements() / std::max<int64_t>(m.cols, 1);
  m.elem = ElemType::F32;
  m.address = gmAddress(weightSegment(index), 0);
  return m;
}

FailureOr<PackedMatrix> BodyLowering::packedWeight(Value value, bool transposed,
                                                   RowOrder order, bool split,
                                                   Value second) {
  if (!isWeight(value))
    return emitError(value.getLoc(), "the NPU's cube multiplies by weights "
                                     "(constants or moe.weight) only");
  FailureOr<PackedMatrix> layout;
  auto type = cast<RankedTensorType>(value.getType());
  int64_t groups = type.getRank() == 3 ? type.getDimSize(0) : 1;
  int64_t n =
      transposed ? type.getShape()[type.getRank() - 2] : type.getShape().back();
  int64_t k =
      transposed ? type.getShape().back() : type.getShape()[type.getRank() - 2];
  if (split)
    k *= 3;
  if (second)
    n *= 2;
  layout = chooseWeightBlocks(lowering, lowering.cubeType, groups, n, k);
  if (failed(layout))
    return failure();
  if (order.kind == RowOrder::GateUpBlocks) {
    // Half a block of gate rows, then the same up rows.
    order.half = layout->blockN / 2;
    order.width = n / 2;
    layout->n = order.packedRows(n);
  }
  auto found = lowering.weights.byValue.find(value);
  unsigned index;
  if (found == lowering.weights.byValue.end()) {
    FailureOr<FloatTensor> data = readFloatTensor(value);
    if (failed(data))
      return failure();
    if (split)
      *data = splitForCube(*data, lowering.cubeType, transposed);
    if (second) {
      FailureOr<FloatTensor> up = readFloatTensor(second);
      if (failed(up))
        return failure();
      *data = stackRows(*data, *up);
    }
    index = addCubeWeight(lowering.weights, value, *data, *layout, transposed,
                          order);
  } else {
    index = found->second;
  }
  layout->address = gmAddress(weightSegment(index), 0);
  return layout;
}

FailureOr<QuantizedMatrix> BodyLowering::quantizedWeight(Value value,
                                                         bool deinterleave) {
  const CubeShape *cube = lowering.chip.findCube(lowering.cubeType);
  if (!cube)
    return emitError(value.getLoc(), "the chip has no cube for ")
           << elemName(lowering.cubeType);
  auto type = cast<moe::PackedType>(value.getType());
  ArrayRef<int64_t> shape = type.getTensorType().getShape();
  int64_t groups = shape.size() == 3 ? shape[0] : 1;
  // Blocks of 64 output rows keep the dequantized chunk small in UB.
  FailureOr<PackedMatrix> layout =
      chooseWeightBlocks(lowering, lowering.cubeType, groups,
                         shape[shape.size() - 2], shape.back(), 64);
  if (failed(layout))
    return failure();
  auto found = lowering.weights.byValue.find(value);
  unsigned first;
  QuantizedMatrix q;
  if (found == lowering.weights.byValue.end()) {
    FailureOr<QuantizedTensor> tensor = readQuantizedTensor(value, cube->k);
    if (failed(tensor))
      return failure();
    if (deinterleave && failed(deinterleaveRows(*tensor, value.getLoc())))
      return failure();
    first = addQuantizedWeight(lowering.weights, value, *tensor, *layout);
    quantizedForms[value] = {tensor->bits, tensor->isSigned};
  } else {
    first = found->second;
  }
  q.bits = quantizedForms[value].first;
  q.isSigned = quantizedForms[value].second;
  q.layout = *layout;
  uint64_t *addresses[3] = {&q.values, &q.scales, &q.offsets};
  for (unsigned i = 0; i < 3; ++i)
    *addresses[i] = gmAddress(weightSegment(first + i), 0);
  return q;
}

GmMatrix BodyLowering::generatedWeight(
    StringRef key, const std::function<std::vector<uint8_t>()> &bytes,
    int64_t rows, int64_t cols, ElemType elem) {
  auto [found, inserted] =
      lowering.weights.byKey.try_emplace(key, lowering.weights.weights.size());
  if (inserted) {
    PackedWeight weight;
    weight.bytes = bytes();
    lowering.weights.weights.push_back(std::move(weight));
  }
  GmMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.elem = elem;
  m.address = gmAddress(weightSegment(found->second), 0);
  return m;
}

void BodyLowering::writeHostRecords() {
  Builder b(func.getContext());
  ProgramOp program = lowering.getProgram();
  program.setScalarsAttr(b.getDenseI64ArrayAttr(scalars.words()));
  program.setChecksAttr(b.getArrayAttr(checks));
  // Each output's rows: a size only the run time knows (the rows of logits
  // wanted), found through the ops that wrote the output.
  SmallVector<int64_t> rows;
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  for (Value value : ret.getOperands()) {
    int64_t node = -1;
    for (Value v = value; v;) {
      if (auto found = runtimeRows.find(v); found != runtimeRows.end()) {
        node = found->second;
        break;
      }
      auto dps = v.getDefiningOp<DestinationStyleOpInterface>();
      v = dps && dps.getNumDpsInits() == 1 ? dps.getDpsInits()[0] : Value();
    }
    rows.push_back(node);
  }
  program.setOutputRowsAttr(b.getDenseI64ArrayAttr(rows));
}

FailureOr<GmMatrix> BodyLowering::matrixOf(Value value) {
  if (auto found = matrices.find(value); found != matrices.end())
    return found->second;
  if (isWeight(value))
    return placeWeight(value);
  return emitError(value.getLoc(), "the NPU lowering has no global-memory "
                                   "tensor for this value");
}

LogicalResult BodyLowering::run() {
  if (auto attr = func->getParentOfType<ModuleOp>()->getAttrOfType<IntegerAttr>(
          "moec.context"))
    context = attr.getInt();
  // The call's extents: one slot per dynamic dimension of an input.
  int64_t slots = 0;
  for (BlockArgument arg : func.getArguments())
    if (auto type = dyn_cast<RankedTensorType>(arg.getType()))
      for (int64_t d = 0; d < type.getRank(); ++d)
        if (type.isDynamicDim(d))
          extentSlots[int64_t(arg.getArgNumber()) << 8 | d] = slots++;
  callSegment =
      lowering.addSegment("call", std::max<int64_t>(8, 8 * slots), "call");
  scalars.extentAddress = [this](int64_t slot) {
    return gmAddress(callSegment, 8 * slot);
  };
  scalars.inputAddress = [this](int64_t input) {
    return gmAddress(inputSegments.lookup(unsigned(input)), 0);
  };
  for (BlockArgument arg : func.getArguments())
    if (failed(lowerInput(arg)))
      return failure();
  // Values written since the last BARRIER_ALL, and whether the op that
  // ended that phase may share it.
  DenseSet<Value> recent;
  bool lastMayShare = false;
  for (Operation &op : func.getBody().front()) {
    lowering.phaseLabel = op.getName().getStringRef().str();
    if (auto role = op.getAttrOfType<StringAttr>("moec.linear"))
      lowering.phaseLabel += " (" + role.str() + ")";
    bool reads = llvm::any_of(op.getOperands(),
                              [&](Value v) { return recent.contains(v); });
    bool share = lastMayShare && mayShareAPhase(&op) && !reads;
    size_t barriers = lowering.barrierCount();
    if (share)
      lowering.dropLastBarrier();
    if (failed(lowerOp(&op)))
      return failure();
    if (lowering.barrierCount() + (share ? 1 : 0) == barriers) {
      // No phase (an index, a view): a view of a recent value is recent.
      if (reads)
        recent.insert(op.result_begin(), op.result_end());
      continue;
    }
    if (!share)
      recent.clear();
    recent.insert(op.result_begin(), op.result_end());
    recent.insert(alsoWritten.begin(), alsoWritten.end());
    alsoWritten.clear();
    lastMayShare = mayShareAPhase(&op);
  }
  // A state's new scalar (the position), once every phase has read the old.
  if (!stateStores.empty()) {
    StreamBuilder &s = lowering.core(0);
    ScopedRegisters regs{s};
    ScalarMaterializer values(scalars, s, regs);
    for (auto [arg, node] : stateStores) {
      uint64_t at = gmAddress(
          inputSegments.lookup(cast<BlockArgument>(arg).getArgNumber()), 0);
      s.store("gm", Val(int64_t(at)), values.get(node));
      s.store("gm", Val(int64_t(at + 4)), Val(0));
    }
  }
  writeHostRecords();
  lowering.finish();
  return success();
}

LogicalResult BodyLowering::lowerInput(BlockArgument arg) {
  auto type = dyn_cast<RankedTensorType>(arg.getType());
  if (!type || type.getRank() < 1 || type.getRank() > 3)
    return func.emitError("the NPU target takes tensor inputs of rank 1 to "
                          "3, got ")
           << arg.getType();
  unsigned index = arg.getArgNumber();
  bool state = bool(func.getArgAttr(index, "moec.state"));
  for (int64_t i = 1; i < type.getRank(); ++i)
    if (type.isDynamicDim(i))
      return func.emitError("the NPU target needs static shapes but for "
                            "the first dimension; input ")
             << index << " is " << type;
  if (!state && type.getRank() > 2)
    return func.emitError("the NPU target takes 1-D or 2-D tensor inputs, "
                          "got ")
           << arg.getType();
  int64_t first = !type.isDynamicDim(0) ? type.getDimSize(0)
                  : state               ? context
                                        : lowering.tokens;
  if (type.isDynamicDim(0) && state && context <= 0)
    return func.emitError("input ")
           << index << " is state sized by the context, but the module has "
           << "no moec.context";
  GmMatrix m;
  if (type.getRank() == 1 && !state) {
    m.rows = 1;
    m.cols = first;
  } else {
    m.rows = first;
    m.cols = 1;
    for (int64_t d : type.getShape().drop_front())
      m.cols *= d;
  }
  m.elem = elemTypeOf(type.getElementType());
  if (type.getElementType().isInteger(64)) {
    // Two int32 words per element (the low one first).
    m.elem = ElemType::I32;
    m.cols *= 2;
  }
  // The logical shape (an int64 input's matrix counts words).
  SmallVector<int64_t> shape(type.getShape());
  shape[0] = first;
  viewShapes[arg] = shape;
  uint64_t bytes = state && type.isDynamicDim(0) ? 0 : m.bytes();
  uint32_t segment = lowering.addSegment(state ? "state" : "input", bytes,
                                         std::to_string(index));
  inputSegments[index] = segment;
  m.address = gmAddress(segment, 0);
  matrices[arg] = m;
  if (!state && tokensNode < 0 && type.isDynamicDim(0))
    tokensNode = scalars.extent(extentSlots.lookup(int64_t(index) << 8));
  return success();
}

LogicalResult BodyLowering::lowerOp(Operation *op) {
  if (isa<moe::WeightOp, moe::PackedWeightOp, func::ReturnOp>(op))
    return success();
  if (auto constant = dyn_cast<arith::ConstantOp>(op)) {
    if (auto integer = dyn_cast<IntegerAttr>(constant.getValue()))
      indices[constant.getResult()] = integer.getInt();
    return success();
  }
  if (auto dim = dyn_cast<tensor::DimOp>(op)) {
    FailureOr<SmallVector<int64_t>> shape = shapeOf(dim.getSource());
    FailureOr<int64_t> index = indexOf(dim.getIndex());
    if (failed(shape) || failed(index) || *index < 0 ||
        *index >= int64_t(shape->size()))
      return op->emitError("the NPU lowering cannot evaluate this dimension");
    indices[dim.getResult()] = (*shape)[*index];
    // An input's dynamic dimension is the call's, known at run time.
    if (auto arg = dyn_cast<BlockArgument>(dim.getSource())) {
      auto slot = extentSlots.find(int64_t(arg.getArgNumber()) << 8 | *index);
      if (slot != extentSlots.end())
        runtimeIndices[dim.getResult()] = scalars.extent(slot->second);
    }
    return success();
  }
  if (isa<arith::MaxUIOp, arith::MinUIOp, arith::AddIOp, arith::MulIOp,
          arith::CmpIOp, arith::SubIOp, arith::AndIOp, arith::SelectOp,
          arith::IndexCastOp, arith::IndexCastUIOp, arith::ExtSIOp,
          arith::ExtUIOp, arith::TruncIOp>(op))
    return lowerIndexOp(op);
  if (auto assertOp = dyn_cast<cf::AssertOp>(op)) {
    FailureOr<int64_t> holds = indexOf(assertOp.getArg());
    if (failed(holds))
      return failure();
    if (!*holds)
      return op->emitError("fails for ")
             << lowering.tokens << " tokens: " << assertOp.getMsg();
    return success();
  }
  if (auto check = dyn_cast<moe::CheckOp>(op))
    return lowerCheck(check);
  if (auto empty = dyn_cast<tensor::EmptyOp>(op)) {
    SmallVector<int64_t> shape;
    unsigned dynamic = 0;
    for (int64_t d : empty.getType().getShape()) {
      if (!ShapedType::isDynamic(d)) {
        shape.push_back(d);
        continue;
      }
      // A size only the run time knows (the rows of logits wanted) is at
      // most the bucket's token count.
      Value size = empty.getDynamicSizes()[dynamic++];
      auto found = indices.find(size);
      if (found == indices.end() && runtimeIndices.count(size)) {
        shape.push_back(lowering.tokens);
        if (shape.size() == 1)
          runtimeRows[empty.getResult()] = runtimeIndices[size];
        continue;
      }
      FailureOr<int64_t> value = indexOf(size);
      if (failed(value))
        return failure();
      shape.push_back(*value);
    }
    emptyShapes[empty.getResult()] = shape;
    return success();
  }
  if (auto fill = dyn_cast<linalg::FillOp>(op)) {
    // A matmul's zero accumulator; the cube starts from zero.
    FailureOr<SmallVector<int64_t>> shape = shapeOf(fill.getOutputs()[0]);
    if (failed(shape))
      return failure();
    emptyShapes[fill.getResult(0)] = *shape;
    for (Operation *user : fill.getResult(0).getUsers())
      if (!isa<linalg::MatmulOp>(user) && !isContraction(user))
        return op->emitError("the NPU lowers linalg.fill only as a matmul's "
                             "zero accumulator");
    return success();
  }
  if (auto generic = dyn_cast<linalg::GenericOp>(op)) {
    if (recordPositions(generic))
      return success();
    FailureOr<bool> transposed = lowerTranspose(generic);
    if (failed(transposed))
      return failure();
    if (*transposed)
      return success();
  }
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case<tensor::ExpandShapeOp, tensor::CollapseShapeOp>(
          [&](Operation *o) { return lowerReshape(o); })
      .Case<tensor::ExtractSliceOp>(
          [&](Operation *o) { return lowerExtractSlice(o); })
      .Case<tensor::InsertSliceOp>(
          [&](Operation *o) { return lowerInsertSlice(o); })
      .Case<tensor::ConcatOp>([&](Operation *o) { return lowerConcat(o); })
      .Case<tensor::ExtractOp>(
          [&](Operation *o) { return lowerTensorExtract(o); })
      .Case<tensor::InsertOp>(
          [&](Operation *o) { return lowerTensorInsert(o); })
      .Case<tensor::FromElementsOp>(
          [&](Operation *o) { return lowerFromElements(o); })
      .Case<decoder::EmbeddingOp>(
          [&](Operation *o) { return lowerEmbedding(o); })
      .Case<decoder::RmsNormOp>([&](Operation *o) { return lowerRmsNorm(o); })
      .Case<decoder::RopeOp>([&](Operation *o) { return lowerRope(o); })
      .Case<decoder::AttentionOp>(
          [&](Operation *o) { return lowerAttention(o); })
      .Case([&](linalg::MatmulOp matmul) { return lowerMatmul(matmul); })
      .Case([&](linalg::GenericOp generic) { return lowerGeneric(generic); })
      .Case([&](moe::RouterOp router) { return lowerRouter(router); })
      .Case([&](moe::DispatchOp dispatch) { return lowerDispatch(dispatch); })
      .Case([&](moe::GroupedMatmulOp matmul) {
        return lowerGroupedMatmul(matmul);
      })
      .Case([&](moe::ActivationOp act) { return lowerActivation(act); })
      .Case([&](moe::CombineOp combine) { return lowerCombine(combine); })
      .Default([&](Operation *other) {
        return other->emitError("the NPU target cannot lower this op");
      });
}
