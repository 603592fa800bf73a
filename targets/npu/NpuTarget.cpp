//===- NpuTarget.cpp - Target `npu`: the reference cube/vector NPU --------===//
//
// A plugin built as a vendor builds one (against the installed SDK): it
// lowers models to command streams of the chip in its description file and
// links a binary that runs them on the cycle-approximate simulator.
//
//===----------------------------------------------------------------------===//

#include "NpuTarget.h"

#include "IR/NpuOps.h"
#include "Transforms/Passes.h"

#include "dialects/moe/IR/MoeDialect.h"
#include "dialects/moe/Transforms/Passes.h"
#include "moec/Target/Packager.h"
#include "moec/Target/TargetPlugin.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include "llvm/Support/MemoryBuffer.h"

using namespace mlir;

static llvm::cl::OptionCategory category("npu target (--target=npu)");
static llvm::cl::opt<std::string>
    chipPath("npu-chip",
             llvm::cl::desc("Chip description file (default: the built-in "
                            "davinci-ref; docs/npu.md)"),
             llvm::cl::value_desc("file"), llvm::cl::cat(category));
static llvm::cl::list<int64_t> buckets(
    "npu-buckets",
    llvm::cl::desc("Token counts to build a program for (default: 1, 16, "
                   "64, 256 and --max-tokens); a call runs the smallest that "
                   "holds its tokens"),
    llvm::cl::CommaSeparated, llvm::cl::cat(category));
static llvm::cl::opt<std::string> cubeType(
    "npu-cube-type",
    llvm::cl::desc("The cube's input type for float matmuls: f16 (default) "
                   "or bf16; it accumulates in f32"),
    llvm::cl::init("f16"), llvm::cl::cat(category));

llvm::cl::OptionCategory &moec::npu::getOptionCategory() { return category; }
const std::string &moec::npu::getChipPath() { return chipPath; }

FailureOr<std::string> moec::npu::readChipText(ModuleOp module) {
  if (chipPath.empty())
    return getDefaultChipText().str();
  auto buffer = llvm::MemoryBuffer::getFile(chipPath);
  if (!buffer)
    return module.emitError("cannot read the chip description '")
           << chipPath << "': " << buffer.getError().message();
  std::string text = (*buffer)->getBuffer().str();
  ChipDescription chip;
  std::string error;
  if (!parseChipDescription(text, chip, error))
    return module.emitError("chip description ") << chipPath << ": " << error;
  return text;
}

/// The lowered module's image, for the chip it was compiled for.
static FailureOr<moec::npu::NpuImage> buildImage(ModuleOp module) {
  FailureOr<std::string> chip = moec::npu::readChipText(module);
  if (failed(chip))
    return failure();
  return moec::npu::buildImage(module, *chip);
}

namespace {
class NpuTarget final : public moec::TargetBackend {
public:
  StringRef getName() const override { return "npu"; }
  StringRef getDescription() const override {
    return "the reference cube/vector NPU, run on its simulator (--npu-chip)";
  }
  void registerDialects(DialectRegistry &registry) const override {
    registry.insert<moec::npu::NpuDialect, moec::moe::MoeDialect,
                    arith::ArithDialect, cf::ControlFlowDialect,
                    func::FuncDialect, linalg::LinalgDialect, math::MathDialect,
                    tensor::TensorDialect>();
  }
  void registerPasses() const override { moec::npu::registerMoecNpuPasses(); }
  llvm::cl::OptionCategory *getOptionCategory() const override {
    return &moec::npu::getOptionCategory();
  }
  void buildPreDispatchPipeline(
      OpPassManager &pm, const moec::TargetOptions &options) const override {
    pm.addPass(moec::npu::createNpuKeepDecoderOps());
  }
  void
  buildLoweringPipeline(OpPassManager &pm,
                        const moec::TargetOptions &options) const override {
    moec::npu::ConvertToNpuOptions convert;
    convert.chip = chipPath;
    convert.buckets.assign(buckets.begin(), buckets.end());
    convert.maxTokens = options.maxTokens;
    convert.cubeType = cubeType;
    pm.addPass(moec::npu::createConvertToNpu(convert));
    pm.addPass(moec::moe::createMoeWeightsToArguments());
  }
  /// --emit=llvm writes the lowered npu IR; --emit=obj the image's object.
  LogicalResult serialize(ModuleOp module, const moec::TargetOptions &options,
                          moec::SerializedModule &result) const override {
    FailureOr<moec::npu::NpuImage> image = buildImage(module);
    if (failed(image))
      return failure();
    llvm::raw_string_ostream os(result.targetIR);
    module.print(os);
    return moec::npu::compileObject(module, moec::npu::encodeImage(*image),
                                    image->entries.size(), result.object);
  }
  LogicalResult link(ModuleOp module, const moec::SerializedModule &serialized,
                     const moec::TargetOptions &options) const override {
    moec::PackagedModel package;
    if (failed(moec::packageModel(module, options, package)))
      return failure();
    FailureOr<moec::npu::NpuImage> image = buildImage(module);
    if (failed(image))
      return failure();
    // The weights file first: the binary is useless without it.
    if (failed(moec::writeWeightsFile(module, options, package)))
      return failure();
    return moec::npu::linkExecutable(module, moec::npu::encodeImage(*image),
                                     image->entries.size(), package.manifest,
                                     package.embedded, options.outputPath);
  }
};
} // namespace

static bool registerNpuTarget(uint32_t apiVersion,
                              moec::TargetRegistry *registry) {
  return apiVersion == moec::kTargetApiVersion &&
         registry->add(std::make_unique<NpuTarget>());
}

MOEC_DEFINE_TARGET_PLUGIN("npu", registerNpuTarget)
