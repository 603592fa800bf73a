//===- Link.cpp - Weights, manifest, runtime: the standalone binary -------===//
//
// Weights never become LLVM constants. The packager (moec/Target/
// Packager.h) lays out the manifest, the blob of small weights and the
// weights file; here an assembler `.incbin` places the manifest and the
// blob in read-only sections, and clang drives lld to link the object, the
// blobs and the runtime archive.
//
//===----------------------------------------------------------------------===//

#include "targets/cpu/CpuTarget.h"

#include "moec/Runtime/BinaryAbi.h"
#include "moec/Target/LinkSupport.h"
#include "moec/Target/Packager.h"
#include "runtime/formats/MappedFile.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace moec;

LogicalResult cpu::linkExecutable(ModuleOp module,
                                  const SerializedModule &serialized,
                                  const TargetOptions &options) {
  PackagedModel package;
  if (failed(packageModel(module, options, package)))
    return failure();

  std::string output = options.outputPath;
  // The executable is renamed into place: never over a device, a FIFO or a
  // directory (as root, /dev/full would be replaced).
  if (!rt::isReplaceable(output)) {
    llvm::errs() << "moec: error: cannot write '" << output
                 << "': not a regular file\n";
    return failure();
  }
  // Scratch files for the link.
  ScratchDirectory scratch;
  if (failed(scratch.create(module, "moec-link")))
    return failure();
  auto scratchPath = [&](StringRef name) { return scratch.path(name); };
  std::string objectPath = scratchPath("model.o");
  std::string manifestPath = scratchPath("manifest.json");
  std::string blobPath = scratchPath("weights.bin");
  std::string assemblyPath = scratchPath("data.s");
  std::string logPath = scratchPath("link.log");
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
  std::string runtime =
      findRuntimeLibrary("libMoecBinaryRuntime.a", MOEC_BINARY_RUNTIME_LIBRARY);
  std::vector<std::string> args = {
      MOEC_CLANGXX,     "-fuse-ld=lld", "-o",       linked,
      objectPath,       assemblyPath,   runtime,    "-static-libstdc++",
      "-static-libgcc", "-lm",          "-pthread", "-Wl,--gc-sections"};
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
