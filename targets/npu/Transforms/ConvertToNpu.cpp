//===- ConvertToNpu.cpp - Entry points to npu command streams -------------===//
//
// Walks an entry point's body once per token-count bucket, with every
// shape known: index arithmetic and run-time checks are evaluated here,
// each tensor op becomes one phase of commands (Lower*.cpp), and weights
// are packed once for all buckets. The body is then replaced by an
// npu.run of the inputs and the packed weights.
//
//===----------------------------------------------------------------------===//

#include "Transforms/Passes.h"

#include "Transforms/LowerRouting.h"
#include "Transforms/LowerVector.h"
#include "Transforms/Packing.h"
#include "Transforms/Tiles.h"

#include "dialects/moe/IR/MoeOps.h"
#include "dialects/moe/IR/MoeTypes.h"
#include "machine/ChipDescription.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

#include "llvm/ADT/TypeSwitch.h"

namespace moec::npu {
#define GEN_PASS_DEF_CONVERTTONPU
#include "Transforms/Passes.h.inc"
} // namespace moec::npu

using namespace mlir;
using namespace moec;
using namespace moec::npu;

namespace {

/// One walk of an entry point's body for one bucket.
class BodyLowering {
public:
  BodyLowering(ProgramLowering &lowering, func::FuncOp func,
               DenseMap<Value, std::pair<unsigned, bool>> &quantizedForms,
               DenseSet<Value> &int8Corrections)
      : lowering(lowering), func(func), quantizedForms(quantizedForms),
        int8Corrections(int8Corrections) {}

  LogicalResult run();

private:
  LogicalResult lowerOp(Operation *op);
  /// The static shape of a tensor value of this bucket.
  FailureOr<SmallVector<int64_t>> shapeOf(Value value);
  FailureOr<int64_t> indexOf(Value value);
  /// The matrix of an operand that lives in global memory (an input or an
  /// op's result), or a weight placed as it is.
  FailureOr<GmMatrix> matrixOf(Value value);
  /// Global memory for `value`: an output segment when it is returned.
  FailureOr<GmMatrix> resultFor(Value value, int64_t rows, int64_t cols,
                                ElemType elem);
  FailureOr<GmMatrix> placeWeight(Value value);
  /// The program's segment of packed weight `index`, added on first use.
  uint32_t weightSegment(unsigned index);
  FailureOr<QuantizedMatrix> quantizedWeight(Value value, bool deinterleave);
  FailureOr<PackedMatrix> packedWeight(Value value, bool transposed,
                                       RowOrder order = {}, bool split = false);

  LogicalResult lowerMatmul(linalg::MatmulOp op);
  LogicalResult lowerGeneric(linalg::GenericOp op);
  LogicalResult lowerContraction(linalg::GenericOp op);
  LogicalResult lowerRouter(moe::RouterOp op);
  LogicalResult lowerDispatch(moe::DispatchOp op);
  LogicalResult lowerGroupedMatmul(moe::GroupedMatmulOp op);
  /// --act=int8: int8 rows times int8 weights on the i8 cube.
  LogicalResult lowerInt8Matmul(moe::GroupedMatmulOp op);
  LogicalResult lowerActivation(moe::ActivationOp op);
  LogicalResult lowerCombine(moe::CombineOp op);

  ProgramLowering &lowering;
  func::FuncOp func;
  DenseMap<Value, GmMatrix> matrices;
  DenseMap<Value, int64_t> indices;
  DenseMap<Value, SmallVector<int64_t>> emptyShapes;
  DenseMap<unsigned, uint32_t> weightSegments;
  /// Results of matmuls whose gate/up columns were packed concatenated.
  DenseSet<Value> deinterleaved;
  /// Int8 weights (lowerInt8Matmul) with a correction array.
  DenseSet<Value> &int8Corrections;
  /// Activations computed in their matmul's epilogue.
  DenseSet<Operation *> fusedActivations;
  /// Bits and signedness of the quantized weights packed so far.
  DenseMap<Value, std::pair<unsigned, bool>> &quantizedForms;
};

ElemType elemTypeOf(Type type) {
  if (type.isInteger(32))
    return ElemType::I32;
  if (type.isF16())
    return ElemType::F16;
  if (type.isBF16())
    return ElemType::BF16;
  return ElemType::F32;
}

bool isWeight(Value value) {
  Operation *def = value.getDefiningOp();
  return def &&
         (isa<moe::WeightOp>(def) || (isa<arith::ConstantOp>(def) &&
                                      isa<RankedTensorType>(value.getType())));
}

} // namespace

/// A linalg.generic that is a matmul into a zero accumulator: out[i, j] +=
/// a[i, k] * b[k, j] (or b[j, k]), as exporters write Gemm with transB.
static bool isContraction(Operation *op) {
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
  if (body.getOperations().size() != 3)
    return false;
  auto mul = dyn_cast<arith::MulFOp>(&body.front());
  auto add = dyn_cast<arith::AddFOp>(mul ? mul->getNextNode() : nullptr);
  if (!mul || !add)
    return false;
  Value in0 = body.getArgument(0), in1 = body.getArgument(1),
        acc = body.getArgument(2);
  bool mulOk = (mul.getLhs() == in0 && mul.getRhs() == in1) ||
               (mul.getLhs() == in1 && mul.getRhs() == in0);
  bool addOk = (add.getLhs() == acc && add.getRhs() == mul.getResult()) ||
               (add.getRhs() == acc && add.getLhs() == mul.getResult());
  return mulOk && addOk;
}

/// Whether every use of `value` is as the rows of a grouped matmul (the
/// cube's input): then it is kept in the cube's type.
static bool feedsCubeOnly(Value value) {
  return !value.use_empty() &&
         llvm::all_of(value.getUses(), [](OpOperand &use) {
           auto matmul = dyn_cast<moe::GroupedMatmulOp>(use.getOwner());
           return matmul && use.get() == matmul.getRows() &&
                  !matmul->hasAttr("moec.int8_activations");
         });
}

/// Whether `value` reaches a router's logits, directly or through
/// elementwise ops (a bias).
static bool feedsRouter(Value value) {
  for (Operation *user : value.getUsers()) {
    if (isa<moe::RouterOp>(user))
      return true;
    if (isa<linalg::GenericOp>(user) && feedsRouter(user->getResult(0)))
      return true;
  }
  return false;
}

FailureOr<int64_t> BodyLowering::indexOf(Value value) {
  auto found = indices.find(value);
  if (found != indices.end())
    return found->second;
  return emitError(value.getLoc(), "the NPU lowering needs this index to be "
                                   "known at compile time");
}

FailureOr<SmallVector<int64_t>> BodyLowering::shapeOf(Value value) {
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
  auto found = lowering.weights.byValue.find(value);
  unsigned index;
  if (found == lowering.weights.byValue.end()) {
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
                                                   RowOrder order, bool split) {
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

FailureOr<GmMatrix> BodyLowering::matrixOf(Value value) {
  if (auto found = matrices.find(value); found != matrices.end())
    return found->second;
  if (isWeight(value))
    return placeWeight(value);
  return emitError(value.getLoc(), "the NPU lowering has no global-memory "
                                   "tensor for this value");
}

LogicalResult BodyLowering::run() {
  // Inputs: the token dimension is the bucket's.
  for (BlockArgument arg : func.getArguments()) {
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!type || type.getRank() < 1 || type.getRank() > 2)
      return func.emitError("the NPU target takes 1-D or 2-D tensor inputs, "
                            "got ")
             << arg.getType();
    for (int64_t i = 1; i < type.getRank(); ++i)
      if (type.isDynamicDim(i))
        return func.emitError("the NPU target needs static shapes but for "
                              "the first (token) dimension; input ")
               << arg.getArgNumber() << " is " << type;
    GmMatrix m;
    m.rows = type.getRank() == 1    ? 1
             : type.isDynamicDim(0) ? lowering.tokens
                                    : type.getDimSize(0);
    m.cols = type.getRank() == 1
                 ? (type.isDynamicDim(0) ? lowering.tokens : type.getDimSize(0))
                 : type.getDimSize(1);
    m.elem = elemTypeOf(type.getElementType());
    uint32_t segment = lowering.addSegment("input", m.bytes(),
                                           std::to_string(arg.getArgNumber()));
    m.address = gmAddress(segment, 0);
    matrices[arg] = m;
  }
  for (Operation &op : func.getBody().front())
    if (failed(lowerOp(&op)))
      return failure();
  lowering.finish();
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
    return success();
  }
  if (isa<arith::MaxUIOp, arith::MinUIOp, arith::AddIOp, arith::MulIOp,
          arith::CmpIOp, arith::SubIOp>(op)) {
    FailureOr<int64_t> a = indexOf(op->getOperand(0));
    FailureOr<int64_t> b = indexOf(op->getOperand(1));
    if (failed(a) || failed(b))
      return failure();
    int64_t value = llvm::TypeSwitch<Operation *, int64_t>(op)
                        .Case([&](arith::MaxUIOp) { return std::max(*a, *b); })
                        .Case([&](arith::MinUIOp) { return std::min(*a, *b); })
                        .Case([&](arith::AddIOp) { return *a + *b; })
                        .Case([&](arith::SubIOp) { return *a - *b; })
                        .Case([&](arith::MulIOp) { return *a * *b; })
                        .Case([&](arith::CmpIOp cmp) -> int64_t {
                          switch (cmp.getPredicate()) {
                          case arith::CmpIPredicate::eq:
                            return *a == *b;
                          case arith::CmpIPredicate::ne:
                            return *a != *b;
                          case arith::CmpIPredicate::slt:
                          case arith::CmpIPredicate::ult:
                            return *a < *b;
                          case arith::CmpIPredicate::sle:
                          case arith::CmpIPredicate::ule:
                            return *a <= *b;
                          case arith::CmpIPredicate::sgt:
                          case arith::CmpIPredicate::ugt:
                            return *a > *b;
                          case arith::CmpIPredicate::sge:
                          case arith::CmpIPredicate::uge:
                            return *a >= *b;
                          }
                          return 0;
                        });
    indices[op->getResult(0)] = value;
    return success();
  }
  if (auto assertOp = dyn_cast<cf::AssertOp>(op)) {
    FailureOr<int64_t> holds = indexOf(assertOp.getArg());
    if (failed(holds))
      return failure();
    if (!*holds)
      return op->emitError("fails for ")
             << lowering.tokens << " tokens: " << assertOp.getMsg();
    return success();
  }
  if (auto empty = dyn_cast<tensor::EmptyOp>(op)) {
    SmallVector<int64_t> shape;
    unsigned dynamic = 0;
    for (int64_t d : empty.getType().getShape()) {
      if (!ShapedType::isDynamic(d)) {
        shape.push_back(d);
        continue;
      }
      FailureOr<int64_t> size = indexOf(empty.getDynamicSizes()[dynamic++]);
      if (failed(size))
        return failure();
      shape.push_back(*size);
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
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
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

LogicalResult BodyLowering::lowerMatmul(linalg::MatmulOp op) {
  Value acc = op.getOutputs()[0];
  if (!acc.getDefiningOp<linalg::FillOp>())
    return op.emitError("the NPU lowers matmuls into a zero accumulator");
  FailureOr<GmMatrix> a = matrixOf(op.getInputs()[0]);
  if (failed(a))
    return failure();
  // A router's logits in three products (castForCube's `split`): a
  // rounding must not change which experts a token picks.
  bool split = feedsRouter(op.getResult(0));
  FailureOr<PackedMatrix> b =
      packedWeight(op.getInputs()[1], /*transposed=*/false, {}, split);
  if (failed(b))
    return failure();
  FailureOr<GmMatrix> rows = castForCube(lowering, *a, split);
  if (failed(rows))
    return failure();
  FailureOr<GmMatrix> out =
      resultFor(op.getResult(0), a->rows, b->n, ElemType::F32);
  if (failed(out))
    return failure();
  return npu::lowerGroupedMatmul(lowering, *rows, *b, nullptr, nullptr, *out);
}

LogicalResult BodyLowering::lowerInt8Matmul(moe::GroupedMatmulOp op) {
  FailureOr<GmMatrix> rows = matrixOf(op.getRows());
  FailureOr<GmMatrix> offsets = matrixOf(op.getOffsets());
  if (failed(rows) || failed(offsets))
    return failure();
  if (rows->elem != ElemType::F32)
    return op.emitError("int8 activations quantize f32 rows");
  if (!lowering.chip.findCube(ElemType::I8))
    return op.emitError("chip '")
           << lowering.chip.name << "' has no i8 cube for --act=int8";
  auto type = cast<moe::PackedType>(op.getWeight().getType());
  moe::PackingAttr packing = type.getPacking();
  ArrayRef<int64_t> block = packing.getBlock();
  int64_t k = type.getTensorType().getShape().back();
  if (packing.getBits() != 8 || block[block.size() - 2] != 1 ||
      block.back() < k)
    return op.emitError("the NPU runs --act=int8 on its i8 cube with int8 "
                        "weights of one scale per output row (--quantize "
                        "int8); this weight is ")
           << moe::stringifyPackedFormat(packing.getFormat())
           << " in blocks of " << block.back() << " inputs";
  bool interleaved = false;
  if (op->hasOneUse())
    if (auto act = dyn_cast<moe::ActivationOp>(*op->getUsers().begin()))
      interleaved =
          act.getLayout() == moe::GateUpLayout::Interleaved && !act.getUp();
  // Blocks of 128 output rows: the epilogue's product of two vectors
  // needs a second tile in UB.
  FailureOr<PackedMatrix> layout = chooseWeightBlocks(
      lowering, ElemType::I8,
      type.getTensorType().getRank() == 3 ? type.getTensorType().getDimSize(0)
                                          : 1,
      type.getTensorType().getShape().end()[-2], k, 128);
  if (failed(layout))
    return failure();
  // The weight: q - shift as int8 (shift 128 for uint8), and per output
  // row its scale and, with a zero point or a shift, shift - zero.
  Value weight = op.getWeight();
  unsigned first;
  bool corrected;
  if (auto found = lowering.weights.byValue.find(weight);
      found != lowering.weights.byValue.end()) {
    first = found->second;
    corrected = int8Corrections.contains(weight);
  } else {
    const CubeShape *cube = lowering.chip.findCube(ElemType::I8);
    FailureOr<QuantizedTensor> tensor = readQuantizedTensor(weight, cube->k);
    if (failed(tensor))
      return failure();
    if (interleaved && failed(deinterleaveRows(*tensor, weight.getLoc())))
      return failure();
    int32_t shift = tensor->isSigned ? 0 : 128;
    first =
        addInt8CubeWeight(lowering.weights, weight, *tensor, *layout, shift);
    FloatTensor scales, corrections;
    scales.shape = corrections.shape = {tensor->groups, tensor->n};
    corrected = false;
    for (int64_t g = 0; g < tensor->groups; ++g)
      for (int64_t row = 0; row < tensor->n; ++row) {
        size_t b = tensor->blockOf(g, row, 0);
        scales.values.push_back(tensor->scales[b]);
        corrections.values.push_back(float(shift) - tensor->zeros[b]);
        corrected |= corrections.values.back() != 0.0f;
      }
    // The weight's next two entries in the table; its value names the
    // first.
    addPlainWeight(lowering.weights, weight, scales);
    if (corrected) {
      addPlainWeight(lowering.weights, weight, corrections);
      int8Corrections.insert(weight);
    }
    lowering.weights.byValue[weight] = first;
  }
  layout->address = gmAddress(weightSegment(first), 0);
  Int8Epilogue epilogue;
  epilogue.columnScales.rows = layout->groups;
  epilogue.columnScales.cols = layout->n;
  epilogue.columnScales.address = gmAddress(weightSegment(first + 1), 0);
  if (corrected) {
    epilogue.corrections = epilogue.columnScales;
    epilogue.corrections->address = gmAddress(weightSegment(first + 2), 0);
  }
  std::optional<GmMatrix> bias;
  if (op.getBias()) {
    if (!lowering.weights.byValue.count(op.getBias())) {
      FailureOr<FloatTensor> data = readFloatTensor(op.getBias());
      if (failed(data))
        return failure();
      RowOrder order;
      if (interleaved)
        order.kind = RowOrder::Deinterleave;
      reorderColumns(*data, order);
      addPlainWeight(lowering.weights, op.getBias(), *data);
    }
    FailureOr<GmMatrix> placed = placeWeight(op.getBias());
    if (failed(placed))
      return failure();
    bias = *placed;
  }
  // The rows as int8 codes with their scales (and sums).
  GmMatrix codes = lowering.allocate(rows->rows, rows->cols, ElemType::I8);
  epilogue.rowScales = lowering.allocate(1, rows->rows, ElemType::F32);
  if (corrected)
    epilogue.rowSums = lowering.allocate(1, rows->rows, ElemType::F32);
  if (failed(
          lowerQuantizeRows(lowering, *rows, codes, epilogue.rowScales,
                            epilogue.rowSums ? &*epilogue.rowSums : nullptr)))
    return failure();
  FailureOr<GmMatrix> out =
      resultFor(op.getResult(), rows->rows, layout->n, ElemType::F32);
  if (failed(out))
    return failure();
  if (interleaved)
    deinterleaved.insert(op.getResult());
  return npu::lowerGroupedMatmul(lowering, codes, *layout, &*offsets,
                                 bias ? &*bias : nullptr, *out, nullptr,
                                 nullptr, &epilogue);
}

LogicalResult BodyLowering::lowerGroupedMatmul(moe::GroupedMatmulOp op) {
  if (op->hasAttr("moec.int8_activations"))
    return lowerInt8Matmul(op);
  FailureOr<GmMatrix> rows = matrixOf(op.getRows());
  FailureOr<GmMatrix> offsets = matrixOf(op.getOffsets());
  if (failed(rows) || failed(offsets))
    return failure();
  // A fused gate/up weight feeding its gated activation: float weights are
  // packed in gate/up blocks and the activation runs in the matmul's
  // epilogue; quantized ones are de-interleaved when interleaved, and the
  // activation reads the two halves.
  moe::ActivationOp act;
  if (op->hasOneUse())
    if (auto user = dyn_cast<moe::ActivationOp>(*op->getUsers().begin()))
      if (!user.getUp() && user.getActivation().isGated())
        act = user;
  bool interleaved = act && act.getLayout() == moe::GateUpLayout::Interleaved;
  bool quantizedWeight_ =
      bool(op.getWeight().getDefiningOp<moe::PackedWeightOp>());
  bool fuse = act && !quantizedWeight_;
  RowOrder order;
  if (fuse) {
    order.kind = RowOrder::GateUpBlocks;
    order.interleavedSource = interleaved;
  } else if (interleaved) {
    order.kind = RowOrder::Deinterleave;
  }
  std::optional<QuantizedMatrix> quantized;
  FailureOr<PackedMatrix> weight = failure();
  if (quantizedWeight_) {
    FailureOr<QuantizedMatrix> q = quantizedWeight(op.getWeight(), interleaved);
    if (failed(q))
      return failure();
    quantized = *q;
    weight = q->layout;
  } else {
    weight = packedWeight(op.getWeight(), /*transposed=*/true, order);
  }
  if (failed(weight))
    return failure();
  if (fuse) {
    order.half = weight->blockN / 2;
    order.width = act.getResult().getType().getDimSize(1);
  }
  std::optional<GmMatrix> bias;
  if (op.getBias()) {
    if (!lowering.weights.byValue.count(op.getBias())) {
      FailureOr<FloatTensor> data = readFloatTensor(op.getBias());
      if (failed(data))
        return failure();
      reorderColumns(*data, order);
      addPlainWeight(lowering.weights, op.getBias(), *data);
    }
    FailureOr<GmMatrix> placed = placeWeight(op.getBias());
    if (failed(placed))
      return failure();
    bias = *placed;
    bias->rows = weight->groups;
    bias->cols = weight->n;
  }
  FailureOr<GmMatrix> rowsForCube = castForCube(lowering, *rows);
  if (failed(rowsForCube))
    return failure();
  if (fuse) {
    moe::ActivationAttr attr = act.getActivation();
    FusedActivation fused;
    fused.kind = attr.getKind();
    fused.alpha = attr.getAlpha().convertToDouble();
    fused.beta = attr.getBeta().convertToDouble();
    if (attr.getLimit())
      fused.limit = attr.getLimit()->convertToDouble();
    fused.half = order.half;
    FailureOr<GmMatrix> out = resultFor(
        act.getResult(), rows->rows, order.width,
        feedsCubeOnly(act.getResult()) ? lowering.cubeType : ElemType::F32);
    if (failed(out))
      return failure();
    fusedActivations.insert(act);
    return npu::lowerGroupedMatmul(lowering, *rowsForCube, *weight, &*offsets,
                                   bias ? &*bias : nullptr, *out, nullptr,
                                   &fused);
  }
  FailureOr<GmMatrix> out =
      resultFor(op.getResult(), rows->rows, weight->n, ElemType::F32);
  if (failed(out))
    return failure();
  if (interleaved)
    deinterleaved.insert(op.getResult());
  return npu::lowerGroupedMatmul(lowering, *rowsForCube, *weight, &*offsets,
                                 bias ? &*bias : nullptr, *out,
                                 quantized ? &*quantized : nullptr);
}

LogicalResult BodyLowering::lowerRouter(moe::RouterOp op) {
  FailureOr<GmMatrix> logits = matrixOf(op.getLogits());
  if (failed(logits))
    return failure();
  RouterPlan plan;
  if (op.getSelectionBias()) {
    FailureOr<GmMatrix> bias = matrixOf(op.getSelectionBias());
    if (failed(bias))
      return failure();
    plan.bias = *bias;
  }
  if (moe::GroupLimitAttr groups = op.getGroupsAttr()) {
    GroupPlan group;
    group.groups = groups.getNGroup();
    group.keep = groups.getTopkGroup();
    group.sumTop2 = groups.getScore() == moe::GroupScore::SumTop2;
    if (groups.getFill())
      group.fill = groups.getFill().getValueAsDouble();
    plan.groups = group;
  }
  plan.logits = *logits;
  plan.topK = op.getTopK();
  plan.scoring = op.getScoring();
  plan.normalize = op.getNormalize();
  if (op.getScale())
    plan.scale = op.getScale()->convertToDouble();
  FailureOr<GmMatrix> weights =
      resultFor(op.getWeights(), logits->rows, plan.topK, ElemType::F32);
  FailureOr<GmMatrix> ids =
      resultFor(op.getIds(), logits->rows, plan.topK, ElemType::I32);
  if (failed(weights) || failed(ids))
    return failure();
  plan.weights = *weights;
  plan.ids = *ids;
  return npu::lowerRouter(lowering, plan);
}

LogicalResult BodyLowering::lowerDispatch(moe::DispatchOp op) {
  if (op.getCapacity())
    return op.emitError("the NPU target does not lower a static-capacity "
                        "dispatch");
  if (!op.getExpertIds().getDefiningOp<moe::RouterOp>())
    return op.emitError("the NPU target dispatches a router's ids only "
                        "(skipped or remapped experts are not supported)");
  DispatchPlan plan;
  FailureOr<GmMatrix> input = matrixOf(op.getInput());
  FailureOr<GmMatrix> ids = matrixOf(op.getExpertIds());
  if (failed(input) || failed(ids))
    return failure();
  // Rows that only the cube reads are gathered in its type.
  bool forCube = feedsCubeOnly(op.getRows());
  if (forCube) {
    FailureOr<GmMatrix> cast = castForCube(lowering, *input);
    if (failed(cast))
      return failure();
    input = *cast;
  }
  plan.input = *input;
  plan.ids = *ids;
  plan.numExperts = op.getNumExperts();
  int64_t pairs = ids->rows * ids->cols;
  FailureOr<GmMatrix> rows =
      resultFor(op.getRows(), pairs, input->cols, input->elem);
  FailureOr<GmMatrix> permutation =
      resultFor(op.getPermutation(), 1, pairs, ElemType::I32);
  FailureOr<GmMatrix> offsets =
      resultFor(op.getOffsets(), 1, plan.numExperts + 1, ElemType::I32);
  if (failed(rows) || failed(permutation) || failed(offsets))
    return failure();
  plan.rows = *rows;
  plan.permutation = *permutation;
  plan.offsets = *offsets;
  return npu::lowerDispatch(lowering, plan);
}

LogicalResult BodyLowering::lowerActivation(moe::ActivationOp op) {
  if (fusedActivations.contains(op))
    return success();
  FailureOr<GmMatrix> input = matrixOf(op.getInput());
  if (failed(input))
    return failure();
  moe::ActivationAttr act = op.getActivation();
  ActivationPlan plan;
  plan.kind = act.getKind();
  plan.alpha = act.getAlpha().convertToDouble();
  plan.beta = act.getBeta().convertToDouble();
  if (act.getLimit())
    plan.limit = act.getLimit()->convertToDouble();
  plan.gated = act.isGated();
  plan.gate = *input;
  int64_t width = input->cols;
  if (plan.gated && op.getUp()) {
    FailureOr<GmMatrix> up = matrixOf(op.getUp());
    if (failed(up))
      return failure();
    plan.up = *up;
  } else if (plan.gated) {
    if (op.getLayout() == moe::GateUpLayout::Interleaved &&
        !deinterleaved.contains(op.getInput()))
      return op.emitError("the NPU lowers an interleaved gate/up only from a "
                          "grouped matmul it packs");
    width = input->cols / 2;
    plan.gate.cols = width;
    plan.gate.stride = input->rowBytes();
    plan.up = plan.gate;
    plan.up.address += width * 4;
  }
  FailureOr<GmMatrix> out = resultFor(
      op.getResult(), input->rows, width,
      feedsCubeOnly(op.getResult()) ? lowering.cubeType : ElemType::F32);
  if (failed(out))
    return failure();
  plan.output = *out;
  return npu::lowerActivation(lowering, plan);
}

LogicalResult BodyLowering::lowerCombine(moe::CombineOp op) {
  CombinePlan plan;
  FailureOr<GmMatrix> rows = matrixOf(op.getRows());
  FailureOr<GmMatrix> permutation = matrixOf(op.getPermutation());
  FailureOr<GmMatrix> weights = matrixOf(op.getRoutingWeights());
  if (failed(rows) || failed(permutation) || failed(weights))
    return failure();
  if (permutation->cols != weights->rows * weights->cols)
    return op.emitError("the NPU lowers a combine of every routed pair only");
  plan.rows = *rows;
  plan.permutation = *permutation;
  plan.weights = *weights;
  FailureOr<GmMatrix> out =
      resultFor(op.getResult(), weights->rows, rows->cols, ElemType::F32);
  if (failed(out))
    return failure();
  plan.output = *out;
  return npu::lowerCombine(lowering, plan);
}

LogicalResult BodyLowering::lowerContraction(linalg::GenericOp op) {
  FailureOr<GmMatrix> a = matrixOf(op.getDpsInputs()[0]);
  if (failed(a))
    return failure();
  AffineMap bMap = op.getIndexingMapsArray()[1];
  bool transposed = bMap.getResult(0) == getAffineDimExpr(1, op.getContext());
  bool split = feedsRouter(op.getResult(0));
  FailureOr<PackedMatrix> b =
      packedWeight(op.getDpsInputs()[1], transposed, {}, split);
  if (failed(b))
    return failure();
  FailureOr<GmMatrix> rows = castForCube(lowering, *a, split);
  if (failed(rows))
    return failure();
  FailureOr<GmMatrix> out =
      resultFor(op.getResult(0), a->rows, b->n, ElemType::F32);
  if (failed(out))
    return failure();
  return npu::lowerGroupedMatmul(lowering, *rows, *b, nullptr, nullptr, *out);
}

LogicalResult BodyLowering::lowerGeneric(linalg::GenericOp op) {
  if (isContraction(op))
    return lowerContraction(op);
  if (op.getNumDpsInits() != 1 || op.getNumLoops() > 2 ||
      op.getNumReductionLoops() != 0)
    return op.emitError("the NPU lowers elementwise linalg.generic ops of "
                        "at most two dimensions with one result");
  FailureOr<SmallVector<int64_t>> shape = shapeOf(op.getDpsInits()[0]);
  if (failed(shape))
    return failure();
  int64_t rows = shape->size() == 2 ? (*shape)[0] : 1;
  int64_t cols = shape->back();
  SmallVector<GmMatrix> inputs;
  SmallVector<InputBroadcast> broadcasts;
  AffineMap outMap = op.getIndexingMapsArray().back();
  if (!outMap.isIdentity())
    return op.emitError("the NPU lowers elementwise ops with an identity "
                        "output map");
  for (OpOperand *operand : op.getDpsInputOperands()) {
    if (!isa<RankedTensorType>(operand->get().getType()))
      return op.emitError("the NPU lowers elementwise ops on tensors only");
    FailureOr<GmMatrix> m = matrixOf(operand->get());
    if (failed(m))
      return failure();
    if (m->elem != ElemType::F32)
      return op.emitError("the NPU lowers f32 elementwise ops only");
    AffineMap map = op.getMatchingIndexingMap(operand);
    InputBroadcast broadcast = InputBroadcast::None;
    if (map.isIdentity()) {
      if (m->rows * m->cols != rows * cols)
        return op.emitError("an operand's shape differs from the result's");
    } else if (map.getNumResults() == 1 && map.getNumDims() == 2 &&
               map.getResult(0) == getAffineDimExpr(1, op.getContext())) {
      broadcast = InputBroadcast::Row;
    } else if (map.getNumResults() == 2 && map.getNumDims() == 2 &&
               map.getResult(0) == getAffineDimExpr(0, op.getContext()) &&
               map.getResult(1) == getAffineConstantExpr(0, op.getContext())) {
      broadcast = InputBroadcast::Column;
    } else {
      return op.emitError("the NPU lowers elementwise ops whose inputs are "
                          "the output's shape, a row or a column only");
    }
    inputs.push_back(*m);
    broadcasts.push_back(broadcast);
  }
  FailureOr<GmMatrix> out =
      resultFor(op.getResult(0), rows, cols, ElemType::F32);
  if (failed(out))
    return failure();
  return lowerElementwise(lowering, op, inputs, broadcasts, *out);
}

namespace {
struct ConvertToNpuPass : public npu::impl::ConvertToNpuBase<ConvertToNpuPass> {
  using ConvertToNpuBase::ConvertToNpuBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    ChipDescription chipDescription;
    std::string error;
    bool parsed = chip.empty()
                      ? parseChipDescription(getDefaultChipText().str(),
                                             chipDescription, error)
                      : readChipDescription(chip, chipDescription, error);
    if (!parsed) {
      // readChipDescription's message names the file.
      module.emitError("chip description ")
          << (chip.empty() ? std::string("davinci-ref (built in): ")
                           : std::string())
          << error;
      return signalPassFailure();
    }
    ElemType cube = cubeType == "bf16" ? ElemType::BF16 : ElemType::F16;
    if (cubeType != "f16" && cubeType != "bf16") {
      module.emitError("--npu-cube-type is f16 or bf16, not ") << cubeType;
      return signalPassFailure();
    }
    SmallVector<func::FuncOp> entries;
    for (auto func : module.getOps<func::FuncOp>())
      if (!func.isDeclaration() && func.isPublic())
        entries.push_back(func);
    for (func::FuncOp func : entries)
      if (failed(convertEntry(module, func, chipDescription, cube)))
        return signalPassFailure();
  }

  SmallVector<int64_t> bucketsFor(func::FuncOp func) {
    bool dynamic = llvm::any_of(func.getArgumentTypes(), [](Type type) {
      auto tensor = dyn_cast<RankedTensorType>(type);
      return tensor && !tensor.hasStaticShape();
    });
    if (!dynamic)
      return {0};
    SmallVector<int64_t> result;
    SmallVector<int64_t> wanted(buckets.begin(), buckets.end());
    if (wanted.empty())
      wanted = {1, 16, 64, 256, maxTokens};
    for (int64_t b : wanted)
      if (b >= 1 && b <= maxTokens && !llvm::is_contained(result, b))
        result.push_back(b);
    llvm::sort(result);
    if (result.empty() || result.back() != maxTokens)
      result.push_back(maxTokens);
    return result;
  }

  LogicalResult convertEntry(ModuleOp module, func::FuncOp func,
                             const ChipDescription &chip, ElemType cube) {
    if (!func.getBody().hasOneBlock())
      return func.emitError("the NPU target lowers straight-line entry "
                            "points only");
    WeightTable weights;
    DenseMap<Value, std::pair<unsigned, bool>> quantizedForms;
    DenseSet<Value> int8Corrections;
    for (int64_t tokens : bucketsFor(func)) {
      ProgramLowering lowering(chip, cube, tokens, module, func.getLoc(),
                               func.getName(), func.getNumArguments(), weights);
      if (failed(BodyLowering(lowering, func, quantizedForms, int8Corrections)
                     .run()))
        return failure();
    }
    // The body becomes: the packed weights, npu.run, return.
    Block &body = func.getBody().front();
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    OpBuilder builder(ret);
    SmallVector<Value> operands(func.getArguments());
    for (auto [i, weight] : llvm::enumerate(weights.weights))
      operands.push_back(createWeightOp(builder, func.getLoc(), weight,
                                        (func.getName() + ".npu").str()));
    auto run = RunOp::create(builder, func.getLoc(),
                             func.getFunctionType().getResults(),
                             func.getName(), operands);
    ret->setOperands(run.getResults());
    DenseSet<Operation *> kept = {run, ret};
    for (Value operand : operands)
      if (Operation *def = operand.getDefiningOp())
        kept.insert(def);
    SmallVector<Operation *> dead;
    for (Operation &op : body)
      if (!kept.contains(&op))
        dead.push_back(&op);
    for (Operation *op : llvm::reverse(dead)) {
      op->dropAllUses();
      op->erase();
    }
    return success();
  }
};
} // namespace
