//===- LowerMoe.cpp - The moe ops to loops, with the CPU's kernels --------===//
//
// The reference lowering (MoeToLoops.h) with two patterns of higher benefit
// for moe.grouped_matmul: fp32 experts on register tiles, packed experts on
// vector kernels. Where neither applies (no vector unit, a weight only
// known at run time, an odd shape), the reference scalar loops run.
//
//===----------------------------------------------------------------------===//

#include "targets/cpu/GroupedMatmul.h"
#include "targets/cpu/Passes.h"

#include "moec/Conversion/MoeToLoops.h"

#include "llvm/ADT/StringSwitch.h"

namespace moec::cpu {
#define GEN_PASS_DEF_CPULOWERMOE
#include "targets/cpu/Passes.h.inc"
} // namespace moec::cpu

using namespace mlir;
using namespace moec;

namespace {
/// One of the CPU's grouped matmul kernels; no match where it does not
/// apply.
template <FailureOr<bool> (*lower)(RewriterBase &, moe::GroupedMatmulOp,
                                   const TileShape &)>
struct GroupedMatmulKernel : public OpRewritePattern<moe::GroupedMatmulOp> {
  GroupedMatmulKernel(MLIRContext *context, const TileShape &shape)
      : OpRewritePattern(context, /*benefit=*/2), shape(shape) {}

  LogicalResult matchAndRewrite(moe::GroupedMatmulOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<bool> lowered = lower(rewriter, op, shape);
    return success(succeeded(lowered) && *lowered);
  }

  TileShape shape;
};

struct CpuLowerMoePass
    : public moec::cpu::impl::CpuLowerMoeBase<CpuLowerMoePass> {
  using Base::Base;

  void runOnOperation() override {
    std::optional<Int8Dot> dot =
        llvm::StringSwitch<std::optional<Int8Dot>>(int8Dot)
            .Case("", Int8Dot::None)
            .Case("vpdpbusd", Int8Dot::Vpdpbusd)
            .Case("vpmaddubsw", Int8Dot::Vpmaddubsw)
            .Case("sdot", Int8Dot::Sdot)
            .Case("generic", Int8Dot::Generic)
            .Default(std::nullopt);
    if (vectorWidth < 0 || tileRows < 1 || tilePanels < 1 || tileDepth < 1 ||
        (vectorWidth > 0 && 64 % (vectorWidth * tilePanels) != 0) || !dot ||
        bf16DotRows < 0 || (bf16DotRows > 0 && vectorWidth != 16)) {
      getOperation().emitError(
          "cpu-lower-moe: vector-width * tile-panels must divide 64, the "
          "tile sizes must be positive, int8-dot one of vpdpbusd, "
          "vpmaddubsw, sdot, generic or empty, and bf16-dot-rows "
          "non-negative (positive only with vector-width 16)");
      return signalPassFailure();
    }
    TileShape tiles{vectorWidth, tilePanels, tileRows,
                    tileDepth,   *dot,       bf16DotRows};
    RewritePatternSet patterns(&getContext());
    populateMoeToLoopsPatterns(patterns);
    if (vectorWidth > 0)
      patterns.add<GroupedMatmulKernel<cpu::lowerGroupedMatmulToTiles>,
                   GroupedMatmulKernel<cpu::lowerGroupedMatmulToDots>,
                   GroupedMatmulKernel<cpu::lowerQuantizedGroupedMatmul>>(
          &getContext(), tiles);
    if (failed(applyMoeLoweringPatterns(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
