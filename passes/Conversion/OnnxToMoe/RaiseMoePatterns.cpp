//===- RaiseMoePatterns.cpp - The moe-raise-onnx-patterns pass ------------===//
//
// Anchors on every TopK and every com.microsoft.MoE/QMoE node, raises the
// MoE blocks it recognises to moe.router + moe.experts, removes the nodes
// that became dead, and (with report=true) says for each anchor what was
// raised or why not.
//
//===----------------------------------------------------------------------===//

#include "GraphMatch.h"
#include "Raising.h"

#include "passes/Conversion/Passes.h"

#include "dialects/moe/IR/MoeDialect.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "llvm/Support/raw_ostream.h"

namespace moec {
#define GEN_PASS_DEF_MOERAISEONNXPATTERNS
#include "passes/Conversion/Passes.h.inc"
} // namespace moec

using namespace mlir;
using namespace moec;
using namespace moec::raise;

namespace {

/// Whether the TopK indices Gather rows of stacked expert weights.
bool feedsStackedGather(const RouterMatch &router) {
  for (onnx::NodeOp gather : usersOf(router.ids, "Gather")) {
    RankedTensorType type = weightType(gather.getInputs()[0]);
    if (type && type.getRank() >= 2)
      return true;
  }
  return false;
}

/// Erases onnx nodes, constants and casts left without users.
void eraseDeadNodes(func::FuncOp func) {
  bool changed = true;
  while (changed) {
    changed = false;
    SmallVector<Operation *> dead;
    func.walk([&](Operation *op) {
      bool removable = isa<onnx::NodeOp, onnx::NoneOp, arith::ConstantOp,
                           moe::WeightOp, tensor::CastOp>(op);
      if (removable && op->use_empty())
        dead.push_back(op);
    });
    for (Operation *op : dead)
      op->erase();
    changed = !dead.empty();
  }
}

struct MoeRaiseOnnxPatternsPass
    : public moec::impl::MoeRaiseOnnxPatternsBase<MoeRaiseOnnxPatternsPass> {
  using MoeRaiseOnnxPatternsBase::MoeRaiseOnnxPatternsBase;

  void runOnOperation() override {
    OpBuilder b(&getContext());
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      SmallVector<std::string> lines;
      raiseIn(b, func, lines);
      eraseDeadNodes(func);
      for (const std::string &line : lines)
        if (report || (reportUnraised &&
                       StringRef(line).contains(": not raised: ")))
          llvm::errs() << "moe-raise: " << line << "\n";
    }
  }

  void raiseIn(OpBuilder &b, func::FuncOp func,
               SmallVectorImpl<std::string> &lines) {
    SmallVector<onnx::NodeOp> anchors;
    func.walk([&](onnx::NodeOp node) {
      bool contrib = node.getDomain() == "com.microsoft" &&
                     (node.getOpType() == "MoE" || node.getOpType() == "QMoE");
      if (contrib || isNode(node, "TopK"))
        anchors.push_back(node);
    });
    // Match every router first: a group-limited router owns the TopKs that
    // come before it in the graph.
    llvm::DenseMap<Operation *, FailureOr<RouterMatch>> routers;
    llvm::DenseMap<Operation *, onnx::NodeOp> ownerOf;
    llvm::DenseMap<Operation *, Reason> reasons;
    for (onnx::NodeOp node : anchors) {
      if (!isNode(node, "TopK"))
        continue;
      Reason reason;
      FailureOr<RouterMatch> router = matchRouter(node, reason);
      routers.try_emplace(node, router);
      reasons[node] = reason;
      if (succeeded(router))
        for (onnx::NodeOp inner : router->innerTopKs)
          ownerOf[inner] = node;
    }
    for (onnx::NodeOp node : anchors) {
      std::string what = describe(node) + ": ";
      Reason reason;
      if (!isNode(node, "TopK")) {
        FailureOr<std::string> raised = raiseContribMoe(b, node, reason);
        lines.push_back(what + (succeeded(raised) ? *raised
                                                  : "not raised: " + reason));
        continue;
      }
      if (onnx::NodeOp owner = ownerOf.lookup(node)) {
        lines.push_back(what + "part of the group-limited selection of " +
                        describe(owner));
        continue;
      }
      FailureOr<RouterMatch> &router = routers.find(node)->second;
      if (failed(router)) {
        lines.push_back(what + "not raised: " + reasons[node]);
        continue;
      }
      FailureOr<ExpertsMatch> experts =
          feedsStackedGather(*router) ? matchGatherForm(*router, reason)
                                      : matchSummedForm(*router, reason);
      FailureOr<std::string> raised =
          succeeded(experts) ? buildRaisedMoe(b, *router, *experts, reason)
                             : FailureOr<std::string>(failure());
      lines.push_back(what + (succeeded(raised) ? *raised
                                                : "not raised: " + reason));
    }
  }
};

} // namespace
