//===- LowerAttention.h - Attention on the cube and vector unit -*- C++ -*-===//
//
// decoder.attention over a KV cache in global memory, as flash attention:
// per unit of work (a KV head and a tile of query tokens, the query heads
// that share the KV head stacked as rows), the scores of each block of keys
// on the cube, the mask and an online softmax on the vector unit, the
// probabilities times the block's values on the cube, accumulated in UB.
// Units are spread over the cores.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_TRANSFORMS_LOWERATTENTION_H
#define MOEC_TARGETS_NPU_TRANSFORMS_LOWERATTENTION_H

#include "Transforms/Lowering.h"
#include "Transforms/RuntimeScalars.h"

#include <optional>

namespace moec::npu {

struct AttentionPlan {
  /// query [T, heads * headDim] f32; key [ctx, kvHeads * headDim] and value
  /// [ctx, kvHeads * valueDim] in f32, f16 or bf16 (the KV cache);
  /// output [T, heads * valueDim] f32.
  GmMatrix query, key, value, output;
  int64_t heads = 1, kvHeads = 1, headDim = 0, valueDim = 0;
  double scale = 1.0;
  std::optional<int64_t> window;
  /// [1, heads] f32.
  std::optional<GmMatrix> sinks;
  /// RuntimeScalars nodes: the keys (the cache's length after this call)
  /// and the queries (the call's tokens; the last of the keys' positions).
  int64_t keys = -1, queries = -1;
};

mlir::LogicalResult lowerAttentionPhase(ProgramLowering &lowering,
                                        RuntimeScalars &scalars,
                                        const AttentionPlan &plan,
                                        const GmMatrix &iota);

/// Keys per block the attention phase uses (the size of its `iota` row).
constexpr int64_t kAttentionKeyBlock = 128;

} // namespace moec::npu

#endif // MOEC_TARGETS_NPU_TRANSFORMS_LOWERATTENTION_H
