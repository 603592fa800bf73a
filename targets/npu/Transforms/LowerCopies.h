//===- LowerCopies.h - Phases that move rows in global memory ---*- C++ -*-===//
//
// Data movement without arithmetic: transposes, concatenations, slices of
// columns (2-D strided copies), and the copies whose offsets and row counts
// only the run time knows (new keys and values into the KV cache at the
// current position, the last rows of a prompt for the LM head). Rows pass
// through UB, which every core's share of the rows fills in chunks.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_TRANSFORMS_LOWERCOPIES_H
#define MOEC_TARGETS_NPU_TRANSFORMS_LOWERCOPIES_H

#include "Transforms/Lowering.h"
#include "Transforms/RuntimeScalars.h"

namespace moec::npu {

/// `rows` rows of `rowBytes` bytes, `srcStride` / `dstStride` apart.
struct RowCopy {
  uint64_t dst = 0, src = 0;
  int64_t rows = 0, rowBytes = 0, srcStride = 0, dstStride = 0;
};

/// One phase of copies, each split over the cores by rows.
mlir::LogicalResult lowerRowCopies(ProgramLowering &lowering,
                                   llvm::ArrayRef<RowCopy> copies);

/// Rows of `src` from row `srcRow` to rows of `dst` from row `dstRow`,
/// `count` of them (at most `bound`, which splits the work): each a
/// RuntimeScalars node. Elements are converted when the two types differ
/// (f32 keys into an f16 cache).
struct RuntimeRowCopy {
  GmMatrix src, dst;
  int64_t srcRow = -1, dstRow = -1, count = -1;
  int64_t bound = 0;
};
mlir::LogicalResult lowerRuntimeRowCopy(ProgramLowering &lowering,
                                        RuntimeScalars &scalars,
                                        const RuntimeRowCopy &copy);

} // namespace moec::npu

#endif // MOEC_TARGETS_NPU_TRANSFORMS_LOWERCOPIES_H
