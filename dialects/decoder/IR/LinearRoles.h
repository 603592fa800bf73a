//===- LinearRoles.h - What each dense layer of a decoder is ----*- C++ -*-===//
//
// The checkpoint importer writes every dense layer as a linalg.generic
// (x [T, K] times a [N, K] weight) and names its part of the model in the
// `moec.linear` attribute, so that passes (quantization, the bandwidth
// report) can tell the attention projections from the LM head without
// knowing a family's tensor names.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_DIALECTS_DECODER_IR_LINEARROLES_H
#define MOEC_DIALECTS_DECODER_IR_LINEARROLES_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

namespace moec::decoder {

inline constexpr llvm::StringLiteral kLinearRoleAttr = "moec.linear";

/// q/k/v/o projections, and MLA's low-rank ones.
inline constexpr llvm::StringLiteral kAttentionRole = "attention";
/// The MLP of a layer without experts.
inline constexpr llvm::StringLiteral kMlpRole = "mlp";
/// The always-on MLP beside the routed experts.
inline constexpr llvm::StringLiteral kSharedExpertRole = "shared_expert";
/// The projection from the final norm to the vocabulary.
inline constexpr llvm::StringLiteral kLmHeadRole = "lm_head";
/// The router's logits, and Qwen2-MoE's [1, H] shared-expert gate: small,
/// and kept in float by quantization.
inline constexpr llvm::StringLiteral kRouterRole = "router";

/// The roles whose weights quantization may pack.
inline constexpr llvm::StringLiteral kQuantizableRoles[] = {
    kAttentionRole, kMlpRole, kSharedExpertRole, kLmHeadRole};

} // namespace moec::decoder

#endif // MOEC_DIALECTS_DECODER_IR_LINEARROLES_H
