//===- Lowerings.h - The reference lowering of each moe op ------*- C++ -*-===//
//
// One function per op (Routing.cpp, RoutingEdits.cpp, Experts.cpp); the
// patterns of MoeToLoops.cpp wrap them. Each replaces its op through
// `rewriter`, or fails with an error on the op.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_PASSES_CONVERSION_MOETOSCF_LOWERINGS_H
#define MOEC_PASSES_CONVERSION_MOETOSCF_LOWERINGS_H

#include "moec/Conversion/LoopBuilder.h"

#include "mlir/IR/PatternMatch.h"

namespace moec {

mlir::LogicalResult lowerRouter(mlir::RewriterBase &rewriter, moe::RouterOp op);
mlir::LogicalResult lowerDispatch(mlir::RewriterBase &rewriter,
                                  moe::DispatchOp op);
mlir::LogicalResult lowerCombine(mlir::RewriterBase &rewriter,
                                 moe::CombineOp op);
/// Router edits of the sparsity passes.
mlir::LogicalResult lowerSkipExperts(mlir::RewriterBase &rewriter,
                                     moe::SkipExpertsOp op);
mlir::LogicalResult lowerRemapExperts(mlir::RewriterBase &rewriter,
                                      moe::RemapExpertsOp op);
/// Scalar dot products that carry `reassoc`, so that the target may
/// vectorize them; packed weights are unpacked and scaled in the inner loop.
mlir::LogicalResult lowerGroupedMatmul(mlir::RewriterBase &rewriter,
                                       moe::GroupedMatmulOp op);
mlir::LogicalResult lowerActivation(mlir::RewriterBase &rewriter,
                                    moe::ActivationOp op);

/// Records on the weights of `op` the share of them one token reads,
/// top_k / E, as `moec.routed_fraction` (for the binary's bandwidth report).
void annotateRoutedFraction(moe::GroupedMatmulOp op);

} // namespace moec

#endif // MOEC_PASSES_CONVERSION_MOETOSCF_LOWERINGS_H
