//===- DecoderOps.cpp - Verifiers of the decoder dialect's ops ------------===//

#include "dialects/decoder/IR/DecoderOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace moec::decoder;

#define GET_OP_CLASSES
#include "dialects/decoder/IR/DecoderOps.cpp.inc"

/// Whether static extents `a` and `b` may be equal.
static bool compatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

LogicalResult EmbeddingOp::verify() {
  auto table = getTable().getType();
  auto ids = getIds().getType();
  auto result = getResult().getType();
  if (table.getRank() != 2)
    return emitOpError("table must be [V, H], not rank ") << table.getRank();
  if (ids.getRank() != 1)
    return emitOpError("ids must be [T], not rank ") << ids.getRank();
  if (result.getRank() != 2 ||
      !compatible(result.getDimSize(0), ids.getDimSize(0)) ||
      !compatible(result.getDimSize(1), table.getDimSize(1)))
    return emitOpError("result must be [T, H] = [")
           << ids.getDimSize(0) << ", " << table.getDimSize(1) << "], not "
           << result;
  return success();
}

LogicalResult RmsNormOp::verify() {
  auto input = getInput().getType();
  auto weight = getWeight().getType();
  if (input.getRank() < 1)
    return emitOpError("input must have at least one dimension");
  int64_t hidden = input.getDimSize(input.getRank() - 1);
  if (weight.getRank() != 1 || !compatible(weight.getDimSize(0), hidden))
    return emitOpError("weight must be [H] with H = ")
           << hidden << " (the input's last dimension), not " << weight;
  if (!(getEpsilon().convertToDouble() > 0.0))
    return emitOpError("epsilon must be positive");
  return success();
}

LogicalResult RopeOp::verify() {
  auto input = getInput().getType();
  auto positions = getPositions().getType();
  if (input.getRank() != 3)
    return emitOpError("input must be [T, N, D], not rank ") << input.getRank();
  if (positions.getRank() != 1 ||
      !compatible(positions.getDimSize(0), input.getDimSize(0)))
    return emitOpError("positions must be [T] with T = ")
           << input.getDimSize(0) << ", not " << positions;
  int64_t rotated = 2 * int64_t(getInvFreq().size());
  for (Attribute f : getInvFreq())
    if (!isa<FloatAttr>(f))
      return emitOpError("inv_freq must hold floats");
  int64_t head = input.getDimSize(2);
  if (rotated == 0)
    return emitOpError("inv_freq must not be empty");
  if (!ShapedType::isDynamic(head) && rotated > head)
    return emitOpError("rotates ")
           << rotated << " dimensions (2 x inv_freq), more than the head's "
           << head;
  for (Attribute f : getInvFreq())
    if (!std::isfinite(cast<FloatAttr>(f).getValueAsDouble()))
      return emitOpError("inv_freq must be finite");
  if (!std::isfinite(getAmplitude().convertToDouble()))
    return emitOpError("amplitude must be finite");
  return success();
}

LogicalResult AttentionOp::verify() {
  auto q = getQuery().getType();
  auto k = getKey().getType();
  auto v = getValue().getType();
  auto result = getResult().getType();
  if (q.getRank() != 3 || k.getRank() != 3 || v.getRank() != 3)
    return emitOpError("query, key and value must be [T, heads, head_dim]");
  int64_t heads = q.getDimSize(1), kvHeads = k.getDimSize(1);
  if (ShapedType::isDynamic(heads) || ShapedType::isDynamic(kvHeads) ||
      kvHeads == 0 || heads % kvHeads != 0)
    return emitOpError("query heads (")
           << heads << ") must be a static multiple of key heads (" << kvHeads
           << ")";
  if (!compatible(q.getDimSize(2), k.getDimSize(2)))
    return emitOpError("query and key head sizes differ: ")
           << q.getDimSize(2) << " and " << k.getDimSize(2);
  if (!compatible(v.getDimSize(0), k.getDimSize(0)) ||
      !compatible(v.getDimSize(1), kvHeads))
    return emitOpError("value must be [Tk, KV, Dv] like key, not ") << v;
  if (!ShapedType::isDynamic(q.getDimSize(0)) &&
      !ShapedType::isDynamic(k.getDimSize(0)) &&
      q.getDimSize(0) > k.getDimSize(0))
    return emitOpError("has more queries (")
           << q.getDimSize(0) << ") than keys (" << k.getDimSize(0) << ")";
  if (result.getRank() != 3 ||
      !compatible(result.getDimSize(0), q.getDimSize(0)) ||
      !compatible(result.getDimSize(1), heads) ||
      !compatible(result.getDimSize(2), v.getDimSize(2)))
    return emitOpError("result must be [Tq, H, Dv], not ") << result;
  if (Value sinks = getSinks()) {
    auto s = cast<RankedTensorType>(sinks.getType());
    if (s.getRank() != 1 || !compatible(s.getDimSize(0), heads))
      return emitOpError("sinks must be [H] with H = ")
             << heads << ", not " << s;
  }
  if (!(getScale().convertToDouble() > 0.0) ||
      !std::isfinite(getScale().convertToDouble()))
    return emitOpError("scale must be positive and finite");
  return success();
}
