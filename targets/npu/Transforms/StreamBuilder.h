//===- StreamBuilder.h - Writing one core's command stream ------*- C++ -*-===//
//
// The lowering writes commands through this class: one call per command,
// operands as `Val`s (a constant, or a register plus a constant), scalar
// registers handed out and returned in stack order, and loops as nested
// regions. It keeps the IR that the lowering's patterns produce readable
// and the register budget checked.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_TRANSFORMS_STREAMBUILDER_H
#define MOEC_TARGETS_NPU_TRANSFORMS_STREAMBUILDER_H

#include "IR/NpuOps.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"

#include <cstdint>
#include <functional>

namespace moec::npu {

/// A command operand: `reg + offset` (reg 0 reads as zero).
struct Val {
  int64_t offset = 0;
  unsigned reg = 0;
  Val(int64_t offset = 0) : offset(offset) {}
  Val(unsigned reg, int64_t offset) : offset(offset), reg(reg) {}
  Val operator+(int64_t more) const { return Val(reg, offset + more); }
};

class StreamBuilder {
public:
  /// Appends to the body of `core`.
  StreamBuilder(CoreOp core);

  /// A free register; fails the lowering (an error on the core op) when
  /// all are taken. Registers are released in the reverse order.
  unsigned allocRegister();
  void releaseRegister(unsigned reg);
  bool outOfRegisters() const { return exhausted; }

  // Scalar unit. `dst` must be a register.
  void mov(unsigned dst, Val value);
  void scalar(llvm::StringRef kind, unsigned dst, Val a, Val b);
  void select(unsigned dst, Val a, Val b, Val then, Val otherwise);
  void load(unsigned dst, llvm::StringRef space, Val addr);
  void store(llvm::StringRef space, Val addr, Val value);
  /// Runs `body(index register)` `count` times.
  void loop(Val count, const std::function<void(unsigned)> &body);

  // Synchronisation.
  void setFlag(llvm::StringRef src, llvm::StringRef dst, int64_t event);
  void waitFlag(llvm::StringRef src, llvm::StringRef dst, int64_t event);
  /// set_flag then wait_flag: `dst` waits until `src` is done.
  void sync(llvm::StringRef src, llvm::StringRef dst, int64_t event);
  void barrierAll();

  // DMA.
  /// `accumulate`: add f32 rows into GM (an atomic add).
  void copy(llvm::StringRef from, llvm::StringRef to, Val dst, Val src,
            Val rows, Val rowBytes, Val srcStride, Val dstStride,
            bool accumulate = false);
  void gather(llvm::StringRef to, Val dst, Val src, Val index, Val rows,
              Val rowBytes, Val srcStride, Val divisor, Val dstStride);
  void toFractal(llvm::StringRef from, llvm::StringRef to, llvm::StringRef elem,
                 Val dst, Val src, Val rows, Val cols, Val srcStride,
                 int64_t tileRows, int64_t tileCols, bool transposed = false);
  void fromFractal(llvm::StringRef from, llvm::StringRef to, bool accumulate,
                   Val dst, Val src, Val rows, Val cols, Val dstStride,
                   int64_t tileRows, int64_t tileCols);

  // Cube.
  void mmad(llvm::StringRef elem, bool accumulate, Val c, Val a, Val b, Val m,
            Val k, Val n);

  // Vector unit: `rows` rows of `count` elements.
  struct VectorRows {
    Val count, rows = Val(1);
    Val dstStride = Val(0), src0Stride = Val(0), src1Stride = Val(0);
  };
  void vector(llvm::StringRef kind, llvm::StringRef elem, Val dst, Val src0,
              Val src1, const VectorRows &shape,
              llvm::StringRef src1Mode = "rows");
  /// dst = src0 op imm.
  void vectorImm(llvm::StringRef kind, Val dst, Val src0, float imm,
                 const VectorRows &shape);
  void cast(llvm::StringRef to, llvm::StringRef from, Val dst, Val src,
            const VectorRows &shape);
  /// `count` int4 elements (two a byte, low nibble first) to f32.
  void unpackInt4(Val dst, Val src, Val count, bool isSigned);
  void topk(Val values, Val scores, Val indices, Val n, Val rows, Val k,
            Val scoresStride);

  mlir::OpBuilder &getBuilder() { return builder; }

private:
  std::pair<mlir::DenseI64ArrayAttr, mlir::DenseI64ArrayAttr>
  operands(llvm::ArrayRef<Val> values);

  mlir::OpBuilder builder;
  mlir::Location loc;
  unsigned nextRegister = 1;
  bool exhausted = false;
};

/// Flags between two pipes that do nothing when both are the same pipe (a
/// pipe runs its commands in order), so a lowering can name the chip's
/// engines without knowing which of them coincide.
struct PipeFlags {
  StreamBuilder &s;
  void set(llvm::StringRef src, llvm::StringRef dst, int64_t event) {
    if (src != dst)
      s.setFlag(src, dst, event);
  }
  void wait(llvm::StringRef src, llvm::StringRef dst, int64_t event) {
    if (src != dst)
      s.waitFlag(src, dst, event);
  }
  void sync(llvm::StringRef src, llvm::StringRef dst, int64_t event) {
    set(src, dst, event);
    wait(src, dst, event);
  }
};

/// Scalar registers taken for a scope and released, in reverse order, at
/// its end.
struct ScopedRegisters {
  StreamBuilder &s;
  llvm::SmallVector<unsigned> taken;
  unsigned get() {
    taken.push_back(s.allocRegister());
    return taken.back();
  }
  ~ScopedRegisters() {
    for (unsigned reg : llvm::reverse(taken))
      s.releaseRegister(reg);
  }
};

} // namespace moec::npu

#endif // MOEC_TARGETS_NPU_TRANSFORMS_STREAMBUILDER_H
