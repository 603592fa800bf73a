//===- LowerModelOps.cpp - Dense, elementwise and routing ops -------------===//
//
// linalg matmuls and Gemm-style contractions, elementwise generics, and the
// moe router, dispatch, activation and combine, each as phases of commands
// (Lower*.cpp), their operands and results placed by BodyLowering.
//
//===----------------------------------------------------------------------===//

#include "Transforms/BodyLowering.h"

#include "Transforms/LowerRouting.h"
#include "Transforms/LowerVector.h"
#include "Transforms/Tiles.h"

#include "dialects/moe/IR/MoeTypes.h"

#include "dialects/decoder/IR/DecoderOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace moec;
using namespace moec::npu;

LogicalResult BodyLowering::lowerMatmul(linalg::MatmulOp op) {
  Value acc = op.getOutputs()[0];
  if (!acc.getDefiningOp<linalg::FillOp>())
    return op.emitError("the NPU lowers matmuls into a zero accumulator");
  return lowerDenseMatmul(op.getInputs()[0], op.getInputs()[1],
                          /*transposed=*/false, op.getResult(0));
}

LogicalResult BodyLowering::lowerDenseMatmul(Value a, Value b, bool transposed,
                                             Value result) {
  FailureOr<GmMatrix> rows = matrixOf(a);
  if (failed(rows))
    return failure();
  // A router's logits in three products (castForCube's `split`): a
  // rounding must not change which experts a token picks.
  bool split = feedsRouter(result);
  FailureOr<PackedMatrix> weight = packedWeight(b, transposed, {}, split);
  if (failed(weight))
    return failure();
  FailureOr<GmMatrix> cast = castForCube(lowering, *rows, split);
  if (failed(cast))
    return failure();
  FailureOr<GmMatrix> out =
      resultFor(result, rows->rows, weight->n, ElemType::F32);
  if (failed(out))
    return failure();
  // Rows that only the run time counts (the LM head on the last rows of a
  // prompt): one group of that many rows, so that the cube multiplies them
  // only.
  RowsAtRunTime count;
  if (auto found = runtimeRows.find(a); found != runtimeRows.end()) {
    int64_t node = found->second;
    count = [this, node](StreamBuilder &s, ScopedRegisters &regs) {
      return ScalarMaterializer(scalars, s, regs).get(node);
    };
  }
  return npu::lowerGroupedMatmul(lowering, *cast, *weight, nullptr, nullptr,
                                 *out, nullptr, nullptr, nullptr, count);
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
  AffineMap bMap = op.getIndexingMapsArray()[1];
  bool transposed = bMap.getResult(0) == getAffineDimExpr(1, op.getContext());
  return lowerDenseMatmul(op.getDpsInputs()[0], op.getDpsInputs()[1],
                          transposed, op.getResult(0));
}

/// a + b (f32, one shape) whose first user is an RMSNorm of it: a residual
/// connection, which the norm's phase adds (and stores).
static decoder::RmsNormOp residualNorm(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      op.getNumReductionLoops() != 0 ||
      !llvm::all_of(op.getIndexingMapsArray(),
                    [](AffineMap m) { return m.isIdentity(); }))
    return {};
  Block &body = op.getRegion().front();
  auto add = dyn_cast<arith::AddFOp>(&body.front());
  if (!add || body.getOperations().size() != 2 ||
      body.getTerminator()->getOperand(0) != add.getResult() ||
      !((add.getLhs() == body.getArgument(0) &&
         add.getRhs() == body.getArgument(1)) ||
        (add.getLhs() == body.getArgument(1) &&
         add.getRhs() == body.getArgument(0))))
    return {};
  Value sum = op.getResult(0);
  Operation *first = nullptr;
  for (Operation *user : sum.getUsers())
    if (!isa<tensor::DimOp>(user) && (!first || user->isBeforeInBlock(first)))
      first = user;
  auto norm = dyn_cast_or_null<decoder::RmsNormOp>(first);
  if (!norm || norm.getInput() != sum)
    return {};
  return norm;
}

LogicalResult BodyLowering::lowerGeneric(linalg::GenericOp op) {
  if (isContraction(op))
    return lowerContraction(op);
  // Keys and values rounded for an f16 or bf16 cache (--kv-cache): the
  // insertion into the cache converts them on its way.
  Block &body = op.getRegion().front();
  if (op.getNumDpsInputs() == 1 && op.getNumDpsInits() == 1 &&
      body.getOperations().size() == 2 && isa<arith::TruncFOp>(body.front()) &&
      llvm::all_of(op.getIndexingMapsArray(),
                   [](AffineMap m) { return m.isIdentity(); }) &&
      llvm::all_of(op.getResult(0).getUses(), [](OpOperand &use) {
        auto insert = dyn_cast<tensor::InsertSliceOp>(use.getOwner());
        return isa<tensor::DimOp>(use.getOwner()) ||
               (insert && use.get() == insert.getSource());
      })) {
    FailureOr<GmMatrix> in = matrixOf(op.getDpsInputs()[0]);
    FailureOr<SmallVector<int64_t>> shape = shapeOf(op.getDpsInputs()[0]);
    if (failed(in) || failed(shape))
      return failure();
    matrices[op.getResult(0)] = *in;
    viewShapes[op.getResult(0)] = *shape;
    return success();
  }
  if (residualNorm(op)) {
    // Placed now, written by the norm's phase.
    FailureOr<GmMatrix> a = matrixOf(op.getDpsInputs()[0]);
    FailureOr<GmMatrix> b = matrixOf(op.getDpsInputs()[1]);
    if (failed(a) || failed(b))
      return failure();
    if (a->elem == ElemType::F32 && b->elem == ElemType::F32 && !a->stride &&
        !b->stride && a->rows == b->rows && a->cols == b->cols) {
      FailureOr<GmMatrix> sum =
          resultFor(op.getResult(0), a->rows, a->cols, ElemType::F32);
      if (failed(sum))
        return failure();
      residualSums[op.getResult(0)] = {op.getDpsInputs()[0],
                                       op.getDpsInputs()[1]};
      return success();
    }
  }
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
        return op.emitError("an operand of ")
               << m->rows << " x " << m->cols
               << " elements differs from the result's " << rows << " x "
               << cols;
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
