//===- ConvertToNpu.cpp - Entry points to npu command streams -------------===//
//
// Walks an entry point's body once per token-count bucket, with every
// shape known: index arithmetic and run-time checks are evaluated here,
// each tensor op becomes one phase of commands (Lower*.cpp), and weights
// are packed once for all buckets. The body is then replaced by an
// npu.run of the inputs and the packed weights.
//
//===----------------------------------------------------------------------===//

#include "Transforms/Passes.h"

#include "Transforms/BodyLowering.h"

#include "dialects/moe/IR/MoeOps.h"
#include "machine/ChipDescription.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace moec::npu {
#define GEN_PASS_DEF_CONVERTTONPU
#include "Transforms/Passes.h.inc"
} // namespace moec::npu

using namespace mlir;
using namespace moec;
using namespace moec::npu;

namespace {
struct ConvertToNpuPass : public npu::impl::ConvertToNpuBase<ConvertToNpuPass> {
  using ConvertToNpuBase::ConvertToNpuBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    ChipDescription chipDescription;
    std::string error;
    bool parsed = chip.empty()
                      ? parseChipDescription(getDefaultChipText().str(),
                                             chipDescription, error)
                      : readChipDescription(chip, chipDescription, error);
    if (!parsed) {
      // readChipDescription's message names the file.
      module.emitError("chip description ")
          << (chip.empty() ? std::string("davinci-ref (built in): ")
                           : std::string())
          << error;
      return signalPassFailure();
    }
    ElemType cube = cubeType == "bf16" ? ElemType::BF16 : ElemType::F16;
    if (cubeType != "f16" && cubeType != "bf16") {
      module.emitError("--npu-cube-type is f16 or bf16, not ") << cubeType;
      return signalPassFailure();
    }
    SmallVector<func::FuncOp> entries;
    for (auto func : module.getOps<func::FuncOp>())
      if (!func.isDeclaration() && func.isPublic())
        entries.push_back(func);
    for (func::FuncOp func : entries)
      if (failed(convertEntry(module, func, chipDescription, cube)))
        return signalPassFailure();
  }

  SmallVector<int64_t> bucketsFor(func::FuncOp func) {
    bool dynamic = llvm::any_of(func.getArgumentTypes(), [](Type type) {
      auto tensor = dyn_cast<RankedTensorType>(type);
      return tensor && !tensor.hasStaticShape();
    });
    if (!dynamic)
      return {0};
    SmallVector<int64_t> result;
    SmallVector<int64_t> wanted(buckets.begin(), buckets.end());
    if (wanted.empty())
      wanted = {1, 16, 64, 256, maxTokens};
    for (int64_t b : wanted)
      if (b >= 1 && b <= maxTokens && !llvm::is_contained(result, b))
        result.push_back(b);
    llvm::sort(result);
    if (result.empty() || result.back() != maxTokens)
      result.push_back(maxTokens);
    return result;
  }

  LogicalResult convertEntry(ModuleOp module, func::FuncOp func,
                             const ChipDescription &chip, ElemType cube) {
    if (!func.getBody().hasOneBlock())
      return func.emitError("the NPU target lowers straight-line entry "
                            "points only");
    WeightTable weights;
    EntryWeights entry;
    for (int64_t tokens : bucketsFor(func)) {
      ProgramLowering lowering(chip, cube, tokens, module, func.getLoc(),
                               func.getName(), func.getNumArguments(), weights);
      if (failed(BodyLowering(lowering, func, entry).run()))
        return failure();
    }
    // The body becomes: the packed weights, npu.run, return.
    Block &body = func.getBody().front();
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    OpBuilder builder(ret);
    SmallVector<Value> operands(func.getArguments());
    for (auto [i, weight] : llvm::enumerate(weights.weights))
      operands.push_back(createWeightOp(builder, func.getLoc(), weight,
                                        (func.getName() + ".npu").str()));
    auto run = RunOp::create(builder, func.getLoc(),
                             func.getFunctionType().getResults(),
                             func.getName(), operands);
    ret->setOperands(run.getResults());
    DenseSet<Operation *> kept = {run, ret};
    for (Value operand : operands)
      if (Operation *def = operand.getDefiningOp())
        kept.insert(def);
    SmallVector<Operation *> dead;
    for (Operation &op : body)
      if (!kept.contains(&op))
        dead.push_back(&op);
    for (Operation *op : llvm::reverse(dead)) {
      op->dropAllUses();
      op->erase();
    }
    return success();
  }
};
} // namespace
