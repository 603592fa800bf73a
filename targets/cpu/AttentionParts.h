//===- AttentionParts.h - Pieces both attention kernels share ---*- C++ -*-===//
//
// What the streaming (Attention.cpp) and grouped (GroupedAttention.cpp)
// kernels share: the operands as buffers, vector loads that widen a
// 16-bit KV cache, the keys a query sees, and a softmax sum with a sink's
// logit added.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_CPU_ATTENTIONPARTS_H
#define MOEC_TARGETS_CPU_ATTENTIONPARTS_H

#include "dialects/decoder/IR/DecoderOps.h"
#include "moec/Conversion/LoopBuilder.h"

#include <optional>

namespace moec::cpu {

/// An attention op's operands as buffers, its shapes, and its output
/// buffer [Tq, heads, vDim].
struct AttentionOperands {
  AttentionOperands(LoopBuilder &b, decoder::AttentionOp op);
  mlir::Value q, k, v, sinks, output;
  /// Query and key positions of this call.
  mlir::Value tq, tk;
  int64_t heads, kvHeads, dim, vDim;
};

/// The keys [lo, hi) query i of tq sees among tk (its position is
/// tk - tq + i = hi - 1): all up to its own, or the last `window`.
struct KeyRange {
  mlir::Value lo, hi;
};
KeyRange keyRange(LoopBuilder &b, mlir::Value tq, mlir::Value tk, mlir::Value i,
                  std::optional<int64_t> window);

/// `lanes` elements of `buffer` from `at` on (those off `mask` zero) as f32
/// lanes; f16 and bf16 elements (a KV cache of that dtype) are widened.
mlir::Value loadF32(LoopBuilder &b, mlir::Value buffer, mlir::ValueRange at,
                    int64_t lanes, mlir::Value mask);

/// The softmax denominator `sum` (of exp(s - maximum)) with the sink's
/// logit sinks[head] added: sum + exp(sink - maximum), computed without
/// overflow when the sink is the larger.
mlir::Value sumWithSink(LoopBuilder &b, mlir::Value maximum, mlir::Value sum,
                        mlir::Value sinks, mlir::Value head);

} // namespace moec::cpu

#endif // MOEC_TARGETS_CPU_ATTENTIONPARTS_H
