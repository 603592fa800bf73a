//===- QuantizedExperts.h - grouped matmul on packed weights ----*- C++ -*-===//

#ifndef MOEC_PASSES_CONVERSION_MOETOSCF_QUANTIZEDEXPERTS_H
#define MOEC_PASSES_CONVERSION_MOETOSCF_QUANTIZEDEXPERTS_H

#include "passes/Conversion/MoeToSCF/LoopBuilder.h"

namespace moec {

/// The vector kernels for a grouped matmul on packed int4/int8 weights with
/// K-groups; false, changing nothing, where they do not apply.
/// `int8Activations`: the rows are quantized to int8 per row first.
mlir::FailureOr<bool> lowerQuantizedGroupedMatmul(moe::GroupedMatmulOp op,
                                                  const TileShape &shape,
                                                  bool int8Activations);

/// A copy of f32 rows [M, k] with each row quantized to int8 and back:
/// sx * round(x / sx), sx = max|x| / 127 (ties to even).
mlir::Value dequantizedInt8Rows(LoopBuilder &b, mlir::Value rows, int64_t k);

} // namespace moec

#endif // MOEC_PASSES_CONVERSION_MOETOSCF_QUANTIZEDEXPERTS_H
