//===- LowerRouting.h - Router, dispatch and combine on the NPU -*- C++ -*-===//
//
// The phases of moe.router, moe.dispatch and moe.combine, each given the
// global-memory matrices of its operands and results.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_TRANSFORMS_LOWERROUTING_H
#define MOEC_TARGETS_NPU_TRANSFORMS_LOWERROUTING_H

#include "Transforms/Lowering.h"
#include "dialects/moe/IR/MoeOps.h"

#include <optional>

namespace moec::npu {

/// DeepSeek's group-limited routing (#moe.group_limit).
struct GroupPlan {
  int64_t groups = 1, keep = 1;
  bool sumTop2 = false;
  /// The selection score of a dropped group's experts; none: ineligible.
  std::optional<double> fill;
};

struct RouterPlan {
  GmMatrix logits, weights, ids;
  /// The selection bias [E] (a weight), when there is one.
  std::optional<GmMatrix> bias;
  std::optional<GroupPlan> groups;
  int64_t topK = 1;
  moe::RouterScoring scoring = moe::RouterScoring::Softmax;
  bool normalize = false;
  std::optional<double> scale;
};
mlir::LogicalResult lowerRouter(ProgramLowering &lowering,
                                const RouterPlan &plan);

struct DispatchPlan {
  GmMatrix input, ids, rows, permutation, offsets;
  int64_t numExperts = 0;
};
mlir::LogicalResult lowerDispatch(ProgramLowering &lowering,
                                  const DispatchPlan &plan);

struct CombinePlan {
  GmMatrix rows, permutation, weights, output;
};
mlir::LogicalResult lowerCombine(ProgramLowering &lowering,
                                 const CombinePlan &plan);

} // namespace moec::npu

#endif // MOEC_TARGETS_NPU_TRANSFORMS_LOWERROUTING_H
