//===- MoeOps.h - moe dialect operations ------------------------*- C++ -*-===//

#ifndef MOEC_DIALECTS_MOE_IR_MOEOPS_H
#define MOEC_DIALECTS_MOE_IR_MOEOPS_H

#include "dialects/moe/IR/MoeAttrs.h"
#include "dialects/moe/IR/MoeDialect.h"
#include "dialects/moe/IR/MoeTypes.h"
#include "moec/Runtime/BinaryAbi.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace moec::moe {
/// The most values one moe.check names in its message; the binary's
/// runtime takes them as fixed arguments.
inline constexpr unsigned kMaxCheckValues = MOEC_ABI_CHECK_VALUES;
/// `text` as literal moe.check message text: each '{' doubled, so that
/// none reads as a placeholder.
std::string escapeCheckText(llvm::StringRef text);
} // namespace moec::moe

#define GET_OP_CLASSES
#include "dialects/moe/IR/MoeOps.h.inc"

namespace moec::moe {
/// The logical tensor type of a weight operand: the tensor itself, or the
/// tensor a packed weight stands for.
mlir::RankedTensorType getLogicalType(mlir::Type type);
} // namespace moec::moe

#endif // MOEC_DIALECTS_MOE_IR_MOEOPS_H
