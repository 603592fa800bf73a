//===- Passes.h - moec expert-sparsity passes -------------------*- C++ -*-===//

#ifndef MOEC_PASSES_SPARSITY_PASSES_H
#define MOEC_PASSES_SPARSITY_PASSES_H

#include "dialects/moe/IR/MoeDialect.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Pass/Pass.h"

namespace moec {

namespace moe {
class ExpertsOp;
} // namespace moe

#define GEN_PASS_DECL
#include "passes/Sparsity/Passes.h.inc"

/// Replaces `experts` by dispatch, grouped matmuls, activation and combine.
mlir::Value rewriteToSparseDispatch(mlir::RewriterBase &rewriter,
                                    moe::ExpertsOp experts);

#define GEN_PASS_REGISTRATION
#include "passes/Sparsity/Passes.h.inc"

} // namespace moec

#endif // MOEC_PASSES_SPARSITY_PASSES_H
