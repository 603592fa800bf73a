//===- Packing.h - Weights in the layouts the programs read -----*- C++ -*-===//
//
// Weights are read once at compile time and written in the form the NPU
// reads: the cube's B operand in fractal tiles of its input type (f16 or
// bf16, rounded to nearest even), biases as f32 rows. Each packed weight
// becomes a moe.weight of bytes that the binary maps.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_TRANSFORMS_PACKING_H
#define MOEC_TARGETS_NPU_TRANSFORMS_PACKING_H

#include "Transforms/Lowering.h"

#include "mlir/IR/Builders.h"

#include <vector>

namespace moec::npu {

struct FloatTensor {
  llvm::SmallVector<int64_t> shape;
  std::vector<float> values;
};

/// The values of a constant or moe.weight tensor of f32, f16 or bf16.
mlir::FailureOr<FloatTensor> readFloatTensor(mlir::Value value);

/// Which row of a weight (a fused gate/up projection's output row) each
/// packed row holds: as it is, de-interleaved ([g0 u0 g1 u1 ...] as
/// [g0 g1 ... u0 u1 ...]), or in gate/up blocks: per block of 2 * `half`
/// rows, `half` gate rows then the same `half` up rows, so that one unit of
/// the matmul holds both halves of its activations (the fused epilogue).
struct RowOrder {
  enum Kind { Identity, Deinterleave, GateUpBlocks } kind = Identity;
  /// GateUpBlocks: whether the source is interleaved (else concatenated),
  /// the rows per half block and the activation's width.
  bool interleavedSource = false;
  int64_t half = 0, width = 0;
  /// The source row of packed row `row` of a weight of `n` rows; -1 for a
  /// row of zeros.
  int64_t sourceRow(int64_t row, int64_t n) const;
  /// Rows after packing.
  int64_t packedRows(int64_t n) const;
};

/// Reorders the last dimension (a bias) as `order` reorders rows.
void reorderColumns(FloatTensor &tensor, const RowOrder &order);

/// A [k, n] weight as [high; low; high] ([3k, n]; a transposed [n, k] one
/// as [n, 3k]) with w = high + low, both representable in `elem`
/// (castForCube's `split`).
FloatTensor splitForCube(const FloatTensor &tensor, ElemType elem,
                         bool transposed);

/// A quantized weight [groups, n, k] as integers with, per element, the
/// scale and zero point of its block: value = (q - zero) * scale.
struct QuantizedTensor {
  int64_t groups = 1, n = 0, k = 0;
  unsigned bits = 8;
  bool isSigned = true;
  std::vector<int32_t> q;
  /// Per block, and the block of each element (g, row, col).
  std::vector<float> scales, zeros;
  llvm::SmallVector<int64_t> block, scaleShape;
  size_t blockOf(int64_t g, int64_t row, int64_t col) const {
    return size_t((g / block[0] * scaleShape[1] + row / block[1]) *
                      scaleShape[2] +
                  col / block[2]);
  }
};

/// The elements, scales and zero points of a moe.packed_weight of an int8
/// or int4 format; an error names what the NPU cannot keep packed.
mlir::FailureOr<QuantizedTensor> readQuantizedTensor(mlir::Value value,
                                                     int64_t cubeK);

/// Reorders the n rows [g0 u0 g1 u1 ...] as [g0 g1 ... u0 u1 ...], as
/// deinterleaveColumns does to a float weight; fails for blocks that span
/// rows.
mlir::LogicalResult deinterleaveRows(QuantizedTensor &tensor,
                                     mlir::Location loc);

/// Adds the three arrays of QuantizedMatrix (values, scales, offsets) for
/// `tensor` in `layout`'s chunks; returns the index of the first.
unsigned addQuantizedWeight(WeightTable &table, mlir::Value value,
                            const QuantizedTensor &tensor,
                            const PackedMatrix &layout);

/// Adds an int8 weight for the i8 cube: q - `shift` (int8) in `layout`'s
/// chunks and fractal order; returns its index in the table.
unsigned addInt8CubeWeight(WeightTable &table, mlir::Value value,
                           const QuantizedTensor &tensor,
                           const PackedMatrix &layout, int32_t shift);

/// [groups, n, k] and [groups, n, k] as [groups, 2n, k]: per group, the
/// rows of `a` then those of `b` (a gate and an up projection).
FloatTensor stackRows(const FloatTensor &a, const FloatTensor &b);

/// Adds `tensor` as f32 bytes (WeightTable::plainByValue); returns its
/// index in the table.
unsigned addPlainWeight(WeightTable &table, mlir::Value value,
                        const FloatTensor &tensor);

/// Adds `tensor` ([groups, n, k], or [k, n] when not `transposed`) packed
/// as `layout` says (layout.n rows, `order`'s packed rows).
unsigned addCubeWeight(WeightTable &table, mlir::Value value,
                       const FloatTensor &tensor, const PackedMatrix &layout,
                       bool transposed, const RowOrder &order);

/// A moe.weight holding the packed bytes (added to the weight store).
mlir::Value createWeightOp(mlir::OpBuilder &builder, mlir::Location loc,
                           PackedWeight &weight, llvm::StringRef keyHint);

} // namespace moec::npu

#endif // MOEC_TARGETS_NPU_TRANSFORMS_PACKING_H
