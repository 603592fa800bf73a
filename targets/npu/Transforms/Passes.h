//===- Passes.h - The NPU target's passes -----------------------*- C++ -*-===//

#ifndef MOEC_TARGETS_NPU_TRANSFORMS_PASSES_H
#define MOEC_TARGETS_NPU_TRANSFORMS_PASSES_H

#include "IR/NpuOps.h"
#include "dialects/moe/IR/MoeDialect.h"

#include "mlir/Pass/Pass.h"

#include <memory>

namespace moec::npu {

#define GEN_PASS_DECL
#include "Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "Transforms/Passes.h.inc"

/// The text of the built-in chip description (chips/davinci-ref.chip).
llvm::StringRef getDefaultChipText();

} // namespace moec::npu

#endif // MOEC_TARGETS_NPU_TRANSFORMS_PASSES_H
