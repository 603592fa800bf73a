//===- LinkSupport.cpp - Files and tools for a target's link step ---------===//

#include "moec/Target/LinkSupport.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace moec;

ScratchDirectory::~ScratchDirectory() {
  if (!directory.empty())
    llvm::sys::fs::remove_directories(directory);
}

LogicalResult ScratchDirectory::create(Operation *op, StringRef prefix) {
  if (std::error_code ec =
          llvm::sys::fs::createUniqueDirectory(prefix, directory))
    return op->emitError("cannot create a temporary directory: ")
           << ec.message();
  return success();
}

std::string ScratchDirectory::path(StringRef name) const {
  llvm::SmallString<128> path(directory);
  llvm::sys::path::append(path, name);
  return path.str().str();
}

LogicalResult moec::writeFile(Operation *op, StringRef path,
                              StringRef contents) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (!ec) {
    os << contents;
    os.close();
    if (!os.has_error())
      return success();
    ec = os.error();
    os.clear_error();
  }
  return op->emitError("cannot write '") << path << "': " << ec.message();
}

LogicalResult moec::runTool(Operation *op, StringRef program,
                            const std::vector<std::string> &args,
                            StringRef logPath) {
  llvm::ErrorOr<std::string> found =
      program.contains('/') ? llvm::ErrorOr<std::string>(program.str())
                            : llvm::sys::findProgramByName(program);
  if (!found || !llvm::sys::fs::can_execute(*found))
    return op->emitError("'")
           << program << "' is not an executable program on PATH";
  std::vector<StringRef> argRefs = {*found};
  argRefs.insert(argRefs.end(), args.begin(), args.end());
  std::optional<StringRef> redirects[] = {std::nullopt, logPath, logPath};
  std::string error;
  int status = llvm::sys::ExecuteAndWait(*found, argRefs, std::nullopt,
                                         redirects, 0, 0, &error);
  if (status == 0)
    return success();
  std::string output;
  if (auto buffer = llvm::MemoryBuffer::getFile(logPath))
    output = (*buffer)->getBuffer().str();
  return op->emitError("'")
         << program << "' failed ("
         << (error.empty() ? "exit " + std::to_string(status) : error)
         << "): " << *found << " " << llvm::join(args, " ") << "\n"
         << output;
}

LogicalResult moec::renameIntoPlace(Operation *op, StringRef from,
                                    StringRef to) {
  if (std::error_code ec = llvm::sys::fs::rename(from, to)) {
    llvm::sys::fs::remove(from);
    return op->emitError("cannot write '") << to << "': " << ec.message();
  }
  return success();
}

std::string moec::incbinAssembly(llvm::StringRef symbol, llvm::StringRef path,
                                 unsigned alignLog2) {
  std::string s = symbol.str();
  return "  .section .rodata." + s + ",\"a\",@progbits\n  .p2align " +
         std::to_string(alignLog2) + "\n  .globl " + s + "\n" + s +
         ":\n  .incbin \"" + path.str() + "\"\n" + s +
         "_end:\n  .byte 0\n  .p2align 3\n  .globl " + s + "_size\n" + s +
         "_size:\n  .quad " + s + "_end - " + s + "\n";
}

std::string moec::findRuntimeLibrary(llvm::StringRef name,
                                     llvm::StringRef built) {
  static int anchor;
  std::string exe = llvm::sys::fs::getMainExecutable(nullptr, &anchor);
  llvm::SmallString<256> installed(llvm::sys::path::parent_path(exe));
  llvm::sys::path::append(installed, "..", "lib", name);
  if (llvm::sys::fs::exists(installed))
    return installed.str().str();
  return built.str();
}
