//===- Passes.h - moec quantization passes ----------------------*- C++ -*-===//

#ifndef MOEC_PASSES_QUANT_PASSES_H
#define MOEC_PASSES_QUANT_PASSES_H

#include "dialects/moe/IR/MoeDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Pass/Pass.h"

namespace moec {

/// The attribute moe-quantize-activations puts on a moe.grouped_matmul
/// whose rows are quantized to int8 at run time.
inline constexpr llvm::StringLiteral kInt8ActivationsAttr =
    "moec.int8_activations";

#define GEN_PASS_DECL
#include "passes/Quant/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Quant/Passes.h.inc"

} // namespace moec

#endif // MOEC_PASSES_QUANT_PASSES_H
