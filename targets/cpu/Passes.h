//===- Passes.h - CPU target passes -----------------------------*- C++ -*-===//

#ifndef MOEC_TARGETS_CPU_PASSES_H
#define MOEC_TARGETS_CPU_PASSES_H

#include "moec/Runtime/BinaryAbi.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace moec::cpu {

#define GEN_PASS_DECL
#include "targets/cpu/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "targets/cpu/Passes.h.inc"

/// Names shared by the passes and codegen; those the runtime also uses
/// come from the binary's ABI header.
// Entry point N of the model is @moec_entry_N; its parts (which codegen
// keeps from being inlined) are @moec_entry_N_part_M.
constexpr const char kEntryPrefix[] = MOEC_ABI_ENTRY_PREFIX;
constexpr const char kPartInfix[] = "_part_";
constexpr const char kEntryTable[] = MOEC_ABI_ENTRIES;
constexpr const char kEntryCount[] = MOEC_ABI_ENTRY_COUNT;
constexpr const char kParallelBodyPrefix[] = "moec_par_body_";
constexpr const char kParallelLaunchPrefix[] = "moec_par_launch_";
constexpr const char kParallelFor[] = MOEC_ABI_PARALLEL_FOR;

} // namespace moec::cpu

#endif // MOEC_TARGETS_CPU_PASSES_H
