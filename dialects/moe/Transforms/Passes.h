//===- Passes.h - moe dialect passes ----------------------------*- C++ -*-===//

#ifndef MOEC_DIALECTS_MOE_TRANSFORMS_PASSES_H
#define MOEC_DIALECTS_MOE_TRANSFORMS_PASSES_H

#include "dialects/moe/IR/MoeDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace moec::moe {

#define GEN_PASS_DECL
#include "dialects/moe/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "dialects/moe/Transforms/Passes.h.inc"

/// From tensors to buffers the way every loop-based target needs: One-Shot
/// Bufferize across function boundaries (identity layouts), then each
/// buffer freed right after its last use. Runs after moe-weights-to-
/// arguments; ends with memref, scf, arith and linalg on buffers.
void addBufferizationPasses(mlir::OpPassManager &pm);

} // namespace moec::moe

#endif // MOEC_DIALECTS_MOE_TRANSFORMS_PASSES_H
