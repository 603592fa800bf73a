//===- SparseDispatch.cpp - moe.experts to the sparse path ----------------===//
//
// Rewrites moe.experts into moe.dispatch -> moe.grouped_matmul ->
// moe.activation -> moe.grouped_matmul -> moe.combine.
//
//===----------------------------------------------------------------------===//

#include "passes/Sparsity/Passes.h"

#include "dialects/moe/IR/MoeOps.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace moec {
#define GEN_PASS_DEF_MOESPARSEDISPATCH
#include "passes/Sparsity/Passes.h.inc"
} // namespace moec

using namespace mlir;
using namespace moec;

Value moec::rewriteToSparseDispatch(RewriterBase &rewriter,
                                    moe::ExpertsOp experts,
                                    std::optional<int64_t> capacity) {
  Location loc = experts.getLoc();
  rewriter.setInsertionPoint(experts);
  auto dispatch = moe::DispatchOp::create(rewriter, loc, experts.getInput(),
                                          experts.getExpertIds(),
                                          experts.getNumExperts(), capacity);
  Value rows = dispatch.getRows();
  Value offsets = dispatch.getOffsets();
  auto matmul = [&](Value in, Value weight, Value bias) -> Value {
    return moe::GroupedMatmulOp::create(rewriter, loc, in, weight, offsets,
                                        bias);
  };

  moe::ActivationAttr activation = experts.getActivation();
  Value hidden;
  if (Value gateUp = experts.getGateUp()) {
    Value fused = matmul(rows, gateUp, experts.getGateUpBias());
    hidden = moe::ActivationOp::create(rewriter, loc, fused, activation,
                                       experts.getLayout());
  } else if (Value gate = experts.getGate()) {
    Value gated = matmul(rows, gate, experts.getGateBias());
    Value up = matmul(rows, experts.getUp(), experts.getUpBias());
    hidden = moe::ActivationOp::create(rewriter, loc, gated, activation,
                                       std::nullopt, up);
  } else {
    Value up = matmul(rows, experts.getUp(), experts.getUpBias());
    hidden = moe::ActivationOp::create(rewriter, loc, up, activation);
  }
  Value down = matmul(hidden, experts.getDown(), experts.getDownBias());
  Value combined =
      moe::CombineOp::create(rewriter, loc, down, dispatch.getPermutation(),
                             experts.getRoutingWeights());
  rewriter.replaceOp(experts, combined);
  return combined;
}

namespace {
struct MoeSparseDispatchPass
    : public moec::impl::MoeSparseDispatchBase<MoeSparseDispatchPass> {
  void runOnOperation() override {
    SmallVector<moe::ExpertsOp> worklist;
    getOperation()->walk([&](moe::ExpertsOp op) { worklist.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (moe::ExpertsOp experts : worklist)
      rewriteToSparseDispatch(rewriter, experts);
  }
};
} // namespace
