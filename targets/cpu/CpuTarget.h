//===- CpuTarget.h - The CPU target's pieces --------------------*- C++ -*-===//

#ifndef MOEC_TARGETS_CPU_CPUTARGET_H
#define MOEC_TARGETS_CPU_CPUTARGET_H

#include "moec/Target/TargetBackend.h"

namespace moec::cpu {

/// Translates the LLVM-dialect module to LLVM IR, adds the entry wrapper
/// and the parallel-loop launchers, optimizes, and emits an object file
/// for the host (or options.cpu / options.features).
mlir::LogicalResult serializeToObject(mlir::ModuleOp module,
                                      const TargetOptions &options,
                                      SerializedModule &result);

/// Writes the weights (embedded blob and weights file), the manifest and
/// the object, and links them with the runtime into the executable.
mlir::LogicalResult linkExecutable(mlir::ModuleOp module,
                                   const SerializedModule &serialized,
                                   const TargetOptions &options);

} // namespace moec::cpu

#endif // MOEC_TARGETS_CPU_CPUTARGET_H
