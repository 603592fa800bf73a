//===- RuntimeScalars.h - Integers only the run time knows ------*- C++ -*-===//
//
// A whole model's call knows some integers only at run time: its token
// count (the program is for a bucket), the position its KV cache continues
// at, the rows of logits it wants. They are expression nodes
// (machine/NpuImage.h's ScalarNode): the host evaluates them for checks and
// output shapes, and each core's scalar unit computes them into registers
// where a phase needs them (a DMA offset, a loop's trip count).
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_TRANSFORMS_RUNTIMESCALARS_H
#define MOEC_TARGETS_NPU_TRANSFORMS_RUNTIMESCALARS_H

#include "Transforms/StreamBuilder.h"
#include "machine/NpuImage.h"

#include "llvm/ADT/DenseMap.h"

#include <functional>
#include <optional>
#include <vector>

namespace moec::npu {

class RuntimeScalars {
public:
  /// Where the scalar unit finds extent slot i (the call segment) and
  /// input i's bytes.
  std::function<uint64_t(int64_t)> extentAddress;
  std::function<uint64_t(int64_t)> inputAddress;

  int64_t constant(int64_t value);
  int64_t extent(int64_t slot);
  int64_t inputWord(int64_t input, int64_t offset);
  /// a op b; folds constants.
  int64_t binary(ScalarKind kind, int64_t a, int64_t b);
  /// a op b for two constants, as the host and the scalar unit compute it.
  static int64_t fold(ScalarKind kind, int64_t a, int64_t b);
  int64_t select(int64_t condition, int64_t then, int64_t otherwise);
  std::optional<int64_t> constantValue(int64_t node) const;

  const std::vector<ScalarNode> &nodes() const { return table; }
  /// The nodes as npu.program's `scalars` words.
  std::vector<int64_t> words() const;

private:
  int64_t add(ScalarNode node);
  std::vector<ScalarNode> table;
};

/// Computes nodes on one core, each once, into registers of `regs` (taken
/// for the phase that uses them).
class ScalarMaterializer {
public:
  ScalarMaterializer(RuntimeScalars &scalars, StreamBuilder &s,
                     ScopedRegisters &regs)
      : scalars(scalars), s(s), regs(regs) {}
  /// The node's value as an operand (a constant needs no register).
  Val get(int64_t node);
  /// The value in a register of its own, which the caller may change.
  unsigned fresh(int64_t node);

private:
  RuntimeScalars &scalars;
  StreamBuilder &s;
  ScopedRegisters &regs;
  llvm::DenseMap<int64_t, unsigned> done;
};

} // namespace moec::npu

#endif // MOEC_TARGETS_NPU_TRANSFORMS_RUNTIMESCALARS_H
