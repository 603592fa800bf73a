//===- LowerDecoderOps.cpp - Embedding, RMSNorm, RoPE, attention ----------===//
//
// The decoder dialect's ops (kept by npu-keep-decoder-ops), their operands
// placed: the embedding table and norm weights as f32 arrays, RoPE's
// cosines and sines as tables per position computed here in f64, the KV
// cache's view of the keys a call sees. The phases are DecoderPhases.cpp
// and LowerAttention.cpp.
//
//===----------------------------------------------------------------------===//

#include "Transforms/BodyLowering.h"

#include "Transforms/DecoderPhases.h"
#include "Transforms/LowerAttention.h"
#include "Transforms/LowerCopies.h"

#include "dialects/decoder/IR/DecoderOps.h"

#include "llvm/ADT/StringExtras.h"

#include <cmath>
#include <cstring>

using namespace mlir;
using namespace moec;
using namespace moec::npu;

LogicalResult BodyLowering::lowerEmbedding(Operation *op) {
  auto embedding = cast<decoder::EmbeddingOp>(op);
  auto ids = dyn_cast<BlockArgument>(embedding.getIds());
  if (!ids)
    return op->emitError("the NPU looks up ids that are an input of the "
                         "model only (the host checks their range)");
  FailureOr<GmMatrix> table = matrixOf(embedding.getTable());
  FailureOr<GmMatrix> idWords = matrixOf(ids);
  if (failed(table) || failed(idWords))
    return failure();
  EmbeddingPlan plan;
  plan.table = *table;
  plan.ids = *idWords;
  plan.idWords =
      cast<RankedTensorType>(ids.getType()).getElementTypeBitWidth() == 64 ? 2
                                                                           : 1;
  int64_t rows = idWords->cols / plan.idWords;
  FailureOr<GmMatrix> out =
      resultFor(embedding.getResult(), rows, table->cols, ElemType::F32);
  if (failed(out))
    return failure();
  plan.output = *out;
  Builder b(op->getContext());
  std::string message = "decoder.embedding: token id {0} is outside the "
                        "vocabulary [0, " +
                        std::to_string(table->rows) + ")";
  checks.push_back(b.getDictionaryAttr(
      {b.getNamedAttr("message", b.getStringAttr(message)),
       b.getNamedAttr("input", b.getI64IntegerAttr(ids.getArgNumber())),
       b.getNamedAttr("lo", b.getI64IntegerAttr(0)),
       b.getNamedAttr("hi", b.getI64IntegerAttr(table->rows))}));
  return lowerEmbeddingPhase(lowering, plan);
}

LogicalResult BodyLowering::lowerRmsNorm(Operation *op) {
  auto norm = cast<decoder::RmsNormOp>(op);
  FailureOr<GmMatrix> input = matrixOf(norm.getInput());
  FailureOr<SmallVector<int64_t>> shape = shapeOf(norm.getInput());
  FailureOr<GmMatrix> weight = matrixOf(norm.getWeight());
  if (failed(input) || failed(shape) || failed(weight))
    return failure();
  if (input->stride)
    return op->emitError("the NPU normalizes contiguous rows only");
  RmsNormPlan plan;
  plan.input = *input;
  if (auto found = residualSums.find(norm.getInput());
      found != residualSums.end()) {
    // x = a + b, added (and stored) here.
    FailureOr<GmMatrix> a = matrixOf(found->second.first);
    FailureOr<GmMatrix> b = matrixOf(found->second.second);
    if (failed(a) || failed(b))
      return failure();
    plan.input = *a;
    plan.addend = *b;
    plan.sum = *input;
    alsoWritten.push_back(norm.getInput());
  }
  plan.input.cols = shape->back();
  plan.input.rows = input->rows * input->cols / plan.input.cols;
  plan.weight = *weight;
  plan.epsilon = norm.getEpsilon().convertToDouble();
  // Rows only the cube reads (q, k, v projections) are stored in its type.
  ElemType elem =
      feedsDenseCubeOnly(norm.getResult()) ? lowering.cubeType : ElemType::F32;
  FailureOr<GmMatrix> out =
      resultFor(norm.getResult(), plan.input.rows, plan.input.cols, elem);
  if (failed(out))
    return failure();
  plan.output = *out;
  // The result keeps the input's shape (rows of heads are a view).
  GmMatrix shaped = *out;
  shaped.rows = input->rows;
  shaped.cols = input->cols;
  matrices[norm.getResult()] = shaped;
  if (shape->size() == 3)
    viewShapes[norm.getResult()] = *shape;
  return lowerRmsNormPhase(lowering, plan);
}

LogicalResult BodyLowering::lowerRope(Operation *op) {
  auto rope = cast<decoder::RopeOp>(op);
  FailureOr<GmMatrix> input = matrixOf(rope.getInput());
  FailureOr<SmallVector<int64_t>> shape = shapeOf(rope.getInput());
  if (failed(input) || failed(shape))
    return failure();
  auto base = positionBase.find(rope.getPositions());
  if (base == positionBase.end())
    return op->emitError("the NPU lowers RoPE at consecutive positions from "
                         "the call's first only");
  if (shape->size() != 3 || input->stride)
    return op->emitError("the NPU rotates contiguous [tokens, heads, dim] "
                         "tensors only");
  SmallVector<double> invFreq;
  for (Attribute f : rope.getInvFreq())
    invFreq.push_back(cast<FloatAttr>(f).getValueAsDouble());
  double amplitude = rope.getAmplitude().convertToDouble();
  RopePlan plan;
  plan.heads = (*shape)[1];
  plan.headDim = (*shape)[2];
  plan.rotary = 2 * int64_t(invFreq.size());
  plan.interleaved = rope.getInterleaved();
  plan.position = base->second;
  if (plan.interleaved && plan.rotary != plan.headDim)
    return op->emitError("the NPU rotates interleaved pairs of whole heads "
                         "only");
  int64_t rows = context > 0 ? context : lowering.tokens;
  int64_t half = plan.rotary / 2;
  // One table per distinct frequencies, amplitude and length.
  std::string key = "rope:" + std::to_string(rows);
  for (double f : invFreq) {
    uint64_t bits;
    std::memcpy(&bits, &f, 8);
    key += "," + llvm::utohexstr(bits);
  }
  uint64_t bits;
  std::memcpy(&bits, &amplitude, 8);
  key += ";" + llvm::utohexstr(bits);
  auto table = [&](bool sine) {
    return generatedWeight(
        key + (sine ? ":sin" : ":cos"),
        [&] {
          std::vector<float> values(size_t(rows * half));
          for (int64_t pos = 0; pos < rows; ++pos)
            for (int64_t i = 0; i < half; ++i) {
              double angle = double(pos) * invFreq[i];
              values[pos * half + i] =
                  float((sine ? std::sin(angle) : std::cos(angle)) * amplitude);
            }
          std::vector<uint8_t> bytes(values.size() * 4);
          std::memcpy(bytes.data(), values.data(), bytes.size());
          return bytes;
        },
        rows, half, ElemType::F32);
  };
  plan.cosines = table(false);
  plan.sines = table(true);
  if (!ropeChecked) {
    // Positions past the table: the binary's --ctx-size beyond what moec
    // compiled for.
    ropeChecked = true;
    Builder b(op->getContext());
    int64_t reach = scalars.binary(ScalarKind::Add, plan.position, tokensNode);
    checks.push_back(b.getDictionaryAttr(
        {b.getNamedAttr("message",
                        b.getStringAttr("the sequence reaches {0} tokens, "
                                        "more than the {1} positions the NPU "
                                        "program was compiled for (moec "
                                        "--ctx-size)")),
         b.getNamedAttr("condition", b.getI64IntegerAttr(scalars.binary(
                                         ScalarKind::LessEqual, reach,
                                         scalars.constant(rows)))),
         b.getNamedAttr("values", b.getDenseI64ArrayAttr(
                                      {reach, scalars.constant(rows)}))}));
  }
  FailureOr<GmMatrix> out =
      resultFor(rope.getResult(), input->rows, input->cols, ElemType::F32);
  if (failed(out))
    return failure();
  viewShapes[rope.getResult()] = *shape;
  plan.input = *input;
  plan.output = *out;
  if (plan.rotary < plan.headDim &&
      failed(lowerRowCopies(
          lowering, {{out->address, input->address, input->rows,
                      input->rowBytes(), input->rowBytes(), out->rowBytes()}})))
    return failure();
  return lowerRopePhase(lowering, scalars, plan);
}

LogicalResult BodyLowering::lowerAttention(Operation *op) {
  auto attention = cast<decoder::AttentionOp>(op);
  FailureOr<GmMatrix> query = matrixOf(attention.getQuery());
  FailureOr<GmMatrix> key = matrixOf(attention.getKey());
  FailureOr<GmMatrix> value = matrixOf(attention.getValue());
  FailureOr<SmallVector<int64_t>> qShape = shapeOf(attention.getQuery());
  FailureOr<SmallVector<int64_t>> kShape = shapeOf(attention.getKey());
  FailureOr<SmallVector<int64_t>> vShape = shapeOf(attention.getValue());
  if (failed(query) || failed(key) || failed(value) || failed(qShape) ||
      failed(kShape) || failed(vShape))
    return failure();
  if (query->stride || key->stride || value->stride)
    return op->emitError("the NPU's attention reads contiguous tensors only");
  if (key->elem != value->elem)
    return op->emitError("the NPU's attention takes keys and values of one "
                         "type");
  AttentionPlan plan;
  plan.query = *query;
  plan.key = *key;
  plan.value = *value;
  plan.heads = (*qShape)[1];
  plan.headDim = (*qShape)[2];
  plan.kvHeads = (*kShape)[1];
  plan.valueDim = (*vShape)[2];
  plan.scale = attention.getScale().convertToDouble();
  if (std::optional<uint64_t> window = attention.getWindow())
    plan.window = int64_t(*window);
  if (Value sinks = attention.getSinks()) {
    FailureOr<GmMatrix> m = matrixOf(sinks);
    if (failed(m))
      return failure();
    plan.sinks = *m;
  }
  auto keys = runtimeRows.find(attention.getKey());
  plan.keys =
      keys != runtimeRows.end() ? keys->second : scalars.constant(key->rows);
  plan.queries = query->rows == lowering.tokens && tokensNode >= 0
                     ? tokensNode
                     : scalars.constant(query->rows);
  GmMatrix iota = generatedWeight(
      "iota",
      [] {
        std::vector<uint8_t> bytes(kAttentionKeyBlock * 4);
        for (int64_t i = 0; i < kAttentionKeyBlock; ++i) {
          float v = float(i);
          std::memcpy(bytes.data() + 4 * i, &v, 4);
        }
        return bytes;
      },
      1, kAttentionKeyBlock, ElemType::F32);
  FailureOr<GmMatrix> out =
      resultFor(attention.getResult(), query->rows, plan.heads * plan.valueDim,
                feedsDenseCubeOnly(attention.getResult()) ? lowering.cubeType
                                                          : ElemType::F32);
  if (failed(out))
    return failure();
  plan.output = *out;
  viewShapes[attention.getResult()] = {query->rows, plan.heads, plan.valueDim};
  return lowerAttentionPhase(lowering, scalars, plan, iota);
}
