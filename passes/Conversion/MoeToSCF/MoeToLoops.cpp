//===- MoeToLoops.cpp - Reference patterns and their driver ---------------===//

#include "moec/Conversion/MoeToLoops.h"

#include "passes/Conversion/MoeToSCF/Lowerings.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Rewrite/PatternApplicator.h"

using namespace mlir;
using namespace moec;

namespace {
/// The reference lowering of one op.
template <typename Op, LogicalResult (*lower)(RewriterBase &, Op)>
struct Reference : public OpRewritePattern<Op> {
  using OpRewritePattern<Op>::OpRewritePattern;
  LogicalResult matchAndRewrite(Op op,
                                PatternRewriter &rewriter) const override {
    return lower(rewriter, op);
  }
};
} // namespace

void moec::getMoeToLoopsDependentDialects(DialectRegistry &registry) {
  registry.insert<arith::ArithDialect, bufferization::BufferizationDialect,
                  math::MathDialect, memref::MemRefDialect, scf::SCFDialect>();
}

void moec::populateMoeToLoopsPatterns(RewritePatternSet &patterns) {
  MLIRContext *context = patterns.getContext();
  patterns.add<Reference<moe::RouterOp, lowerRouter>,
               Reference<moe::SkipExpertsOp, lowerSkipExperts>,
               Reference<moe::RemapExpertsOp, lowerRemapExperts>,
               Reference<moe::DispatchOp, lowerDispatch>,
               Reference<moe::GroupedMatmulOp, lowerGroupedMatmul>,
               Reference<moe::ActivationOp, lowerActivation>,
               Reference<moe::CombineOp, lowerCombine>>(context);
}

LogicalResult
moec::applyMoeLoweringPatterns(Operation *root,
                               const FrozenRewritePatternSet &patterns) {
  SmallVector<Operation *> worklist, dispatches;
  WalkResult walk = root->walk([&](Operation *op) {
    if (isa<moe::ExpertsOp>(op)) {
      op->emitOpError("must be rewritten by moe-sparse-dispatch before "
                      "lowering to loops");
      return WalkResult::interrupt();
    }
    // Dispatches last: a grouped matmul reads top_k off its dispatch.
    if (isa<moe::DispatchOp>(op))
      dispatches.push_back(op);
    else if (isa<moe::RouterOp, moe::SkipExpertsOp, moe::RemapExpertsOp,
                 moe::GroupedMatmulOp, moe::ActivationOp, moe::CombineOp>(op))
      worklist.push_back(op);
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  worklist.append(dispatches);
  for (Operation *op : worklist)
    if (auto matmul = dyn_cast<moe::GroupedMatmulOp>(op))
      annotateRoutedFraction(matmul);

  // A pattern that fails with an error on its op stops the lowering; one
  // that fails quietly leaves the op to the next pattern.
  bool reportedError = false;
  ScopedDiagnosticHandler errors(root->getContext(), [&](Diagnostic &diag) {
    if (diag.getSeverity() == DiagnosticSeverity::Error)
      reportedError = true;
    return failure(); // Let the diagnostic through.
  });
  PatternApplicator applicator(patterns);
  applicator.applyDefaultCostModel();
  PatternRewriter rewriter(root->getContext());
  for (Operation *op : worklist) {
    rewriter.setInsertionPoint(op);
    if (succeeded(applicator.matchAndRewrite(op, rewriter)))
      continue;
    if (!reportedError)
      op->emitOpError("has no lowering to loops for this target");
    return failure();
  }
  if (reportedError)
    return failure();
  // Packed weights are only read through the ops just lowered.
  root->walk([](moe::PackedWeightOp op) {
    if (op->use_empty())
      op.erase();
  });
  return success();
}
