//===- GroupedAttention.h - Attention for heads sharing keys ----*- C++ -*-===//
//
// cpu-lower-attention's second kernel (GroupedAttention.cpp): tiles of the
// query heads that share a KV head read its keys and values once, with the
// accumulators in memory, so heads of any width fit. The pass takes it for
// grouped heads (GQA, MLA's compressed form) and heads too wide for the
// streaming kernel's registers (Attention.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_CPU_GROUPEDATTENTION_H
#define MOEC_TARGETS_CPU_GROUPEDATTENTION_H

#include "dialects/decoder/IR/DecoderOps.h"
#include "moec/Conversion/LoopBuilder.h"

namespace moec::cpu {

/// Lowers `op` with vectors of `lanes` floats; the vector exps it makes go
/// to `vectorExps`.
void lowerGroupedAttention(decoder::AttentionOp op, int64_t lanes,
                           llvm::SmallVectorImpl<mlir::Operation *> &vectorExps);

} // namespace moec::cpu

#endif // MOEC_TARGETS_CPU_GROUPEDATTENTION_H
