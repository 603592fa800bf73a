//===- Passes.h - moe dialect passes ----------------------------*- C++ -*-===//

#ifndef MOEC_DIALECTS_MOE_TRANSFORMS_PASSES_H
#define MOEC_DIALECTS_MOE_TRANSFORMS_PASSES_H

#include "dialects/moe/IR/MoeDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace moec::moe {

#define GEN_PASS_DECL
#include "dialects/moe/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "dialects/moe/Transforms/Passes.h.inc"

} // namespace moec::moe

#endif // MOEC_DIALECTS_MOE_TRANSFORMS_PASSES_H
