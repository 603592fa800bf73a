//===- MoeToLoops.h - The reference lowering of the moe ops -----*- C++ -*-===//
//
// After moe-sparse-dispatch, the moe ops (router, skip_experts,
// remap_experts, dispatch, grouped_matmul, activation, combine) lower to
// loop nests over buffers. The reference patterns here lower every one of
// them in target-independent code. A target that lowers an op its own way
// (register tiles, a vendor's matmul unit) adds a pattern of higher benefit
// for that op and keeps the rest: when its pattern does not match, the
// reference one runs.
//
//   RewritePatternSet patterns(context);
//   populateMoeToLoopsPatterns(patterns);
//   patterns.add<MyGroupedMatmul>(context, /*benefit=*/2);
//   if (failed(applyMoeLoweringPatterns(module, std::move(patterns))))
//     signalPassFailure();
//
// The patterns build with LoopBuilder and replace their op through the
// rewriter; run them with applyMoeLoweringPatterns, which visits each op
// once, not with the greedy driver. docs/targets.md describes the contract.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_CONVERSION_MOETOLOOPS_H
#define MOEC_CONVERSION_MOETOLOOPS_H

#include "mlir/IR/PatternMatch.h"
#include "mlir/Rewrite/FrozenRewritePatternSet.h"

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace moec {

/// The dialects the reference patterns create ops of (arith,
/// bufferization, math, memref, scf): a pass that runs them declares these
/// in getDependentDialects.
void getMoeToLoopsDependentDialects(mlir::DialectRegistry &registry);

/// One pattern of benefit 1 per moe op after sparse dispatch.
void populateMoeToLoopsPatterns(mlir::RewritePatternSet &patterns);

/// Lowers each moe op under `root` once with the best-benefit pattern that
/// matches, in program order except that a dispatch comes after the
/// grouped matmuls that read its top_k; then drops packed weights no longer
/// read. Fails on moe.experts (run moe-sparse-dispatch first), on an op no
/// pattern lowers, or when a pattern reported an error.
mlir::LogicalResult
applyMoeLoweringPatterns(mlir::Operation *root,
                         const mlir::FrozenRewritePatternSet &patterns);

} // namespace moec

#endif // MOEC_CONVERSION_MOETOLOOPS_H
