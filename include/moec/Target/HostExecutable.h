//===- HostExecutable.h - Object code and links for host binaries -*- C++
//-*-===//
//
// What every target whose binary's host code is LLVM-compiled shares (the
// cpu target's whole program, the cuda target's host side): LLVM's -O
// pipeline and object emission, and the link of the object with the
// manifest, the embedded weights and the runtime archives into the binary.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGET_HOSTEXECUTABLE_H
#define MOEC_TARGET_HOSTEXECUTABLE_H

#include "moec/Target/TargetBackend.h"

#include "llvm/ADT/ArrayRef.h"

#include <string>

namespace llvm {
class Module;
class TargetMachine;
} // namespace llvm

namespace moec {

/// Runs LLVM's per-module pipeline at -O`optLevel` (0..3) for `machine`.
void optimizeModule(llvm::Module &module, llvm::TargetMachine &machine,
                    unsigned optLevel);

/// Emits `module` as an object file for `machine` into `object`; false
/// when the target cannot emit objects.
bool emitObject(llvm::Module &module, llvm::TargetMachine &machine,
                std::string &object);

/// Links the binary at options.outputPath: the serialized object, the
/// manifest and the embedded weights (in read-only sections, through an
/// assembler `.incbin`), the `archives` (a target's host runtime) and
/// moec's binary runtime, with clang driving lld; `flags` are added to the
/// link line. Writes the weights file first, and the binary only when the
/// link succeeded. A `crossTriple` (a Debian triple, e.g.
/// "aarch64-linux-gnu") links for that architecture, with the runtime
/// built for it (lib/TRIPLE/), through its cross toolchain.
mlir::LogicalResult linkHostExecutable(mlir::ModuleOp module,
                                       const SerializedModule &serialized,
                                       const TargetOptions &options,
                                       llvm::ArrayRef<std::string> archives,
                                       llvm::ArrayRef<std::string> flags,
                                       llvm::StringRef crossTriple = "");

} // namespace moec

#endif // MOEC_TARGET_HOSTEXECUTABLE_H
