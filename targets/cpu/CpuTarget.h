//===- CpuTarget.h - The CPU target's pieces --------------------*- C++ -*-===//

#ifndef MOEC_TARGETS_CPU_CPUTARGET_H
#define MOEC_TARGETS_CPU_CPUTARGET_H

#include "moec/Target/TargetBackend.h"

namespace moec::cpu {

/// Translates the LLVM-dialect module to LLVM IR, adds the entry wrapper
/// and the parallel-loop launchers, optimizes, and emits an object file
/// for the host (or the CPU and features --cpu and --mattr name).
mlir::LogicalResult serializeToObject(mlir::ModuleOp module,
                                      const TargetOptions &options,
                                      SerializedModule &result);

/// f32 lanes of the vectors that register tiles use on the target CPU: 16
/// with AVX-512, 8 with AVX2, 0 (scalar loops) without FMA or when the
/// options name no CPU (serializeToObject reports that).
int64_t getVectorLanes(const TargetOptions &options);

/// Bytes of the target CPU's u8 x s8 dot product into i32 lanes: 64 with
/// AVX-512 VNNI, 32 with AVX2, 0 without either.
int64_t getInt8DotBytes(const TargetOptions &options);

/// Whether the target CPU has AVX512-BF16 (vdpbf16ps) with AVX-512BW.
bool hasBf16DotProducts(const TargetOptions &options);

} // namespace moec::cpu

#endif // MOEC_TARGETS_CPU_CPUTARGET_H
