//===- DecoderDialect.h - The decoder dialect -------------------*- C++ -*-===//

#ifndef MOEC_DIALECTS_DECODER_IR_DECODERDIALECT_H
#define MOEC_DIALECTS_DECODER_IR_DECODERDIALECT_H

#include "mlir/IR/Dialect.h"

#include "dialects/decoder/IR/DecoderDialect.h.inc"

namespace moec::decoder {
/// A unit attribute on a decoder op that a target lowers itself (its
/// pre-dispatch pipeline sets it): decoder-to-linalg leaves the op alone.
inline constexpr llvm::StringLiteral kTargetKernelAttr =
    "decoder.target_kernel";
} // namespace moec::decoder

#endif // MOEC_DIALECTS_DECODER_IR_DECODERDIALECT_H
