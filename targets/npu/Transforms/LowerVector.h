//===- LowerVector.h - Elementwise phases on the vector unit ----*- C++ -*-===//
//
// The phases of moe.activation and of elementwise linalg.generic ops.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_TRANSFORMS_LOWERVECTOR_H
#define MOEC_TARGETS_NPU_TRANSFORMS_LOWERVECTOR_H

#include "Transforms/Lowering.h"
#include "dialects/moe/IR/MoeOps.h"

#include <optional>

namespace mlir::linalg {
class GenericOp;
} // namespace mlir::linalg

namespace moec::npu {

struct ActivationPlan {
  /// The gate (or the only input) and the up projection, each rows x width
  /// (views into one fused matrix have its row size).
  GmMatrix gate, up, output;
  bool gated = false;
  moe::ActivationKind kind = moe::ActivationKind::SiluGated;
  double alpha = 1.0, beta = 0.0;
  std::optional<double> limit;
};
mlir::LogicalResult lowerActivation(ProgramLowering &lowering,
                                    const ActivationPlan &plan);

/// Rows quantized to int8 as moe-quantize-activations specifies: per row
/// s = max|x| / 127 and q = round-to-even(x / s), into `codes` (i8),
/// `scales` ([1, rows]) and, when given, the sums of each row's codes
/// (`sums`, [1, rows], f32).
mlir::LogicalResult lowerQuantizeRows(ProgramLowering &lowering,
                                      const GmMatrix &rows,
                                      const GmMatrix &codes,
                                      const GmMatrix &scales,
                                      const GmMatrix *sums);

/// How an elementwise op reads an input: the output's shape, one row for
/// every row (a [cols] operand), or one element per row ([rows, 1]).
enum class InputBroadcast { None, Row, Column };

mlir::LogicalResult lowerElementwise(ProgramLowering &lowering,
                                     mlir::linalg::GenericOp op,
                                     llvm::ArrayRef<GmMatrix> inputs,
                                     llvm::ArrayRef<InputBroadcast> broadcasts,
                                     const GmMatrix &output);

} // namespace moec::npu

#endif // MOEC_TARGETS_NPU_TRANSFORMS_LOWERVECTOR_H
