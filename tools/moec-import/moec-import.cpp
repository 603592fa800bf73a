//===- moec-import.cpp - Import a model as MLIR ---------------------------===//
//
// moec-import MODEL.onnx [-o OUT.mlir]: the model's graph in upstream
// dialects (or, with --emit=onnx, as one onnx.node per node), with weights
// by reference. moec-import CHECKPOINT_DIR: a Hugging Face checkpoint's
// forward pass in the decoder and moe dialects (--emit=upstream decomposes
// the decoder ops). Errors name the problem and leave no output file
// behind.
//
//===----------------------------------------------------------------------===//

#include "dialects/decoder/IR/DecoderDialect.h"
#include "dialects/moe/IR/MoeOps.h"
#include "dialects/onnx/IR/OnnxOps.h"
#include "moec/Frontend/CheckpointImporter.h"
#include "moec/Frontend/OnnxImporter.h"
#include "moec/Support/ToolDiagnostics.h"
#include "passes/Conversion/OnnxToLinalg/OnnxToLinalg.h"
#include "passes/Conversion/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace moec;

namespace cl = llvm::cl;

static cl::OptionCategory category("moec-import options");
static cl::opt<std::string>
    inputPath(cl::Positional, cl::desc("<model.onnx | checkpoint directory>"),
              cl::cat(category));
static cl::opt<bool> listOps(
    "list-ops",
    cl::desc("Print the ONNX op types moec imports, one per line, and exit"),
    cl::cat(category));
static cl::opt<std::string>
    outputPath("o", cl::desc("Output file (default: stdout)"),
               cl::value_desc("file"), cl::init("-"), cl::cat(category));
static cl::list<std::string> inputShapes(
    "input-shape",
    cl::desc("Fix the shape of a graph input: NAME=D0,D1,... (repeatable)"),
    cl::value_desc("name=dims"), cl::cat(category));
enum class Emit { Onnx, Moe, Upstream };
static cl::opt<Emit> emit(
    "emit", cl::desc("What to print"), cl::init(Emit::Upstream),
    cl::values(clEnumValN(Emit::Onnx, "onnx",
                          "one onnx.node per ONNX node, as imported"),
               clEnumValN(Emit::Moe, "moe",
                          "after MoE raising, before lowering the rest"),
               clEnumValN(Emit::Upstream, "upstream",
                          "lowered to linalg/tensor/arith/math/scf (default)")),
    cl::cat(category));
static cl::opt<bool>
    noRaise("no-raise",
            cl::desc("Do not raise MoE blocks to moe ops (they lower op by op; "
                     "com.microsoft.MoE/QMoE then cannot be imported)"),
            cl::cat(category));
static cl::opt<bool> raiseReport(
    "moe-raise-report",
    cl::desc("Print to stderr, for each TopK and MoE contrib node, whether "
             "it was raised to moe ops and why not"),
    cl::cat(category));
static cl::opt<uint64_t> inlineMaxBytes(
    "inline-max-bytes",
    cl::desc("Initializers of at least this many bytes become weight "
             "references (default 1 MiB)"),
    cl::init(kInlineWeightMaxBytes), cl::cat(category));
static cl::opt<std::string> weightsPath(
    "weights-out",
    cl::desc("File for large initializers embedded in the model (default: "
             "OUT.weights.safetensors, or MODEL.weights.safetensors in the "
             "current directory when printing to stdout)"),
    cl::value_desc("file"), cl::cat(category));

static std::string defaultWeightsPath() {
  if (!weightsPath.empty())
    return weightsPath;
  if (outputPath != "-")
    return outputPath + ".weights.safetensors";
  return llvm::sys::path::stem(inputPath).str() + ".weights.safetensors";
}

/// Writes weights that exist only in memory (large initializers embedded in
/// the protobuf) to a safetensors file the module then lists.
static LogicalResult saveEmbeddedWeights(ModuleOp module) {
  WeightStore &store = module.getContext()
                           ->getOrLoadDialect<moe::MoeDialect>()
                           ->getWeightStore();
  llvm::SetVector<StringRef> unsaved;
  module.walk([&](moe::WeightOp op) {
    if (store.isUnsavedBlob(op.getKey()))
      unsaved.insert(op.getKey());
  });
  if (unsaved.empty())
    return success();
  std::string path = defaultWeightsPath();
  std::vector<std::string> keys(unsaved.begin(), unsaved.end());
  if (llvm::Error error = store.saveBlobs(keys, path))
    return module.emitError("cannot save weights: ")
           << llvm::toString(std::move(error));
  // The module names the file relative to the IR file's directory, after
  // the files it already reads (a checkpoint's shards).
  std::string listed = path;
  if (outputPath != "-" && llvm::sys::path::parent_path(path) ==
                               llvm::sys::path::parent_path(outputPath))
    listed = llvm::sys::path::filename(path).str();
  Builder b(module.getContext());
  SmallVector<Attribute> files;
  if (auto existing = module->getAttrOfType<ArrayAttr>(
          moe::MoeDialect::kWeightFilesAttrName))
    files.append(existing.begin(), existing.end());
  files.push_back(b.getStringAttr(listed));
  module->setAttr(moe::MoeDialect::kWeightFilesAttrName, b.getArrayAttr(files));
  return success();
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "moec-import: import an ONNX model (opsets 13-21, external data, "
      "com.microsoft contrib ops) as MLIR\n");

  if (listOps) {
    // Constant nodes become constants at import and never reach lowering.
    std::vector<std::string> ops = getLowerableOnnxOps();
    ops.push_back("Constant");
    llvm::sort(ops);
    for (const std::string &op : ops)
      llvm::outs() << op << "\n";
    return 0;
  }
  if (inputPath.empty()) {
    llvm::errs() << "moec-import: error: no model given (see --help)\n";
    return 1;
  }

  OnnxImportOptions options;
  for (const std::string &shape : inputShapes) {
    std::string error = parseInputShape(shape, options.inputShapes);
    if (!error.empty()) {
      llvm::errs() << "moec-import: error: --input-shape: " << error << "\n";
      return 1;
    }
  }
  options.inlineMaxBytes = inlineMaxBytes;
  if (outputPath != "-")
    options.outputDir = llvm::sys::path::parent_path(outputPath).str();

  DialectRegistry registry;
  registry.insert<decoder::DecoderDialect, func::FuncDialect, moe::MoeDialect,
                  onnx::OnnxDialect>();
  MLIRContext context(registry);
  // Errors name their node or op; one line each.
  ToolDiagnosticHandler handler(&context, "moec-import");

  bool checkpoint = isCheckpointDirectory(inputPath);
  if (checkpoint && (emit == Emit::Onnx || !inputShapes.empty())) {
    llvm::errs() << "moec-import: error: "
                 << (emit == Emit::Onnx ? "--emit=onnx" : "--input-shape")
                 << " applies to ONNX models, not checkpoints\n";
    return 1;
  }
  OwningOpRef<ModuleOp> module =
      checkpoint ? importCheckpoint(&context, inputPath)
                 : importOnnxModel(&context, inputPath, options);
  if (!module)
    return 1;
  if (checkpoint && emit == Emit::Upstream) {
    PassManager pm(&context);
    pm.addPass(createDecoderToLinalg());
    if (failed(pm.run(*module)))
      return 1;
  } else if (!checkpoint && emit != Emit::Onnx) {
    PassManager pm(&context);
    if (!noRaise) {
      MoeRaiseOnnxPatternsOptions raise;
      raise.report = raiseReport;
      pm.addPass(createMoeRaiseOnnxPatterns(raise));
    }
    if (emit == Emit::Upstream) {
      pm.addPass(createConvertOnnxToLinalg());
      pm.addPass(createCanonicalizerPass());
      pm.addPass(createCSEPass());
    }
    if (failed(pm.run(*module)))
      return 1;
  }
  if (failed(verify(*module)) || failed(saveEmbeddedWeights(*module)))
    return 1;

  std::string error;
  auto output = openOutputFile(outputPath, &error);
  if (!output) {
    llvm::errs() << "moec-import: error: " << error << "\n";
    return 1;
  }
  module->print(output->os());
  output->os() << "\n";
  if (output->os().has_error()) {
    llvm::errs() << "moec-import: error: cannot write '" << outputPath << "'\n";
    return 1;
  }
  output->keep();
  return 0;
}
