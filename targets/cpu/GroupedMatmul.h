//===- GroupedMatmul.h - The CPU's grouped matmul kernels -------*- C++ -*-===//
//
// The CPU target's lowerings of moe.grouped_matmul, which its patterns
// (LowerMoe.cpp) put ahead of the reference one: fp32 weights on register
// tiles over panels (TiledExperts.cpp), bf16/f16 weights on dot products
// (ExpertDots.cpp), packed int4/int8 weights on vector kernels
// (QuantizedExperts.cpp). Each returns false, changing nothing,
// where it does not apply.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_CPU_GROUPEDMATMUL_H
#define MOEC_TARGETS_CPU_GROUPEDMATMUL_H

#include "targets/cpu/RegisterTile.h"

#include "mlir/IR/PatternMatch.h"

namespace moec::cpu {

/// fp32 weights known at compile time, re-laid out into panels.
mlir::FailureOr<bool> lowerGroupedMatmulToTiles(mlir::RewriterBase &rewriter,
                                                moe::GroupedMatmulOp op,
                                                const TileShape &tiles);

/// bf16 or f16 weights in their own dtype on the dot-product kernel
/// (DotProducts.h).
mlir::FailureOr<bool> lowerGroupedMatmulToDots(mlir::RewriterBase &rewriter,
                                               moe::GroupedMatmulOp op,
                                               const TileShape &shape);

/// Packed int4/int8 weights with K-groups: codes dequantized 16 at a time
/// in registers, or, with `moec.int8_activations` and
/// `shape.int8Dot`, int8 rows times codes with integer dot products.
mlir::FailureOr<bool> lowerQuantizedGroupedMatmul(mlir::RewriterBase &rewriter,
                                                  moe::GroupedMatmulOp op,
                                                  const TileShape &shape);

} // namespace moec::cpu

#endif // MOEC_TARGETS_CPU_GROUPEDMATMUL_H
