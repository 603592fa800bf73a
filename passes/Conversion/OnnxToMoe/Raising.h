//===- Raising.h - The pieces of moe-raise-onnx-patterns --------*- C++ -*-===//
//
// MoE raising works in three steps. The router matcher walks back from a
// TopK to the router projection and forward to the routing weights. A form
// matcher (gather, loop or dense) then finds, from the TopK indices and the
// routing weights, each expert's FFN and the value holding the MoE block's
// output. Finally the builder stacks the expert weights and replaces that
// value with moe.router + moe.experts. The com.microsoft.MoE/QMoE contrib
// ops carry all of it in one node and are raised directly.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_PASSES_CONVERSION_ONNXTOMOE_RAISING_H
#define MOEC_PASSES_CONVERSION_ONNXTOMOE_RAISING_H

#include "dialects/moe/IR/MoeOps.h"
#include "dialects/onnx/IR/OnnxOps.h"

#include "mlir/IR/Builders.h"

#include <optional>
#include <string>

namespace moec::raise {

/// A reason a pattern did not match, for --moe-raise-report.
using Reason = std::string;

/// A routing subgraph: router projection -> scores -> TopK -> weights.
struct RouterMatch {
  onnx::NodeOp topK;
  mlir::Value logits; // [T, E], the router projection's output
  mlir::Value hidden; // [T, H], the router projection's input
  int64_t numExperts = 0;
  int64_t k = 0;
  moe::RouterScoring scoring = moe::RouterScoring::Softmax;
  mlir::Value selectionBias; // [E] (or [1, E]) or null
  /// The selection score of experts in dropped groups, when not -inf.
  std::optional<double> groupFill;
  bool normalize = false;
  std::optional<double> scale;
  moe::GroupLimitAttr groups;
  mlir::Value weights; // [T, k], the value the experts are weighted by
  mlir::Value ids;     // [T, k], the TopK indices
  /// The TopKs inside a group-limited selection, which belong to this one.
  llvm::SmallVector<onnx::NodeOp> innerTopKs;
};

/// Matches the router around `topK`, or says why it is not one.
mlir::FailureOr<RouterMatch> matchRouter(onnx::NodeOp topK, Reason &reason);

/// One linear projection of an expert FFN: `x @ W + b`.
struct Projection {
  mlir::Value weight;     // [K, N] or [N, K] (per expert), [E, K, N] or
                          // [E, N, K] (stacked)
  bool inputMajor = true; // W is [.., K, N] (MatMul layout), else torch's
                          // [.., N, K]
  mlir::Value bias;       // [N] or [E, N], or null
  /// The node of a block-quantized projection (per expert), or null:
  /// com.microsoft.MatMulNBits (`weight` is its packed codes [N, blocks,
  /// blob]) or a blocked DequantizeLinear (`weight` is its integer input).
  onnx::NodeOp quantized;
};

/// An expert FFN: down(act(gate(x), up(x))), with gate and up either
/// separate or one fused projection.
struct ExpertFfn {
  mlir::Value input;
  moe::ActivationAttr activation;
  std::optional<Projection> gateUp, gate, up;
  moe::GateUpLayout layout = moe::GateUpLayout::Interleaved;
  Projection down;
};

/// Matches the expert FFN producing `output`. `stackedIds` is null for an
/// FFN on one expert's weights, or the TopK indices that Gather rows of
/// stacked [E, ...] weights. `batched`: every expert at once, a batched
/// MatMul by stacked [E, K, N] weights.
mlir::FailureOr<ExpertFfn> matchExpertFfn(mlir::Value output,
                                          mlir::Value stackedIds,
                                          Reason &reason,
                                          bool batched = false);

/// The MoE block a form matcher found.
struct ExpertsMatch {
  llvm::StringRef form; // "gather", "loop", "dense" or "batched"
  mlir::Value output;                   // the value moe.experts replaces
  mlir::Value input;                    // [T, H]
  bool stacked = false;                 // one FFN over stacked weights
  llvm::SmallVector<ExpertFfn> experts; // per expert, or the stacked one
};

mlir::FailureOr<ExpertsMatch> matchGatherForm(const RouterMatch &router,
                                              Reason &reason);
/// The loop, dense and batched forms: a value that sums, over every
/// expert, its FFN's output weighted by its routing weights (Summed.cpp).
mlir::FailureOr<ExpertsMatch> matchSummedForm(const RouterMatch &router,
                                              Reason &reason);

/// Builds moe.router + moe.experts for a matched block and replaces its
/// output. Returns a one-line description of what was built, or fails
/// (building nothing) when the experts' weights disagree in shape.
mlir::FailureOr<std::string> buildRaisedMoe(mlir::OpBuilder &b,
                                            const RouterMatch &router,
                                            const ExpertsMatch &experts,
                                            Reason &reason);

/// The report's line for a raised block, read off the ops built for it.
std::string describeRaised(llvm::StringRef form, moe::RouterOp router,
                           moe::ExpertsOp experts);

/// Raises a com.microsoft.MoE or QMoE node. On success returns a one-line
/// description; on failure sets `reason` and leaves the node alone.
mlir::FailureOr<std::string> raiseContribMoe(mlir::OpBuilder &b,
                                             onnx::NodeOp node, Reason &reason);

/// Replaces every use of `from` with `to`; uses outside onnx.node ops get
/// `to` cast to `from`'s type.
void replaceValue(mlir::OpBuilder &b, mlir::Value from, mlir::Value to);

} // namespace moec::raise

#endif // MOEC_PASSES_CONVERSION_ONNXTOMOE_RAISING_H
