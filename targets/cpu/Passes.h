//===- Passes.h - CPU target passes -----------------------------*- C++ -*-===//

#ifndef MOEC_TARGETS_CPU_PASSES_H
#define MOEC_TARGETS_CPU_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace moec::cpu {

#define GEN_PASS_DECL
#include "targets/cpu/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "targets/cpu/Passes.h.inc"

/// Names shared by the passes, codegen and the runtime.
constexpr const char kEntryFunction[] = "moec_model";
constexpr const char kEntryWrapper[] = "moec_model_entry";
// Parts of the entry function, which codegen keeps from being inlined.
constexpr const char kModelPartPrefix[] = "moec_model_part_";
constexpr const char kParallelBodyPrefix[] = "moec_par_body_";
constexpr const char kParallelLaunchPrefix[] = "moec_par_launch_";
constexpr const char kParallelFor[] = "moec_parallel_for";
constexpr const char kCheckFailed[] = "moec_check_failed";

} // namespace moec::cpu

#endif // MOEC_TARGETS_CPU_PASSES_H
