//===- CpuTarget.h - The CPU target's pieces --------------------*- C++ -*-===//

#ifndef MOEC_TARGETS_CPU_CPUTARGET_H
#define MOEC_TARGETS_CPU_CPUTARGET_H

#include "moec/Target/TargetBackend.h"

namespace moec::cpu {

/// Translates the LLVM-dialect module to LLVM IR, adds the entry wrapper
/// and the parallel-loop launchers, optimizes, and emits an object file
/// for the machine --triple, --cpu and --mattr name (CpuMachine.h).
mlir::LogicalResult serializeToObject(mlir::ModuleOp module,
                                      const TargetOptions &options,
                                      SerializedModule &result);

} // namespace moec::cpu

#endif // MOEC_TARGETS_CPU_CPUTARGET_H
