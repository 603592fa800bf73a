//===- moec.cpp - The moec compiler driver --------------------------------===//
//
// moec MODEL [-o OUT]: imports the model (ONNX, MLIR, or a Hugging Face
// checkpoint directory), raises its MoE blocks,
// rewrites them to the sparse path, and hands the program to a target,
// which lowers, serializes and links it into a standalone binary. Each
// stage prints one progress line; an error names the problem and leaves no
// output behind.
//
//===----------------------------------------------------------------------===//

#include "dialects/decoder/IR/DecoderDialect.h"
#include "dialects/decoder/IR/LinearRoles.h"
#include "dialects/moe/IR/MoeDialect.h"
#include "dialects/moe/IR/MoeOps.h"
#include "dialects/moe/Transforms/Passes.h"
#include "dialects/onnx/IR/OnnxOps.h"
#include "moec/Frontend/CheckpointImporter.h"
#include "moec/Frontend/OnnxImporter.h"
#include "moec/Support/ToolDiagnostics.h"
#include "moec/Target/TargetPlugin.h"
#include "moec/Target/TargetRegistry.h"
#include "passes/Conversion/Passes.h"
#include "passes/Quant/Passes.h"
#include "passes/Quant/QuantScheme.h"
#include "passes/Sparsity/Passes.h"
#include "runtime/formats/MappedFile.h"
#include "tools/moec/ProfileCommand.h"
#include "tools/moec/SparsityOptions.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

using namespace mlir;
using namespace moec;

namespace cl = llvm::cl;

static cl::OptionCategory category("moec options");
static cl::opt<std::string>
    inputPath(cl::Positional,
              cl::desc("<model.onnx | module.mlir | checkpoint directory>"),
              cl::cat(category));
static cl::opt<std::string> outputPath(
    "o",
    cl::desc("Output file (default: the model's base name in the current "
             "directory, plus .mlir/.ll/.o for --emit=mlir/llvm/obj)"),
    cl::value_desc("file"), cl::cat(category));
static cl::opt<std::string> targetName("target",
                                       cl::desc("Target (default: cpu)"),
                                       cl::init("cpu"), cl::cat(category));
static cl::opt<bool>
    listTargets("list-targets",
                cl::desc("List the targets, where each comes from, and exit"),
                cl::cat(category));
// Loaded before the command line is parsed (loadTargetPlugins); listed
// here for --help and so that the parser accepts it.
static cl::list<std::string>
    targetPlugins(kLoadTargetPluginFlag,
                  cl::desc("Load a target from a shared library (repeatable; "
                           "docs/target-plugins.md)"),
                  cl::value_desc("path"), cl::cat(category));
static cl::opt<unsigned> optLevel("O", cl::desc("Optimization level 0-3"),
                                  cl::Prefix, cl::init(2), cl::cat(category));
static cl::list<std::string> inputShapes(
    "input-shape",
    cl::desc("Fix the shape of an input, NAME=D0,D1,... (repeatable); the "
             "binary then accepts exactly that shape"),
    cl::value_desc("name=dims"), cl::cat(category));
static cl::opt<int64_t>
    maxTokens("max-tokens",
              cl::desc("Largest size of a dynamic input dimension (the token "
                       "count) the binary accepts (default 512)"),
              cl::init(512), cl::cat(category));
static cl::opt<int64_t> contextSize(
    "ctx-size",
    cl::desc("Positions the KV cache of a checkpoint's model holds unless "
             "the binary's --ctx-size says otherwise (default: "
             "min(max_position_embeddings, 4096))"),
    cl::init(0), cl::cat(category));
static cl::opt<MlaForm> mlaForm(
    "mla",
    cl::desc("How DeepSeek's multi-head latent attention is computed and "
             "cached (default: compressed where that reads fewer bytes)"),
    cl::values(clEnumValN(MlaForm::Compressed, "compressed",
                          "one latent vector per position; kv_b_proj "
                          "absorbed into the query and the output"),
               clEnumValN(MlaForm::Decompressed, "decompressed",
                          "every head's keys and values, as Hugging Face "
                          "caches them")),
    cl::init(MlaForm::Auto), cl::cat(category));
static cl::opt<KvCacheType> kvCache(
    "kv-cache",
    cl::desc("Element type of a checkpoint's KV cache (default f32)"),
    cl::values(clEnumValN(KvCacheType::F32, "f32", "exact"),
               clEnumValN(KvCacheType::F16, "f16",
                          "half the bytes per position; keys and values "
                          "rounded to f16 as they are written"),
               clEnumValN(KvCacheType::BF16, "bf16",
                          "half the bytes per position; rounded to bf16")),
    cl::init(KvCacheType::F32), cl::cat(category));
static cl::opt<bool> noTokenizer(
    "no-tokenizer",
    cl::desc("Do not embed a checkpoint's tokenizer: the binary takes token "
             "ids only (--tokens)"),
    cl::init(false), cl::cat(category));
static cl::opt<uint64_t> embedMaxBytes(
    "embed-max-bytes",
    cl::desc("Weights smaller than this are embedded in the binary; larger "
             "ones go to OUT.weights.safetensors beside it (default 1 MiB)"),
    cl::init(uint64_t(1) << 20), cl::cat(category));
static cl::opt<bool> noRaise(
    "no-raise",
    cl::desc("Do not raise MoE blocks to moe ops: compile the ONNX graph op "
             "by op (every expert for every token; docs/moe-raising.md)"),
    cl::init(false), cl::cat(category));
static cl::OptionCategory
    sparsityCategory("expert sparsity (docs/sparsity.md)");
static cl::opt<bool> profileRouting(
    "profile-routing",
    cl::desc("Build an instrumented binary that writes a routing profile "
             "(run it with --profile-out FILE)"),
    cl::cat(sparsityCategory));
static cl::opt<std::string> pruneExperts(
    "prune-experts",
    cl::desc("Remove experts: PROFILE:keep=N | threshold=X | budget=F "
             "[,metric=saliency], or PROFILE:saliency=X"),
    cl::value_desc("spec"), cl::cat(sparsityCategory));
static cl::opt<std::string> skipExperts(
    "skip-experts",
    cl::desc("Skip a chosen expert whose weight is below beta * the top "
             "weight: beta=B, or PROFILE[:fraction=F] for a beta per layer"),
    cl::value_desc("spec"), cl::cat(sparsityCategory));
static cl::opt<int64_t> reduceTopK("reduce-topk",
                                   cl::desc("Route every token to K experts"),
                                   cl::value_desc("K"), cl::init(0),
                                   cl::cat(sparsityCategory));
static cl::opt<std::string> mergeExperts(
    "merge-experts",
    cl::desc("Merge experts with similar mean outputs: PROFILE:keep=N or "
             "PROFILE:similarity=S"),
    cl::value_desc("spec"), cl::cat(sparsityCategory));
static cl::opt<double> staticCapacity(
    "static-capacity",
    cl::desc("Give every expert ceil(CF * T * k / E) token slots (needs a "
             "static token count; changes numerics when a slot overflows)"),
    cl::value_desc("CF"), cl::init(0.0), cl::cat(sparsityCategory));
static cl::OptionCategory quantCategory("quantization (docs/quantization.md)");
static cl::opt<std::string>
    quantize("quantize",
             cl::desc("Quantize expert weights (and a checkpoint's dense "
                      "layers: --quantize-linears): int8 | int4-g32 | "
                      "int4-g64 | int4-g128, optionally followed by ,asym"),
             cl::value_desc("scheme"), cl::cat(quantCategory));
static cl::opt<std::string> quantizeLinears(
    "quantize-linears",
    cl::desc("The dense layers of a checkpoint's model that --quantize "
             "quantizes too: attention, mlp, shared_expert, lm_head, "
             "comma-separated, or none (default: all four)"),
    cl::value_desc("roles"), cl::init("attention,mlp,shared_expert,lm_head"),
    cl::cat(quantCategory));
static cl::opt<std::string> quantPolicy(
    "quant-policy",
    cl::desc("Mixed precision: a scheme or fp32 per layer and expert, from "
             "a JSON policy (docs/quantization.md); --quantize is the "
             "default for experts it does not name"),
    cl::value_desc("policy.json"), cl::cat(quantCategory));
static cl::opt<std::string>
    awqProfile("awq",
               cl::desc("Activation-aware scales for --quantize from a "
                        "routing profile (moec --profile-routing)"),
               cl::value_desc("profile.json"), cl::cat(quantCategory));
static cl::opt<int64_t> awqMinTokens(
    "awq-min-tokens",
    cl::desc("Experts routed fewer profile tokens keep round-to-nearest "
             "(default 16)"),
    cl::init(16), cl::cat(quantCategory));
enum class ActPrecision { Fp32, Int8 };
static cl::opt<ActPrecision> activationPrecision(
    "act", cl::desc("Activation precision of matmuls on quantized weights"),
    cl::init(ActPrecision::Fp32),
    cl::values(clEnumValN(ActPrecision::Fp32, "fp32", "float rows (default)"),
               clEnumValN(ActPrecision::Int8, "int8",
                          "rows quantized to int8 per token at run time")),
    cl::cat(quantCategory));
enum class Emit { Mlir, Llvm, Obj, Exe };
static cl::opt<Emit> emit(
    "emit", cl::desc("What to produce"), cl::init(Emit::Exe),
    cl::values(clEnumValN(Emit::Mlir, "mlir", "the target's lowered MLIR"),
               clEnumValN(Emit::Llvm, "llvm",
                          "the target's translated code (LLVM IR for cpu)"),
               clEnumValN(Emit::Obj, "obj", "an object file"),
               clEnumValN(Emit::Exe, "exe",
                          "a standalone executable (default)")),
    cl::cat(category));
static cl::opt<bool>
    dumpAfterEach("dump-after-each",
                  cl::desc("Print the IR to stderr after every pass"),
                  cl::cat(category));
static cl::opt<bool> quiet("q", cl::desc("No progress lines"),
                           cl::cat(category));

namespace {
/// Prints "moec: STAGE ... (seconds)" as each stage ends.
class Progress {
public:
  void done(StringRef stage) {
    auto now = std::chrono::steady_clock::now();
    if (!quiet)
      llvm::errs() << "moec: " << stage << " ("
                   << llvm::format(
                          "%.2f",
                          std::chrono::duration<double>(now - start).count())
                   << " s)\n";
    start = now;
  }

private:
  std::chrono::steady_clock::time_point start =
      std::chrono::steady_clock::now();
};
} // namespace

static std::string defaultOutputPath() {
  std::string stem = llvm::sys::path::stem(inputPath).str();
  switch (emit) {
  case Emit::Mlir:
    return stem + ".mlir";
  case Emit::Llvm:
    return stem + ".ll";
  case Emit::Obj:
    return stem + ".o";
  case Emit::Exe:
    return stem;
  }
  llvm_unreachable("unknown emit kind");
}

static LogicalResult writeOutput(StringRef path, StringRef contents) {
  std::string error;
  auto output = openOutputFile(path, &error);
  if (!output) {
    llvm::errs() << "moec: error: " << error << "\n";
    return failure();
  }
  output->os() << contents;
  if (output->os().has_error()) {
    llvm::errs() << "moec: error: cannot write '" << path << "'\n";
    return failure();
  }
  output->keep();
  return success();
}

/// An MLIR module (moec-import's output, or written by hand): its public
/// functions become the binary's entry points.
static bool isMlirInput(StringRef path) { return path.ends_with(".mlir"); }

static OwningOpRef<ModuleOp> parseMlirModule(MLIRContext &context,
                                             StringRef path) {
  if (!rt::regularFileSize(path.str())) {
    llvm::errs() << "moec: error: cannot read '" << path
                 << "': no such regular file\n";
    return {};
  }
  return parseSourceFile<ModuleOp>(path, &context);
}

/// True when some grouped matmul takes int8 activations.
static bool hasInt8Activations(ModuleOp module) {
  bool found = false;
  module.walk([&](moe::GroupedMatmulOp op) {
    found |= op->hasAttr(kInt8ActivationsAttr);
  });
  return found;
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  TargetRegistry targets;
  registerInTreeTargets(targets);
  if (llvm::Error error = loadTargetPlugins(argc, argv, targets)) {
    llvm::errs() << "moec: error: " << llvm::toString(std::move(error)) << "\n";
    return 1;
  }
  registerAllPasses();
  moe::registerMoeTransformsPasses();
  registerMoecConversionPasses();
  registerMoecQuantPasses();
  registerMoecSparsityPasses();
  for (const TargetBackend *target : targets.getTargets())
    target->registerPasses();

  if (argc > 1 && StringRef(argv[1]) == "profile")
    return runProfileCommand(argc - 1, argv + 1);
  // --mlir-timing and the other pass-manager options, for finding where
  // compile time goes (hidden from --help).
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  // Each target's own flags (the CPU's --cpu, --mattr, --tile-depth) are
  // shown beside the driver's.
  std::vector<const cl::OptionCategory *> shown = {&category, &sparsityCategory,
                                                   &quantCategory};
  for (const TargetBackend *target : targets.getTargets())
    if (const cl::OptionCategory *own = target->getOptionCategory())
      shown.push_back(own);
  cl::HideUnrelatedOptions(shown);
  cl::ParseCommandLineOptions(
      argc, argv,
      "moec: compile a Mixture-of-Experts ONNX model (or an MLIR module, "
      "such as\nmoec-import writes) into a standalone binary\n\n  moec "
      "model.onnx [-o model] && ./model --input x=x.npy --output y.npy\n"
      "  moec profile merge|show ...  (routing "
      "profiles; moec profile --help)\n");

  if (listTargets) {
    for (const TargetBackend *target : targets.getTargets())
      llvm::outs() << target->getName() << "  " << target->getDescription()
                   << "  [" << targets.getOrigin(target->getName()) << "]\n";
    return 0;
  }
  if (inputPath.empty()) {
    llvm::errs() << "moec: error: no model given (see --help)\n";
    return 1;
  }
  const TargetBackend *target = targets.lookup(targetName);
  if (!target) {
    llvm::errs() << "moec: error: unknown target '" << targetName
                 << "' (see --list-targets)\n";
    return 1;
  }
  if (optLevel > 3 || maxTokens < 1) {
    llvm::errs() << "moec: error: "
                 << (optLevel > 3 ? "-O takes 0 to 3"
                                  : "--max-tokens must be at least 1")
                 << "\n";
    return 1;
  }
  OnnxImportOptions importOptions;
  for (const std::string &shape : inputShapes) {
    std::string error = parseInputShape(shape, importOptions.inputShapes);
    if (!error.empty()) {
      llvm::errs() << "moec: error: --input-shape: " << error << "\n";
      return 1;
    }
  }
  TargetOptions options;
  options.optLevel = optLevel;
  options.maxTokens = maxTokens;
  options.embedMaxBytes = embedMaxBytes;
  options.outputPath = outputPath.empty() ? defaultOutputPath() : outputPath;
  SparsityFlags flags;
  flags.pruneExperts = pruneExperts;
  flags.skipExperts = skipExperts;
  flags.mergeExperts = mergeExperts;
  flags.reduceTopK = reduceTopK;
  flags.staticCapacity = staticCapacity;
  flags.report = !quiet;
  SparsityPlan sparsity;
  std::string sparsityError = planSparsity(flags, sparsity);
  if (!sparsityError.empty()) {
    llvm::errs() << "moec: error: " << sparsityError << "\n";
    return 1;
  }
  if (!quantize.empty() && !QuantScheme::parse(quantize)) {
    llvm::errs() << "moec: error: --quantize: unknown scheme '" << quantize
                 << "' (expected int8, int4-g32, int4-g64 or int4-g128, "
                    "optionally followed by ,asym)\n";
    return 1;
  }
  bool quantizing = !quantize.empty() || !quantPolicy.empty();
  if (!awqProfile.empty() && !quantizing) {
    llvm::errs() << "moec: error: --awq needs --quantize or --quant-policy\n";
    return 1;
  }
  options.modelName = llvm::sys::path::stem(options.outputPath).str();

  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registry
      .insert<decoder::DecoderDialect, moe::MoeDialect, onnx::OnnxDialect>();
  target->registerDialects(registry);
  MLIRContext context(registry);
  // Errors name their node or op; one line each.
  ToolDiagnosticHandler handler(&context, "moec");

  Progress progress;
  if (isMlirInput(inputPath) && !inputShapes.empty()) {
    llvm::errs() << "moec: error: --input-shape applies to ONNX models; an "
                    "MLIR module's function types fix its shapes\n";
    return 1;
  }
  bool checkpoint = isCheckpointDirectory(inputPath);
  if (contextSize < 0 || contextSize > (int64_t(1) << 24)) {
    llvm::errs() << "moec: error: --ctx-size must be between 1 and "
                 << (int64_t(1) << 24) << "\n";
    return 1;
  }
  CheckpointImportOptions checkpointOptions;
  checkpointOptions.contextSize = contextSize;
  checkpointOptions.embedTokenizer = !noTokenizer;
  checkpointOptions.mla = mlaForm;
  checkpointOptions.kvCache = kvCache;
  if (mlaForm.getNumOccurrences() && !checkpoint) {
    llvm::errs() << "moec: error: --mla applies to checkpoints (DeepSeek's "
                    "multi-head latent attention)\n";
    return 1;
  }
  if (kvCache.getNumOccurrences() && !checkpoint) {
    llvm::errs() << "moec: error: --kv-cache applies to checkpoints, whose "
                    "models keep a KV cache\n";
    return 1;
  }
  if (checkpoint && !inputShapes.empty()) {
    llvm::errs() << "moec: error: --input-shape applies to ONNX models; a "
                    "checkpoint's model takes token ids\n";
    return 1;
  }
  OwningOpRef<ModuleOp> module =
      checkpoint ? importCheckpoint(&context, inputPath, checkpointOptions)
      : isMlirInput(inputPath)
          ? parseMlirModule(context, inputPath)
          : importOnnxModel(&context, inputPath, importOptions);
  if (!module)
    return 1;
  auto runPasses = [&](llvm::function_ref<void(PassManager &)> build) {
    PassManager pm(&context);
    if (dumpAfterEach) {
      context.disableMultithreading();
      pm.enableIRPrinting([](Pass *, Operation *) { return false; },
                          [](Pass *, Operation *) { return true; },
                          /*printModuleScope=*/true,
                          /*printAfterOnlyOnChange=*/false);
    }
    build(pm);
    if (failed(applyPassManagerCLOptions(pm)))
      return failure();
    DefaultTimingManager timing;
    applyDefaultTimingManagerCLOptions(timing);
    TimingScope root = timing.getRootScope();
    pm.enableTiming(root);
    return pm.run(*module);
  };
  if (failed(runPasses([&](PassManager &pm) {
        if (isMlirInput(inputPath))
          pm.addPass(moe::createMoeVerifyWeights());
        if (!noRaise) {
          MoeRaiseOnnxPatternsOptions raiseOptions;
          raiseOptions.reportUnraised = !quiet;
          pm.addPass(createMoeRaiseOnnxPatterns(raiseOptions));
        }
        pm.addPass(createConvertOnnxToLinalg());
        pm.addPass(createCanonicalizerPass());
        pm.addPass(createCSEPass());
      })))
    return 1;
  int64_t raised = 0;
  module->walk([&](moe::ExpertsOp) { ++raised; });
  progress.done("imported " + inputPath + ", " + std::to_string(raised) +
                " MoE block" + (raised == 1 ? "" : "s") + " raised");
  // A dense layer of a checkpoint's model quantizes too.
  bool quantizableLinears = false;
  module->walk([&](linalg::GenericOp op) {
    if (auto role = op->getAttrOfType<StringAttr>(decoder::kLinearRoleAttr))
      quantizableLinears |=
          llvm::is_contained(decoder::kQuantizableRoles, role.getValue());
  });
  // A pass that acts on moe.experts would silently do nothing.
  if (raised == 0) {
    std::string flag = !quantizableLinears && !quantize.empty() ? "--quantize"
                       : !quantizableLinears && !quantPolicy.empty()
                           ? "--quant-policy"
                       : !pruneExperts.empty() ? "--prune-experts"
                       : !skipExperts.empty()  ? "--skip-experts"
                       : !mergeExperts.empty() ? "--merge-experts"
                       : reduceTopK > 0        ? "--reduce-topk"
                       : staticCapacity > 0    ? "--static-capacity"
                       : profileRouting        ? "--profile-routing"
                                               : "";
    if (!flag.empty()) {
      llvm::errs() << "moec: error: " << flag
                   << " acts on MoE blocks, but no MoE block of " << inputPath
                   << " was raised to moe.experts ("
                   << (noRaise ? "--no-raise is given"
                       : quiet ? "run without -q for the reason of each TopK"
                               : "the reason of each TopK is above")
                   << ")\n";
      return 1;
    }
  }
  if (!sparsity.empty()) {
    if (failed(runPasses(
            [&](PassManager &pm) { addSparsityPasses(pm, sparsity); })))
      return 1;
    progress.done("expert sparsity");
  }
  if (quantizing) {
    if (failed(runPasses([&](PassManager &pm) {
          MoeQuantizeWeightsOptions quantOptions;
          quantOptions.scheme = quantize;
          quantOptions.policy = quantPolicy;
          quantOptions.awqProfile = awqProfile;
          quantOptions.awqMinTokens = awqMinTokens;
          quantOptions.report = !quiet;
          pm.addPass(createMoeQuantizeWeights(quantOptions));
          MoeQuantizeLinearsOptions linearOptions;
          linearOptions.scheme = quantize;
          linearOptions.roles = quantizeLinears;
          linearOptions.policy = quantPolicy;
          linearOptions.report = !quiet;
          pm.addPass(createMoeQuantizeLinears(linearOptions));
        })))
      return 1;
    std::string how =
        quantPolicy.empty() ? quantize.getValue() : "policy " + quantPolicy;
    progress.done("weights quantized (" + how +
                  (awqProfile.empty() ? "" : ", AWQ") + ")");
  }
  bool int8Activations = activationPrecision == ActPrecision::Int8;
  if (failed(runPasses([&](PassManager &pm) {
        target->buildPreDispatchPipeline(pm, options);
        pm.addPass(createMoeSparseDispatch());
        // The decoder ops' reference decomposition; a target that lowers
        // one its own way converts it in its pre-dispatch pipeline.
        pm.addPass(createDecoderToLinalg());
        // One RoPE table per call, shared by every layer's ropes.
        pm.addPass(createCSEPass());
        if (int8Activations)
          pm.addPass(createMoeQuantizeActivations());
        if (profileRouting)
          pm.addPass(createMoeInstrumentRouting());
      })))
    return 1;
  if (int8Activations && !hasInt8Activations(*module)) {
    llvm::errs() << "moec: error: --act=int8 needs quantized weights "
                    "(--quantize, or a pre-quantized model)\n";
    return 1;
  }
  progress.done(profileRouting ? "sparse dispatch, routing instrumented"
                               : "sparse dispatch");
  if (failed(runPasses([&](PassManager &pm) {
        target->buildLoweringPipeline(pm, options);
      }))) {
    llvm::errs() << "moec: error: target '" << target->getName()
                 << "' cannot lower this model (see above)\n";
    return 1;
  }
  progress.done("lowered for target " + target->getName().str());
  if (emit == Emit::Mlir) {
    std::string text;
    llvm::raw_string_ostream os(text);
    module->print(os);
    return failed(writeOutput(options.outputPath, text)) ? 1 : 0;
  }

  SerializedModule serialized;
  if (failed(target->serialize(*module, options, serialized)))
    return 1;
  progress.done("code generated");
  if (emit == Emit::Llvm)
    return failed(writeOutput(options.outputPath, serialized.targetIR)) ? 1 : 0;
  if (emit == Emit::Obj)
    return failed(writeOutput(options.outputPath, serialized.object)) ? 1 : 0;
  if (failed(target->link(*module, serialized, options)))
    return 1;
  progress.done("linked " + options.outputPath);
  return 0;
}
