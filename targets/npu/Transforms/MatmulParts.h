//===- MatmulParts.h - Pieces of the grouped matmul's tile loop -*- C++ -*-===//
//
// What LowerMatmul.cpp's tile loop calls: a quantized chunk's
// dequantization on its way to L1, the epilogues of a tile (the gated
// activation, int8 sums to f32), and the phase that adds split-k partials.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_TRANSFORMS_MATMULPARTS_H
#define MOEC_TARGETS_NPU_TRANSFORMS_MATMULPARTS_H

#include "Transforms/Lowering.h"

namespace moec::npu {

/// UB regions of a quantized chunk: its values, scales, offsets, the f32
/// values and their rounding to the cube's type.
struct QuantizedBuffers {
  int64_t values, scales, offsets, widened, rounded;
};

/// Chunk kb of a quantized unit: GM -> UB, q * scale + offset in f32 on the
/// vector unit, rounded to the cube's type, UB -> L1 at `l1`. `values` and
/// `scales` hold the unit's addresses in their arrays.
void dequantizeChunk(StreamBuilder &s, PipeFlags &p, const QuantizedMatrix &q,
                     int64_t kb, unsigned values, unsigned scales,
                     llvm::StringRef load, llvm::StringRef loadL1,
                     llvm::StringRef toL1, llvm::StringRef toL0, int64_t buf,
                     int64_t l1, const QuantizedBuffers &ub);

/// The gated activation of a tile of `rows` rows at `tile` (f32, rows of
/// `width` = 2 * half: the gate half, then the up half) into `act` (f32,
/// rows of half), rounded to `outElem` at `rounded` unless it is f32:
/// clamp(g) * sigmoid(alpha * clamp(g)) * (clamp(u) + beta).
void activationEpilogue(StreamBuilder &s, PipeFlags &p,
                        const FusedActivation &a, llvm::StringRef tilePipe,
                        int64_t tile, int64_t width, unsigned rows, int64_t act,
                        int64_t rounded, ElemType outElem);

/// UB regions of the int8 epilogue.
struct Int8Buffers {
  int64_t tile, columnScales, corrections, rowScales, rowSums, product;
};

/// A tile of int32 sums (rows x `width`, rows of `ncols` used) to f32:
/// (acc + correction * rowSum) * columnScale * rowScale.
void int8Epilogue(StreamBuilder &s, PipeFlags &p, const Int8Epilogue &e,
                  llvm::StringRef tilePipe, llvm::StringRef load, unsigned row0,
                  unsigned rows, unsigned ncols, int64_t width,
                  const Int8Buffers &ub);

} // namespace moec::npu

#endif // MOEC_TARGETS_NPU_TRANSFORMS_MATMULPARTS_H
