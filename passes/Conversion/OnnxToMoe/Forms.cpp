//===- Forms.cpp - The gather export form of an MoE block -----------------===//
//
// From a matched router, finds the experts and the MoE block's output in
// the gather form: the TopK indices Gather rows of stacked [E, ...] weights,
// one batched MatMul per projection, then Mul by the routing weights and
// ReduceSum over the k choices. The loop, dense and batched forms are in
// Summed.cpp.
//
//===----------------------------------------------------------------------===//

#include "GraphMatch.h"
#include "Raising.h"

using namespace mlir;

namespace moec::raise {

FailureOr<ExpertsMatch> matchGatherForm(const RouterMatch &router,
                                        Reason &reason) {
  reason = "the gathered experts' outputs are not scaled by the routing "
           "weights and summed over the k choices (Mul by "
           "Unsqueeze(weights) then ReduceSum over axis 1)";
  for (onnx::NodeOp unsqueeze : usersOf(router.weights, "Unsqueeze")) {
    for (onnx::NodeOp mul : usersOf(unsqueeze.getResult(0), "Mul")) {
      SmallVector<onnx::NodeOp> sums = usersOf(mul.getResult(0), "ReduceSum");
      if (sums.size() != 1 || !isSingleAxis(input(sums[0], 1), 1, 3) ||
          intAttr(sums[0], "keepdims", 1) != 0)
        continue;
      Value y = otherOperand(mul, unsqueeze.getResult(0));
      if (onnx::NodeOp squeeze = nodeOf(y, "Squeeze"))
        y = squeeze.getInputs()[0];
      FailureOr<ExpertFfn> ffn = matchExpertFfn(y, router.ids, reason);
      if (failed(ffn))
        return failure();
      onnx::NodeOp broadcast = nodeOf(ffn->input, "Unsqueeze");
      if (!broadcast) {
        reason = "the gathered experts' input is not the tokens unsqueezed "
                 "to [T, 1, 1, H]";
        return failure();
      }
      ExpertsMatch match;
      match.form = "gather";
      match.output = sums[0].getResult(0);
      match.input = broadcast.getInputs()[0];
      match.stacked = true;
      match.experts.push_back(*ffn);
      return match;
    }
  }
  return failure();
}

} // namespace moec::raise
