//===- NpuTarget.h - Target `npu`: the reference NPU ------------*- C++ -*-===//
//
// The pieces of the npu target plugin: its flags, the image the binary
// embeds and the link step.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_NPUTARGET_H
#define MOEC_TARGETS_NPU_NPUTARGET_H

#include "machine/NpuImage.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/CommandLine.h"

#include <string>

namespace moec::npu {

llvm::cl::OptionCategory &getOptionCategory();
/// --npu-chip: a description file, or empty for the built-in one.
const std::string &getChipPath();
/// The text of the chip the model is compiled for (read and checked).
mlir::FailureOr<std::string> readChipText(mlir::ModuleOp module);

/// The lowered module's programs as the binary's image.
mlir::FailureOr<NpuImage> buildImage(mlir::ModuleOp module,
                                     llvm::StringRef chipText);

/// Compiles the image and the entry points that run it into `object`
/// with the system C compiler.
mlir::LogicalResult compileObject(mlir::ModuleOp module,
                                  const std::string &image, size_t entryCount,
                                  std::string &object);
/// Links the image, the manifest and the embedded weights with moec's
/// binary runtime and the NPU's host runtime into the executable `output`.
mlir::LogicalResult linkExecutable(mlir::ModuleOp module,
                                   const std::string &image, size_t entryCount,
                                   llvm::StringRef manifest,
                                   llvm::StringRef weights,
                                   const std::string &output);

} // namespace moec::npu

#endif // MOEC_TARGETS_NPU_NPUTARGET_H
