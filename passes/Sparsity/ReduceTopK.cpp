//===- ReduceTopK.cpp - Route every token to fewer experts ----------------===//

#include "passes/Sparsity/Passes.h"

#include "passes/Sparsity/ExpertLayers.h"

namespace moec {
#define GEN_PASS_DEF_MOEREDUCETOPK
#include "passes/Sparsity/Passes.h.inc"
} // namespace moec

using namespace mlir;
using namespace moec;

namespace {
struct MoeReduceTopKPass
    : public moec::impl::MoeReduceTopKBase<MoeReduceTopKPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (topK < 1) {
      module.emitError("moe-reduce-topk needs top-k=K with K >= 1");
      return signalPassFailure();
    }
    for (MoeLayer layer : collectMoeLayers(module)) {
      if (!layer.direct) {
        layer.experts.emitOpError("takes edited or unknown routing choices; "
                                  "moe-reduce-topk needs them straight from "
                                  "a moe.router");
        return signalPassFailure();
      }
      moe::RouterOp router = layer.router;
      int64_t old = router.getTopK();
      if (old <= topK)
        continue;
      if (llvm::any_of(router->getUsers(), [&](Operation *user) {
            return user != layer.experts.getOperation();
          })) {
        router.emitOpError("feeds more than one moe.experts");
        return signalPassFailure();
      }
      OpBuilder b(router);
      auto resize = [&](Value v) {
        auto type = cast<RankedTensorType>(v.getType());
        return RankedTensorType::get({type.getDimSize(0), topK},
                                     type.getElementType());
      };
      auto reduced = moe::RouterOp::create(
          b, router.getLoc(), resize(router.getWeights()),
          resize(router.getIds()), router.getLogits(),
          router.getSelectionBias(), b.getI64IntegerAttr(topK),
          router.getScoringAttr(), router.getNormalizeAttr(),
          router.getScaleAttr(), router.getGroupsAttr());
      router.getWeights().replaceAllUsesWith(reduced.getWeights());
      router.getIds().replaceAllUsesWith(reduced.getIds());
      router.erase();
      if (report)
        reportLine(getArgument(), "layer " + Twine(layer.index) + ": top_k " +
                                      Twine(old) + " -> " + Twine(topK));
    }
  }
};
} // namespace
