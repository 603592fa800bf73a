//===- KeepDecoderOps.cpp - Decoder ops left to convert-to-npu ------------===//

#include "Transforms/Passes.h"

#include "dialects/decoder/IR/DecoderOps.h"

#include "mlir/IR/BuiltinOps.h"

namespace moec::npu {
#define GEN_PASS_DEF_NPUKEEPDECODEROPS
#include "Transforms/Passes.h.inc"
} // namespace moec::npu

using namespace mlir;
using namespace moec;

namespace {
struct KeepDecoderOpsPass
    : public npu::impl::NpuKeepDecoderOpsBase<KeepDecoderOpsPass> {
  void runOnOperation() override {
    getOperation().walk([](Operation *op) {
      if (isa<decoder::EmbeddingOp, decoder::RmsNormOp, decoder::RopeOp,
              decoder::AttentionOp>(op))
        op->setAttr(decoder::kTargetKernelAttr,
                    UnitAttr::get(op->getContext()));
    });
  }
};
} // namespace
