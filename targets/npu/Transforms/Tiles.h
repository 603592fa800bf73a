//===- Tiles.h - Tile sizes from the chip's scratchpads ---------*- C++ -*-===//
//
// How a matmul is cut to fit the described chip: blocks of k and n for the
// packed weights (two of each fit L0B), and of rows (two fit L0A, one
// output tile L0C). Derived from the description, never fixed in code.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_TRANSFORMS_TILES_H
#define MOEC_TARGETS_NPU_TRANSFORMS_TILES_H

#include "Transforms/Lowering.h"

namespace moec::npu {

struct MatmulTiles {
  int64_t blockM = 0;
};

/// The packed form of an n x k weight of `groups` groups for the cube of
/// `elem`; fails when the chip's buffers cannot hold one tile.
mlir::FailureOr<PackedMatrix> chooseWeightBlocks(ProgramLowering &lowering,
                                                 ElemType elem, int64_t groups,
                                                 int64_t n, int64_t k,
                                                 int64_t maxBlockN = 256);

/// Rows per tile for a matmul of at most `maxRows` rows on `weight`, with
/// `ubTiles` output tiles in half of UB.
mlir::FailureOr<MatmulTiles> chooseMatmulTiles(ProgramLowering &lowering,
                                               const CubeShape &cube,
                                               int64_t maxRows,
                                               const PackedMatrix &weight,
                                               int64_t ubTiles = 1);

} // namespace moec::npu

#endif // MOEC_TARGETS_NPU_TRANSFORMS_TILES_H
