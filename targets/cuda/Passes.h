//===- Passes.h - CUDA target passes ----------------------------*- C++ -*-===//

#ifndef MOEC_TARGETS_CUDA_PASSES_H
#define MOEC_TARGETS_CUDA_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace moec::cuda {

#define GEN_PASS_DECL
#include "targets/cuda/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "targets/cuda/Passes.h.inc"

/// The runtime's copy between any two addresses (host or device):
/// void moec_cuda_memcpy(int64_t dst, int64_t src, int64_t bytes).
constexpr const char kMemcpy[] = "moec_cuda_memcpy";
/// The runtime's bracket of an emulated kernel:
/// void moec_cuda_emulated_kernel(int64_t inside).
constexpr const char kEmulatedKernel[] = "moec_cuda_emulated_kernel";
/// Threads per block of a parallel loop's kernel.
constexpr int64_t kBlockThreads = 256;

} // namespace moec::cuda

#endif // MOEC_TARGETS_CUDA_PASSES_H
