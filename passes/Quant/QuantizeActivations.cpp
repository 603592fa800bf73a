//===- QuantizeActivations.cpp - int8 rows for quantized matmuls ----------===//

#include "passes/Quant/Passes.h"

#include "dialects/moe/IR/MoeOps.h"

namespace moec {
#define GEN_PASS_DEF_MOEQUANTIZEACTIVATIONS
#include "passes/Quant/Passes.h.inc"
} // namespace moec

using namespace mlir;
using namespace moec;

namespace {
struct MoeQuantizeActivationsPass
    : public moec::impl::MoeQuantizeActivationsBase<
          MoeQuantizeActivationsPass> {
  void runOnOperation() override {
    getOperation().walk([](moe::GroupedMatmulOp op) {
      auto packed = dyn_cast<moe::PackedType>(op.getWeight().getType());
      if (packed && packed.getPacking().isIntegerFormat())
        op->setAttr(kInt8ActivationsAttr, UnitAttr::get(op.getContext()));
    });
  }
};
} // namespace
