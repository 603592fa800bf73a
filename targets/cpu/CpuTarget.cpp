//===- CpuTarget.cpp - The CPU target: LLVM codegen, a native binary ------===//

#include "targets/cpu/CpuTarget.h"

#include "targets/cpu/Passes.h"

#include "moec/Target/TargetRegistry.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "llvm/Support/ErrorHandling.h"

using namespace mlir;
using namespace moec;

/// The lowering after moe-sparse-dispatch. Everything stays in upstream
/// passes except the moe loop lowering, the calling convention and the
/// threading; see docs/cpu-target.md. convert-moe-to-scf, between the two
/// halves, takes the target's register-tile options.
static constexpr const char kPipelineHead[] =
    "moe-externalize-constants{min-bytes=256},";
// No CSE between the loop lowerings and bufferization: they read tensors
// through bufferization.to_buffer, and CSE merges two reads of one tensor
// into the first, which hides the later read from One-Shot Bufferize; it
// may then write that buffer in place in between (a MatMul + bias Add
// feeding a MatMul computed garbage). Canonicalization folds the signless
// bitcast pairs, which do not bufferize.
static constexpr const char kPipelineTail[] =
    "cpu-weights-to-arguments,"
    "canonicalize,"
    "moe-unshare-tensors,"
    "one-shot-bufferize{bufferize-function-boundaries "
    "function-boundary-type-conversion=identity-layout-map},"
    // Upstream's buffer-deallocation-pipeline, with the split of distinct
    // allocations done in linear time first, then each buffer freed right
    // after its last use rather than at the end of its block.
    "func.func(expand-realloc{emit-deallocs=false},canonicalize,"
    "ownership-based-buffer-deallocation,canonicalize,moe-split-deallocs,"
    "buffer-deallocation-simplification),"
    "bufferization-lower-deallocations,"
    "func.func(cse,canonicalize),moe-free-after-last-use,"
    "convert-bufferization-to-memref,"
    "cpu-split-model-function,"
    "convert-linalg-to-parallel-loops,"
    "canonicalize,"
    "cpu-parallel-to-runtime,"
    "expand-strided-metadata,lower-affine,convert-math-to-funcs,"
    "cpu-assert-to-runtime,convert-scf-to-cf,convert-vector-to-llvm,"
    "finalize-memref-to-llvm,convert-math-to-llvm,convert-math-to-libm,"
    "convert-arith-to-llvm,convert-index-to-llvm,convert-cf-to-llvm,"
    "convert-func-to-llvm,reconcile-unrealized-casts";

namespace {
class CpuTarget final : public TargetBackend {
public:
  llvm::StringRef getName() const override { return "cpu"; }
  llvm::StringRef getDescription() const override {
    return "the host CPU (x86-64: generic, AVX2, AVX-512) through LLVM";
  }
  void registerDialects(DialectRegistry &registry) const override {
    registry.insert<LLVM::LLVMDialect>();
    registerBuiltinDialectTranslation(registry);
    registerLLVMDialectTranslation(registry);
  }
  void registerPasses() const override { cpu::registerMoecCpuPasses(); }
  void buildLoweringPipeline(OpPassManager &pm,
                             const TargetOptions &options) const override {
    // Register tiles: 6 rows x 64 columns of accumulators with AVX-512
    // (24 of 32 registers), 6 x 16 with AVX2 (12 of 16).
    int64_t lanes = cpu::getVectorLanes(options);
    std::string tiles =
        lanes ? "{vector-width=" + std::to_string(lanes) +
                    " tile-panels=" + std::to_string(lanes == 16 ? 4 : 2) +
                    (options.tileDepth
                         ? " tile-depth=" + std::to_string(options.tileDepth)
                         : "") +
                    "}"
              : "";
    std::string expertOptions = tiles;
    if (int64_t dotBytes = lanes ? cpu::getInt8DotBytes(options) : 0)
      expertOptions.insert(expertOptions.size() - 1,
                           " int8-dot-bytes=" + std::to_string(dotBytes));
    std::string pipeline =
        std::string(kPipelineHead) + "convert-moe-to-scf" + expertOptions +
        "," + (lanes ? "convert-matmul-to-tiles" + tiles + "," : "") +
        kPipelineTail;
    if (failed(parsePassPipeline(pipeline, pm)))
      llvm::report_fatal_error("the CPU pipeline does not parse; are the "
                               "upstream passes registered?");
  }
  LogicalResult serialize(ModuleOp module, const TargetOptions &options,
                          SerializedModule &result) const override {
    return cpu::serializeToObject(module, options, result);
  }
  LogicalResult link(ModuleOp module, const SerializedModule &serialized,
                     const TargetOptions &options) const override {
    return cpu::linkExecutable(module, serialized, options);
  }
};
} // namespace

extern "C" bool moecRegisterTarget_cpu(uint32_t apiVersion,
                                       TargetRegistry *registry) {
  if (apiVersion != kTargetApiVersion)
    return false;
  return registry->add(std::make_unique<CpuTarget>());
}
