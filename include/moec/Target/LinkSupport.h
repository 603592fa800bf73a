//===- LinkSupport.h - Files and tools for a target's link step -*- C++ -*-===//
//
// What every target's link step needs around its own tools: a scratch
// directory removed with everything in it, files written with an error on
// the op that names the path, and an external program (a compiler, a
// linker) run with its output kept for the error message.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGET_LINKSUPPORT_H
#define MOEC_TARGET_LINKSUPPORT_H

#include "mlir/IR/Operation.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringRef.h"

#include <string>
#include <vector>

namespace moec {

/// A temporary directory, removed with everything in it.
class ScratchDirectory {
public:
  ScratchDirectory() = default;
  ScratchDirectory(const ScratchDirectory &) = delete;
  ScratchDirectory &operator=(const ScratchDirectory &) = delete;
  ~ScratchDirectory();

  /// Creates the directory (named after `prefix`); emits an error on `op`.
  mlir::LogicalResult create(mlir::Operation *op, llvm::StringRef prefix);
  /// The path of `name` inside it.
  std::string path(llvm::StringRef name) const;

private:
  llvm::SmallString<128> directory;
};

/// Writes `contents` to `path`; emits an error naming the path on `op`.
mlir::LogicalResult writeFile(mlir::Operation *op, llvm::StringRef path,
                              llvm::StringRef contents);

/// Runs `program` (a path, or a name found on PATH) with `args`, its
/// output going to `logPath`; on failure emits an error on `op` with the
/// command line and that output.
mlir::LogicalResult runTool(mlir::Operation *op, llvm::StringRef program,
                            const std::vector<std::string> &args,
                            llvm::StringRef logPath);

/// Renames the finished `from` to `to` (a binary linked beside its output,
/// so that no half-written one is left there); on failure removes `from`
/// and emits an error naming `to` on `op`.
mlir::LogicalResult renameIntoPlace(mlir::Operation *op, llvm::StringRef from,
                                    llvm::StringRef to);

/// Assembly that places the bytes of `path` in a read-only section as
/// `symbol`, aligned to 2^alignLog2 and followed by a zero byte, and their
/// count as the 64-bit `symbol_size`.
std::string incbinAssembly(llvm::StringRef symbol, llvm::StringRef path,
                           unsigned alignLog2);

/// The static library `name` installed beside moec (../lib/name), else
/// `built`, the build tree's copy.
std::string findRuntimeLibrary(llvm::StringRef name, llvm::StringRef built);

} // namespace moec

#endif // MOEC_TARGET_LINKSUPPORT_H
