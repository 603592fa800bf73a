//===- NpuOps.h - Commands of the reference NPU -----------------*- C++ -*-===//
//
// The npu ops, and the table that ties each op and kind to its command and
// the names of its operands.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_IR_NPUOPS_H
#define MOEC_TARGETS_NPU_IR_NPUOPS_H

#include "IR/NpuDialect.h"
#include "machine/CommandStream.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <optional>

namespace moec::npu {

/// A command of one op family (scalar, loop, dma, mmad, vector) and kind.
struct CommandKind {
  llvm::StringRef family;
  llvm::StringRef kind;
  Opcode opcode;
  /// Operand names in the order of the command's args (for scalar
  /// commands, from arg 1; arg 0 is the destination register).
  llvm::ArrayRef<llvm::StringRef> operands;
};

/// The command for `family` and `kind`, or null when there is none.
const CommandKind *lookupCommandKind(llvm::StringRef family,
                                     llvm::StringRef kind);

std::optional<Space> parseSpace(llvm::StringRef name);
std::optional<Pipe> parsePipe(llvm::StringRef name);
std::optional<ElemType> parseElemType(llvm::StringRef name);

} // namespace moec::npu

#define GET_OP_CLASSES
#include "IR/NpuOps.h.inc"

#endif // MOEC_TARGETS_NPU_IR_NPUOPS_H
