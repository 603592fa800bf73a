//===- HostExecutable.cpp - Object code and links for host binaries -------===//

#include "moec/Target/HostExecutable.h"

#include "moec/Runtime/BinaryAbi.h"
#include "moec/Target/LinkSupport.h"
#include "moec/Target/Packager.h"
#include "runtime/formats/MappedFile.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"

using namespace mlir;
using namespace moec;

void moec::optimizeModule(llvm::Module &module, llvm::TargetMachine &machine,
                          unsigned optLevel) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder builder(&machine);
  builder.registerModuleAnalyses(mam);
  builder.registerCGSCCAnalyses(cgam);
  builder.registerFunctionAnalyses(fam);
  builder.registerLoopAnalyses(lam);
  builder.crossRegisterProxies(lam, fam, cgam, mam);
  static const llvm::OptimizationLevel levels[] = {
      llvm::OptimizationLevel::O0, llvm::OptimizationLevel::O1,
      llvm::OptimizationLevel::O2, llvm::OptimizationLevel::O3};
  llvm::OptimizationLevel level = levels[std::min(optLevel, 3u)];
  llvm::ModulePassManager passes =
      level == llvm::OptimizationLevel::O0
          ? builder.buildO0DefaultPipeline(level)
          : builder.buildPerModuleDefaultPipeline(level);
  passes.run(module, mam);
}

bool moec::emitObject(llvm::Module &module, llvm::TargetMachine &machine,
                      std::string &object) {
  llvm::SmallString<0> bytes;
  llvm::raw_svector_ostream stream(bytes);
  llvm::legacy::PassManager codegen;
  if (machine.addPassesToEmitFile(codegen, stream, nullptr,
                                  llvm::CodeGenFileType::ObjectFile))
    return false;
  codegen.run(module);
  object.assign(bytes.begin(), bytes.end());
  return true;
}

LogicalResult moec::linkHostExecutable(ModuleOp module,
                                       const SerializedModule &serialized,
                                       const TargetOptions &options,
                                       ArrayRef<std::string> archives,
                                       ArrayRef<std::string> flags,
                                       StringRef crossTriple) {
  std::string runtime =
      crossTriple.empty()
          ? findRuntimeLibrary("libMoecBinaryRuntime.a",
                               MOEC_BINARY_RUNTIME_LIBRARY)
          : findRuntimeLibrary((crossTriple + "/libMoecBinaryRuntime.a").str(),
                               (MOEC_RUNTIME_LIBRARY_DIR "/" + crossTriple +
                                "/libMoecBinaryRuntime.a")
                                   .str());
  if (!llvm::sys::fs::exists(runtime))
    return module.emitError("this moec has no runtime for ")
           << (crossTriple.empty() ? "this machine" : crossTriple) << " ("
           << runtime
           << "): it is built where the architecture's cross toolchain is "
              "installed (docs/cross.md); --emit=obj writes the object "
              "alone";
  PackagedModel package;
  if (failed(packageModel(module, options, package)))
    return failure();

  const std::string &output = options.outputPath;
  // The executable is renamed into place: never over a device, a FIFO or a
  // directory (as root, /dev/full would be replaced).
  if (!rt::isReplaceable(output)) {
    llvm::errs() << "moec: error: cannot write '" << output
                 << "': not a regular file\n";
    return failure();
  }
  ScratchDirectory scratch;
  if (failed(scratch.create(module, "moec-link")))
    return failure();
  std::string objectPath = scratch.path("model.o");
  std::string manifestPath = scratch.path("manifest.json");
  std::string blobPath = scratch.path("weights.bin");
  std::string assemblyPath = scratch.path("data.s");
  std::string logPath = scratch.path("link.log");
  std::string assembly = incbinAssembly(MOEC_ABI_MANIFEST, manifestPath, 0) +
                         incbinAssembly(MOEC_ABI_WEIGHTS, blobPath, 6) +
                         "  .section .note.GNU-stack,\"\",@progbits\n";
  if (failed(writeFile(module, objectPath, serialized.object)) ||
      failed(writeFile(module, manifestPath, package.manifest)) ||
      failed(writeFile(module, blobPath, package.embedded)) ||
      failed(writeFile(module, assemblyPath, assembly)))
    return failure();

  // The weights file first: the binary is useless without it.
  if (failed(writeWeightsFile(module, options, package)))
    return failure();

  std::string linked = output + ".moec-tmp";
  std::vector<std::string> args = {MOEC_CLANGXX, "-fuse-ld=lld", "-o",
                                   linked,       objectPath,     assemblyPath};
  if (!crossTriple.empty())
    args.push_back(("--target=" + crossTriple).str());
  args.insert(args.end(), archives.begin(), archives.end());
  args.push_back(runtime);
  for (const char *flag : {"-static-libstdc++", "-static-libgcc", "-lm",
                           "-pthread", "-Wl,--gc-sections"})
    args.push_back(flag);
  args.insert(args.end(), flags.begin(), flags.end());
  std::vector<StringRef> argRefs(args.begin(), args.end());
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(logPath),
                                          StringRef(logPath)};
  std::string execError;
  int status = llvm::sys::ExecuteAndWait(MOEC_CLANGXX, argRefs, std::nullopt,
                                         redirects, 0, 0, &execError);
  if (status != 0) {
    llvm::sys::fs::remove(linked);
    std::string log;
    if (auto buffer = llvm::MemoryBuffer::getFile(logPath))
      log = (*buffer)->getBuffer().str();
    return module.emitError("linking failed (")
           << (execError.empty() ? "exit " + std::to_string(status) : execError)
           << ") running " << MOEC_CLANGXX << ":\n"
           << log;
  }
  return renameIntoPlace(module, linked, output);
}
