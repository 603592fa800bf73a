//===- LoopBuilder.h - Loop-nest code for the moe ops -----------*- C++ -*-===//
//
// What lowering patterns of the moe ops build with: the reference patterns
// (MoeToLoops.h) and a target's own. The ops lower at tensor level to loop
// nests over buffers: operands are read through read-only
// `bufferization.to_buffer`, results are written into fresh `memref.alloc`s
// that re-enter tensor land through `bufferization.to_tensor restrict
// writable`. One-Shot Bufferize then sees ordinary buffer producers and
// consumers. Scratch buffers are never freed here: the deallocation
// pipeline frees every buffer after its last use, and it refuses IR that
// already frees some. Parallel loops are scf.parallel: the target decides
// how to map them onto threads.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_CONVERSION_LOOPBUILDER_H
#define MOEC_CONVERSION_LOOPBUILDER_H

#include "dialects/moe/IR/MoeOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "llvm/ADT/STLFunctionalExtras.h"

namespace moec {

class LoopBuilder : public mlir::ImplicitLocOpBuilder {
public:
  using Body = llvm::function_ref<void(mlir::Value)>;

  /// Builds before `op`; fresh buffers are aligned to `alignment` bytes
  /// (64, a cache line, unless the target asks for more).
  LoopBuilder(mlir::Operation *op, int64_t alignment = 64);

  /// The buffer behind a tensor operand, read-only.
  mlir::Value read(mlir::Value tensor);
  /// A fresh buffer of `type`. `sizes[i]` is the size of dimension i, read
  /// only where that dimension is dynamic; the list may end after the last
  /// dynamic dimension.
  mlir::Value alloc(mlir::RankedTensorType type, mlir::ValueRange sizes);
  /// A fresh buffer of static `type` filled with `value`.
  mlir::Value allocFilled(mlir::RankedTensorType type, mlir::Value value);
  /// The tensor a result buffer becomes.
  mlir::Value result(mlir::Value buffer);

  mlir::Value index(int64_t value);
  mlir::Value i32(int64_t value);
  mlir::Value floatConst(mlir::Type type, double value);
  mlir::Value dim(mlir::Value shaped, int64_t d);
  mlir::Value load(mlir::Value buffer, mlir::ValueRange indices);
  void store(mlir::Value value, mlir::Value buffer, mlir::ValueRange indices);
  /// An i32 element as an index.
  mlir::Value loadIndex(mlir::Value buffer, mlir::ValueRange indices);
  mlir::Value toIndex(mlir::Value integer);
  /// lower <= value < upper (signed).
  mlir::Value inRange(mlir::Value value, mlir::Value lower, mlir::Value upper);
  mlir::Value toFloat(mlir::Value value, mlir::Type type);

  /// Fast-math flags for reductions the target may reassociate (vectorized
  /// dot products); every other float op keeps IEEE semantics.
  mlir::arith::FastMathFlagsAttr reassoc();

  /// for iv in [lb, ub): body(iv).
  void forLoop(mlir::Value lb, mlir::Value ub, Body body);
  /// The same loop with one loop-carried value: body(iv, acc) returns the
  /// next value; the final one is returned.
  mlir::Value
  reduce(mlir::Value lb, mlir::Value ub, mlir::Value init,
         llvm::function_ref<mlir::Value(mlir::Value, mlir::Value)> body);
  /// A loop whose iterations are independent (scf.parallel).
  void parallelLoop(mlir::Value lb, mlir::Value ub, Body body);
  /// if (cond) then().
  void ifThen(mlir::Value cond, llvm::function_ref<void()> then);

  mlir::Value sigmoid(mlir::Value x);

private:
  int64_t alignment;
};

/// `value` (a constant or a moe.weight) with a signless element type:
/// memref element loads feed arith, which takes signless integers only.
/// The bytes do not change. Null for anything else.
mlir::Value signlessWeight(LoopBuilder &b, mlir::Value value);
/// One task of a grouped matmul run as numExperts x tiles parallel tasks,
/// the expert varying fastest: its expert, its tile of the output, and
/// the expert's rows [lo, hi) (from `offsets`).
struct GroupedMatmulTask {
  mlir::Value expert, tile, lo, hi;
};
GroupedMatmulTask groupedMatmulTask(LoopBuilder &b, mlir::Value task,
                                    int64_t numExperts, mlir::Value offsets);
/// Zeroes the rows of a grouped matmul's output past the routed ones.
void zeroUnroutedRows(LoopBuilder &b, mlir::Value offsets, int64_t numExperts,
                      mlir::Value output);

/// Int8 activations (`moec.int8_activations`): row m of f32 `rows` [M, k]
/// is quantized with scale sx = max|x| / 127 (1 for a zero row) to
/// round(x / sx) (ties to even) clamped to [-127, 127].
mlir::Value int8RowScale(LoopBuilder &b, mlir::Value rows, mlir::Value m,
                         int64_t k);
/// round(x / scale) clamped to [-127, 127], as f32.
mlir::Value quantizeToInt8(LoopBuilder &b, mlir::Value x, mlir::Value scale);
/// A copy of `rows` with each row quantized to int8 and back.
mlir::Value dequantizedInt8Rows(LoopBuilder &b, mlir::Value rows, int64_t k);

} // namespace moec

#endif // MOEC_CONVERSION_LOOPBUILDER_H
