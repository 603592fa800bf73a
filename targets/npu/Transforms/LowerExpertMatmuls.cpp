//===- LowerExpertMatmuls.cpp - The experts' grouped matmuls --------------===//
//
// moe.grouped_matmul on float weights (packed for the cube, a gated
// activation in the epilogue), on quantized weights (dequantized chunk by
// chunk) and, with --act=int8, on the i8 cube.
//
//===----------------------------------------------------------------------===//

#include "Transforms/BodyLowering.h"

#include "Transforms/LowerRouting.h"
#include "Transforms/LowerVector.h"
#include "Transforms/Tiles.h"

#include "dialects/moe/IR/MoeTypes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace moec;
using namespace moec::npu;

FailureOr<GmMatrix> BodyLowering::placeBias(Value bias, const RowOrder &order,
                                            int64_t groups, int64_t n) {
  if (!lowering.weights.plainByValue.count(bias)) {
    FailureOr<FloatTensor> data = readFloatTensor(bias);
    if (failed(data))
      return failure();
    reorderColumns(*data, order);
    addPlainWeight(lowering.weights, bias, *data);
  }
  FailureOr<GmMatrix> placed = placeWeight(bias);
  if (failed(placed))
    return failure();
  // The packed columns (a gate/up order may pad them).
  placed->rows = groups;
  placed->cols = n;
  return placed;
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
    RowOrder order;
    if (interleaved)
      order.kind = RowOrder::Deinterleave;
    FailureOr<GmMatrix> placed =
        placeBias(op.getBias(), order, layout->groups, layout->n);
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

/// The up projection that a gated activation takes with `gate`, when the
/// two can be one matmul: separate float weights of one shape (a
/// checkpoint's w1 and w3) on the same rows, without biases.
static moe::GroupedMatmulOp separateUpOf(moe::GroupedMatmulOp gate) {
  if (!gate->hasOneUse())
    return {};
  auto act = dyn_cast<moe::ActivationOp>(*gate->getUsers().begin());
  if (!act || act.getInput() != gate.getResult() || !act.getUp() ||
      !act.getActivation().isGated())
    return {};
  auto up = act.getUp().getDefiningOp<moe::GroupedMatmulOp>();
  auto floatWeight = [](moe::GroupedMatmulOp m) {
    return !m.getWeight().getDefiningOp<moe::PackedWeightOp>() &&
           !m.getBias() && !m->hasAttr("moec.int8_activations");
  };
  if (!up || up == gate || !up->hasOneUse() || up.getRows() != gate.getRows() ||
      up.getOffsets() != gate.getOffsets() ||
      up.getWeight().getType() != gate.getWeight().getType() ||
      !floatWeight(gate) || !floatWeight(up))
    return {};
  return up;
}

/// Whether `op` is the up projection of a gate that lowers both.
static bool isFusedUp(moe::GroupedMatmulOp op) {
  if (!op->hasOneUse())
    return false;
  auto act = dyn_cast<moe::ActivationOp>(*op->getUsers().begin());
  if (!act || act.getUp() != op.getResult())
    return false;
  auto gate = act.getInput().getDefiningOp<moe::GroupedMatmulOp>();
  return gate && separateUpOf(gate) == op;
}

LogicalResult BodyLowering::lowerGroupedMatmul(moe::GroupedMatmulOp op) {
  if (isFusedUp(op))
    return success();
  if (op->hasAttr("moec.int8_activations"))
    return lowerInt8Matmul(op);
  FailureOr<GmMatrix> rows = matrixOf(op.getRows());
  FailureOr<GmMatrix> offsets = matrixOf(op.getOffsets());
  if (failed(rows) || failed(offsets))
    return failure();
  // A fused gate/up weight feeding its gated activation (or separate gate
  // and up weights, stacked): float weights are packed in gate/up blocks
  // and the activation runs in the matmul's epilogue; quantized ones are
  // de-interleaved when interleaved, and the activation reads the two
  // halves.
  moe::ActivationOp act;
  moe::GroupedMatmulOp up = separateUpOf(op);
  if (op->hasOneUse())
    if (auto user = dyn_cast<moe::ActivationOp>(*op->getUsers().begin()))
      if ((!user.getUp() || up) && user.getActivation().isGated())
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
    weight = packedWeight(op.getWeight(), /*transposed=*/true, order,
                          /*split=*/false, up ? up.getWeight() : Value());
  }
  if (failed(weight))
    return failure();
  if (fuse) {
    order.half = weight->blockN / 2;
    order.width = act.getResult().getType().getDimSize(1);
  }
  std::optional<GmMatrix> bias;
  if (op.getBias()) {
    FailureOr<GmMatrix> placed =
        placeBias(op.getBias(), order, weight->groups, weight->n);
    if (failed(placed))
      return failure();
    bias = *placed;
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
