//===- Link.cpp - The CUDA binary: host object, weights, runtimes ---------===//
//
// As the CPU binary: the manifest and the embedded weights come in through
// an assembler `.incbin`, large weights go to the weights file beside the
// binary, and clang drives lld. The CUDA host runtime (host/) adds the
// driver, reached through dlopen: the binary has no link-time dependency on
// CUDA and starts (--help, bad input) on machines without a GPU.
//
//===----------------------------------------------------------------------===//

#include "targets/cuda/CudaTarget.h"

#include "moec/Runtime/BinaryAbi.h"
#include "moec/Target/LinkSupport.h"
#include "moec/Target/Packager.h"
#include "runtime/formats/MappedFile.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace moec;

LogicalResult cuda::linkExecutable(ModuleOp module,
                                   const SerializedModule &serialized,
                                   const TargetOptions &options) {
  PackagedModel package;
  if (failed(packageModel(module, options, package)))
    return failure();
  const std::string &output = options.outputPath;
  if (!rt::isReplaceable(output)) {
    llvm::errs() << "moec: error: cannot write '" << output
                 << "': not a regular file\n";
    return failure();
  }
  ScratchDirectory scratch;
  if (failed(scratch.create(module, "moec-cuda-link")))
    return failure();
  std::string objectPath = scratch.path("model.o");
  std::string manifestPath = scratch.path("manifest.json");
  std::string blobPath = scratch.path("weights.bin");
  std::string assemblyPath = scratch.path("data.s");
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
  std::vector<std::string> args = {
      "-fuse-ld=lld",
      "-o",
      linked,
      objectPath,
      assemblyPath,
      findRuntimeLibrary("libMoecCudaRuntime.a", MOEC_CUDA_RUNTIME_LIBRARY),
      findRuntimeLibrary("libMoecBinaryRuntime.a", MOEC_BINARY_RUNTIME_LIBRARY),
      "-static-libstdc++",
      "-static-libgcc",
      "-lm",
      "-ldl",
      "-pthread",
      "-Wl,--gc-sections"};
  if (failed(runTool(module, MOEC_CLANGXX, args, scratch.path("link.log")))) {
    llvm::sys::fs::remove(linked);
    return failure();
  }
  return renameIntoPlace(module, linked, output);
}
