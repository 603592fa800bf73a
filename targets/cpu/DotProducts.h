//===- DotProducts.h - Products with [N, K] weights -------------*- C++ -*-===//
//
// The CPU kernel of every product with a weight whose rows are contiguous
// in k (torch's [out, in] layout, as checkpoints store dense layers and
// experts): each result is a dot product of a weight row and an activation
// row. Vectors of `lanes` f32 run along k, 4 weight rows by 4 activation
// rows at a time (16 accumulators; 6 activation rows with vdpbf16ps), each
// weight read once per pass in its own dtype (f32, bf16, f16) and widened
// in registers; a masked load covers the last k < lanes; the lanes are
// summed at the end. Activation rows go in chunks of 64 that every block of
// weight rows sweeps while they are in the L2 cache. Each step prefetches
// the next block's activation rows at the same k, and without vdpbf16ps the
// next block's weight rows (decode of OLMoE's BF16 layers: 36 to 44
// tokens/s); with it, a block's weight rows stay in L1 for a whole chunk.
// Without vdpbf16ps (decode) a block's 4 weight rows are a quarter of the
// call's rows apart, 4 long streams side by side (one stream per core reads
// 33 GB/s on two Zen 5 cores, 4 streams 64; OLMoE's BF16 decode, with 64
// rows a call: 69 to 80 tokens/s).
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_CPU_DOTPRODUCTS_H
#define MOEC_TARGETS_CPU_DOTPRODUCTS_H

#include "moec/Conversion/LoopBuilder.h"

#include <functional>

namespace moec::cpu {

struct DotProducts {
  DotProducts(LoopBuilder &b, mlir::Value x, mlir::Value w, mlir::Value output,
              int64_t lanes);

  /// Weight rows per pass and per parallel iteration.
  static constexpr int64_t kRows = 4, kRowsPerTask = 64;
  /// Activation rows swept by all the weight rows of a call before the next
  /// ones: 64 rows of K = 2048 bf16 pairs are 256 KiB.
  static constexpr int64_t kTokenChunk = 64;

  /// output[t, o] = initial(t, o) + sum_k x[t, k] * w[prefix..., o, k] for
  /// weight rows o in [rowBegin, rowEnd) and activation rows t in
  /// [tokenBegin, tokenEnd).
  void emit(mlir::Value rowBegin, mlir::Value rowEnd, mlir::Value tokenBegin,
            mlir::Value tokenEnd);

  /// Indices of w before (o, k): an expert's, for a stack.
  llvm::SmallVector<mlir::Value> prefix;
  /// When set (bf16 weights, 16 lanes, AVX512-BF16): x's rows rounded to
  /// bf16 (roundToBf16), and each step multiplies 32 k of them by the
  /// weight's with vdpbf16ps, pairs of products added into f32 lanes,
  /// instead of widening the weight.
  mlir::Value xPairs;

  /// A new [count, K] bf16 buffer holding x's rows [0, count) rounded to
  /// nearest even.
  static mlir::Value roundToBf16(LoopBuilder &b, mlir::Value x,
                                 mlir::Value count, int64_t lanes);
  /// The f32 value a result starts from.
  std::function<mlir::Value(mlir::Value token, mlir::Value row)> initial;

private:
  /// Weight rows o + r * rowStride (a null stride is 1) for r < rows by
  /// activation rows [t, t + tokens) of a chunk ending at lastToken.
  void emitBlock(mlir::Value o, mlir::Value rowStride, int64_t rows,
                 mlir::Value t, int64_t tokens, mlir::Value lastToken);

  LoopBuilder &b;
  mlir::Value x, w, output;
  int64_t lanes, depth, rowCount;
  mlir::VectorType f32Vector, wVector;
  mlir::Value zero;
};

} // namespace moec::cpu

#endif // MOEC_TARGETS_CPU_DOTPRODUCTS_H
