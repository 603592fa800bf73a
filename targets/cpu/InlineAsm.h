//===- InlineAsm.h - One x86 instruction as inline assembly -----*- C++ -*-===//
//
// The CPU kernels emit the dot-product instructions LLVM has no generic
// operation for (vpdpbusd, vpmaddubsw, vdpbf16ps) as side-effect-free
// inline assembly: an intrinsic call would have unknown memory effects,
// which buffer deallocation rejects.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_CPU_INLINEASM_H
#define MOEC_TARGETS_CPU_INLINEASM_H

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"

namespace moec::cpu {

/// `text` (AT&T syntax, operands $0...) with LLVM's `constraints`, on
/// `operands`, producing one value of `type`.
inline mlir::Value inlineAsm(mlir::OpBuilder &b, mlir::Location loc,
                             mlir::Type type, llvm::StringRef text,
                             llvm::StringRef constraints,
                             mlir::ValueRange operands) {
  return mlir::LLVM::InlineAsmOp::create(
             b, loc, type, operands, b.getStringAttr(text),
             b.getStringAttr(constraints), /*has_side_effects=*/nullptr,
             /*is_align_stack=*/nullptr, mlir::LLVM::TailCallKindAttr(),
             mlir::LLVM::AsmDialectAttr(), mlir::ArrayAttr())
      .getResult(0);
}

} // namespace moec::cpu

#endif // MOEC_TARGETS_CPU_INLINEASM_H
