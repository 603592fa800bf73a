//===- CCompiler.cpp - Running the C compiler -----------------------------===//
//
// The model's C compiles to an object (serialize, --emit=obj); the link
// compiles the data file and links both with moec's binary runtime, a C++
// static library, into the executable.
//
//===----------------------------------------------------------------------===//

#include "CTarget.h"

#include "moec/Target/LinkSupport.h"
#include "runtime/formats/MappedFile.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"

using namespace mlir;

/// Runs the --cc compiler with `args` (moec::runTool: its output kept for
/// the error), after checking that there is one.
static LogicalResult runCompiler(ModuleOp module,
                                 const std::vector<std::string> &args,
                                 const std::string &log) {
  const std::string &name = moec::c::getCompiler();
  llvm::ErrorOr<std::string> program = name.find('/') == std::string::npos
                                           ? llvm::sys::findProgramByName(name)
                                           : llvm::ErrorOr<std::string>(name);
  if (!program || !llvm::sys::fs::can_execute(*program))
    return module.emitError("the C compiler '")
           << name << "' (--cc) is not an executable program";
  return moec::runTool(module, *program, args, log);
}

/// Flags for every compilation: ISO C11 (so no contraction into fused
/// multiply-adds either, which keeps results as the reference rounds them).
static std::vector<std::string> compileFlags(unsigned optLevel) {
  return {"-std=c11", "-O" + std::to_string(std::min(optLevel, 3u))};
}

LogicalResult moec::c::compileObject(ModuleOp module, StringRef source,
                                     unsigned optLevel, std::string &object) {
  moec::ScratchDirectory scratch;
  if (failed(scratch.create(module, "moec-c")))
    return failure();
  std::string sourcePath = scratch.path("model.c");
  std::string objectPath = scratch.path("model.o");
  if (failed(moec::writeFile(module, sourcePath, source)))
    return failure();
  std::vector<std::string> args = compileFlags(optLevel);
  args.insert(args.end(), {"-c", sourcePath, "-o", objectPath});
  if (failed(runCompiler(module, args, scratch.path("cc.log"))))
    return failure();
  auto buffer = llvm::MemoryBuffer::getFile(objectPath);
  if (!buffer)
    return module.emitError("cannot read the object the C compiler wrote");
  object = (*buffer)->getBuffer().str();
  return success();
}

LogicalResult moec::c::linkExecutable(ModuleOp module, StringRef object,
                                      StringRef dataSource, unsigned optLevel,
                                      const std::string &output) {
  // The executable is renamed into place: never over a device, a FIFO or a
  // directory.
  if (!moec::rt::isReplaceable(output))
    return module.emitError("cannot write '")
           << output << "': not a regular file";
  moec::ScratchDirectory scratch;
  if (failed(scratch.create(module, "moec-c")))
    return failure();
  std::string objectPath = scratch.path("model.o");
  std::string dataPath = scratch.path("data.c");
  if (failed(moec::writeFile(module, objectPath, object)) ||
      failed(moec::writeFile(module, dataPath, dataSource)))
    return failure();
  if (!llvm::sys::fs::exists(MOEC_C_RUNTIME_LIBRARY))
    return module.emitError("moec's binary runtime is missing: ")
           << MOEC_C_RUNTIME_LIBRARY;
  // Linked beside the output, then renamed: no half-written binary.
  std::string linked = output + ".moec-tmp";
  std::vector<std::string> args = compileFlags(optLevel);
  args.insert(args.end(),
              {"-o", linked, objectPath, dataPath, MOEC_C_RUNTIME_LIBRARY,
               "-lstdc++", "-lm", "-pthread"});
  if (failed(runCompiler(module, args, scratch.path("link.log")))) {
    llvm::sys::fs::remove(linked);
    return failure();
  }
  return moec::renameIntoPlace(module, linked, output);
}
