//===- moec-opt.cpp - moec's optimizer driver -----------------------------===//
//
// Runs any moec or upstream MLIR pass on textual IR, lit-test style. Pass and
// dialect plugins load with --load-pass-plugin / --load-dialect-plugin,
// target plugins (their passes and dialects) with --load-target-plugin.
//
//===----------------------------------------------------------------------===//

#include "dialects/decoder/IR/DecoderDialect.h"
#include "dialects/moe/IR/MoeDialect.h"
#include "dialects/moe/Transforms/Passes.h"
#include "dialects/onnx/IR/OnnxOps.h"
#include "moec/Target/TargetPlugin.h"
#include "moec/Target/TargetRegistry.h"
#include "passes/Conversion/Passes.h"
#include "passes/Quant/Passes.h"
#include "passes/Sparsity/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

// Loaded before MlirOptMain parses the command line; declared so that the
// parser accepts it and --help lists it.
static llvm::cl::list<std::string> targetPlugins(
    moec::kLoadTargetPluginFlag,
    llvm::cl::desc("Load a moec target from a shared library (repeatable)"),
    llvm::cl::value_desc("path"));

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  moec::moe::registerMoeTransformsPasses();
  moec::registerMoecConversionPasses();
  moec::registerMoecQuantPasses();
  moec::registerMoecSparsityPasses();
  // Each target's passes (e.g. cpu-lower-moe), through the same
  // registry the moec driver uses.
  moec::TargetRegistry targets;
  moec::registerInTreeTargets(targets);
  if (llvm::Error error = moec::loadTargetPlugins(argc, argv, targets)) {
    llvm::errs() << "moec-opt: error: " << llvm::toString(std::move(error))
                 << "\n";
    return 1;
  }
  for (const moec::TargetBackend *target : targets.getTargets())
    target->registerPasses();

  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  registry.insert<moec::decoder::DecoderDialect, moec::moe::MoeDialect,
                  moec::onnx::OnnxDialect>();
  for (const moec::TargetBackend *target : targets.getTargets())
    target->registerDialects(registry);

  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "moec optimizer driver\n", registry));
}
