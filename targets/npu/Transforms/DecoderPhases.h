//===- DecoderPhases.h - Embedding, RMSNorm and RoPE phases -----*- C++ -*-===//
//
// The decoder ops that are rows of vector work: each core takes a share of
// the rows (tokens), brings them into UB in chunks, and stores the result.
// Attention, which also uses the cube, is LowerAttention.h.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_TRANSFORMS_DECODERPHASES_H
#define MOEC_TARGETS_NPU_TRANSFORMS_DECODERPHASES_H

#include "Transforms/Lowering.h"
#include "Transforms/RuntimeScalars.h"

#include <optional>

namespace moec::npu {

/// out[t] = table[ids[t]]: ids are int32 words `idWords` apart (2 for
/// int64 ids, whose low word is read; the host checked their range).
struct EmbeddingPlan {
  GmMatrix table, ids, output;
  int64_t idWords = 1;
};
mlir::LogicalResult lowerEmbeddingPhase(ProgramLowering &lowering,
                                        const EmbeddingPlan &plan);

/// out = x / sqrt(mean(x^2) + epsilon) * weight, per row. With `addend`,
/// x = input + addend (a residual connection), which is stored to `sum`.
struct RmsNormPlan {
  GmMatrix input, weight, output;
  double epsilon = 1e-6;
  std::optional<GmMatrix> addend, sum;
};
mlir::LogicalResult lowerRmsNormPhase(ProgramLowering &lowering,
                                      const RmsNormPlan &plan);

/// Rotates the first `rotary` dimensions of each of `heads` heads of
/// `headDim` per token: pairs (i, i + rotary/2), or (2i, 2i + 1) when
/// `interleaved`; token t is at position `position` (a RuntimeScalars
/// node) + t, whose cosines and sines (amplitude included) are row
/// min(position, tableRows - 1) of `cosines` and `sines`.
struct RopePlan {
  GmMatrix input, output, cosines, sines;
  int64_t heads = 1, headDim = 0, rotary = 0;
  bool interleaved = false;
  int64_t position = -1;
};
mlir::LogicalResult lowerRopePhase(ProgramLowering &lowering,
                                   RuntimeScalars &scalars,
                                   const RopePlan &plan);

} // namespace moec::npu

#endif // MOEC_TARGETS_NPU_TRANSFORMS_DECODERPHASES_H
