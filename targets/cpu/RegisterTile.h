//===- RegisterTile.h - Register-blocked f32 matmul tiles -------*- C++ -*-===//
//
// The inner kernel of every fp32 matmul the CPU path generates: a tile of
// `rows` x (`panels` * `lanes`) results kept in vector registers while k
// runs, each step broadcasting one element of A per row and loading one
// vector of B per panel (B is laid out with `lanes` consecutive output
// columns contiguous for each k: a panel). Every accumulator lane sums its
// products in k order with fused multiply-adds, so results do not depend on
// the vector width. The caller picks the loads; the tile shape is the
// target's (its vector width and register count).
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_CPU_REGISTERTILE_H
#define MOEC_TARGETS_CPU_REGISTERTILE_H

#include "moec/Conversion/LoopBuilder.h"

namespace moec {

/// The instruction that multiplies int8 activations by packed int8/int4
/// codes, four bytes into each i32 lane (QuantizedExperts.cpp).
enum class Int8Dot {
  None,
  /// AVX-512 VNNI on 64 bytes: unsigned rows (xq + 128) by signed codes.
  Vpdpbusd,
  /// AVX2 on 32 bytes: vpsignb, vpmaddubsw and vpmaddwd.
  Vpmaddubsw,
  /// aarch64 dot product (+dotprod) on 16 bytes, signed by signed.
  Sdot,
  /// Widening multiplies and adds on vector operations, any ISA.
  Generic,
};

/// A target's register tile: `rows` x `panels` accumulators of `lanes`
/// floats, and `depth`, the k extent one pass over a tile covers (the
/// operands of one pass stay in the L1/L2 caches).
struct TileShape {
  int64_t lanes = 16;
  int64_t panels = 4;
  int64_t rows = 6;
  int64_t depth = 512;
  /// The integer dot product of int8 activations; None keeps them on
  /// float kernels.
  Int8Dot int8Dot = Int8Dot::None;
  /// bf16 weights: an expert with at least this many rows multiplies them
  /// rounded to bf16 with vdpbf16ps (AVX512-BF16); 0: never.
  int64_t bf16DotRows = 0;

  int64_t columns() const { return lanes * panels; }
};

/// Accumulates sum over k in [k0, k1) of loadA(i, k) * loadB(j, k) into
/// `init[i * panels + j]` (vectors of `lanes` f32) for i < `rows` and returns
/// the sums in the same order. loadA gives an f32 scalar, loadB a vector.
llvm::SmallVector<mlir::Value>
emitRegisterTile(LoopBuilder &b, const TileShape &shape, int64_t rows,
                 mlir::Value k0, mlir::Value k1, mlir::ValueRange init,
                 llvm::function_ref<mlir::Value(int64_t, mlir::Value)> loadA,
                 llvm::function_ref<mlir::Value(int64_t, mlir::Value)> loadB);

/// Covers rows [lo, hi) with blocks: full blocks of `shape.rows`, then one
/// block of each power of two below it that the remainder needs, calling
/// `body(blockRows, firstRow)` for each.
void forEachRowBlock(LoopBuilder &b, const TileShape &shape, mlir::Value lo,
                     mlir::Value hi,
                     llvm::function_ref<void(int64_t, mlir::Value)> body);

/// The mask of the columns of [col0, col0 + lanes) that are below `limit`.
mlir::Value columnMask(LoopBuilder &b, int64_t lanes, mlir::Value col0,
                       mlir::Value limit);

/// One block of a product out[r, c] = initial(r, c) + sum_k A[r, k] B[k, c]
/// for rows [rowBegin, rowEnd) and columns [col0, col0 + width), width a
/// multiple of the tile's columns. k runs in blocks of `shape.depth`; each
/// block sweeps the rows in register tiles and adds to what the previous
/// one stored. Columns at or past `columnLimit` are computed but never
/// stored.
struct TiledProduct {
  mlir::Value rowBegin, rowEnd, depth;
  mlir::Value col0;
  int64_t width;
  mlir::Value columnLimit;
  /// The [rows, columns] buffer the results go to.
  mlir::Value output;
  /// A[row, k] as an f32 scalar.
  llvm::function_ref<mlir::Value(mlir::Value row, mlir::Value k)> loadA;
  /// B[k, col .. col + lanes) as a vector; `mask` has the stored columns.
  llvm::function_ref<mlir::Value(mlir::Value col, mlir::Value k,
                                 mlir::Value mask)>
      loadB;
  /// The value out[row, col .. col + lanes) starts from.
  llvm::function_ref<mlir::Value(mlir::Value row, mlir::Value col,
                                 mlir::Value mask)>
      initial;
};
void emitTiledProduct(LoopBuilder &b, const TileShape &shape,
                      const TiledProduct &product);

} // namespace moec

#endif // MOEC_TARGETS_CPU_REGISTERTILE_H
