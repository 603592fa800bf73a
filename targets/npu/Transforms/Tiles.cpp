//===- Tiles.cpp - Tile sizes from the chip's scratchpads -----------------===//

#include "Transforms/Tiles.h"

using namespace mlir;
using namespace moec::npu;

static int64_t roundUp(int64_t value, int64_t to) {
  return (value + to - 1) / to * to;
}

/// The largest multiple of `step` that is at most `limit` (0 if none).
static int64_t fitMultiple(int64_t limit, int64_t step) {
  return limit / step * step;
}

FailureOr<PackedMatrix> moec::npu::chooseWeightBlocks(ProgramLowering &lowering,
                                                      ElemType elem,
                                                      int64_t groups, int64_t n,
                                                      int64_t k,
                                                      int64_t maxBlockN) {
  const CubeShape *cube = lowering.chip.findCube(elem);
  if (!cube) {
    lowering.emitError() << "chip '" << lowering.chip.name
                         << "' has no cube for " << elemName(elem);
    return failure();
  }
  int64_t eb = elemTypeBytes(elem);
  int64_t l0b = lowering.bufferBytes(Space::L0B) / 2;
  PackedMatrix w;
  w.groups = groups;
  w.n = n;
  w.k = k;
  w.elem = elem;
  w.cubeN = cube->n;
  w.cubeK = cube->k;
  // k blocks of up to 128 inputs (rounded to the cube), then as many
  // output rows as half of L0B holds, up to 256.
  w.blockK = std::min(roundUp(k, cube->k), roundUp(64, cube->k));
  w.blockN = std::min({roundUp(n, cube->n),
                       fitMultiple(l0b / (w.blockK * eb), cube->n),
                       fitMultiple(maxBlockN, cube->n)});
  if (w.blockN < cube->n) {
    lowering.emitError() << "chip '" << lowering.chip.name << "': half of L0B ("
                         << l0b << " bytes) cannot hold one " << cube->n
                         << " x " << w.blockK << " weight tile";
    return failure();
  }
  return w;
}

FailureOr<MatmulTiles> moec::npu::chooseMatmulTiles(ProgramLowering &lowering,
                                                    const CubeShape &cube,
                                                    int64_t maxRows,
                                                    const PackedMatrix &weight,
                                                    int64_t ubTiles) {
  int64_t eb = elemTypeBytes(weight.elem);
  int64_t l0a = lowering.bufferBytes(Space::L0A) / 2;
  int64_t l0c = lowering.bufferBytes(Space::L0C);
  int64_t ub = lowering.bufferBytes(Space::UB);
  MatmulTiles tiles;
  tiles.blockM =
      std::min({roundUp(std::max<int64_t>(maxRows, 1), cube.m),
                fitMultiple(l0a / (weight.blockK * eb), cube.m),
                fitMultiple(l0c / (weight.blockN * 4), cube.m),
                // UB: the output tile, bias and offsets; see LowerMatmul.
                fitMultiple((ub / 2) / (ubTiles * weight.blockN * 4), cube.m),
                int64_t(256)});
  int64_t l1 = 2 * (tiles.blockM * weight.blockK * eb + weight.chunkBytes(0));
  if (tiles.blockM < cube.m || uint64_t(l1) > lowering.bufferBytes(Space::L1)) {
    lowering.emitError() << "chip '" << lowering.chip.name
                         << "': its L0A, L0C, UB or L1 cannot hold one "
                         << cube.m << "-row tile of a " << weight.n << " x "
                         << weight.k << " matmul";
    return failure();
  }
  return tiles;
}
