//===- Passes.h - moec expert-sparsity passes -------------------*- C++ -*-===//

#ifndef MOEC_PASSES_SPARSITY_PASSES_H
#define MOEC_PASSES_SPARSITY_PASSES_H

#include "dialects/moe/IR/MoeDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Pass/Pass.h"

#include <optional>

namespace moec {

namespace moe {
class ExpertsOp;
} // namespace moe

#define GEN_PASS_DECL
#include "passes/Sparsity/Passes.h.inc"

/// Replaces `experts` by dispatch, grouped matmuls, activation and combine;
/// with a `capacity`, every expert gets that many row slots.
mlir::Value
rewriteToSparseDispatch(mlir::RewriterBase &rewriter, moe::ExpertsOp experts,
                        std::optional<int64_t> capacity = std::nullopt);

#define GEN_PASS_REGISTRATION
#include "passes/Sparsity/Passes.h.inc"

} // namespace moec

#endif // MOEC_PASSES_SPARSITY_PASSES_H
