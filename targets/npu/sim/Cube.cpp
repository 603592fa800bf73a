//===- Cube.cpp - What MMAD computes --------------------------------------===//
//
// The cube on whole fractal tiles: A, B and C are converted to row-major
// scratch once per command, multiplied in a tight loop, and C written back.
// Floating point sums each output in k order, one rounding per product and
// per sum (no fused multiply-add); integer sums wrap, so their order is
// free.
//
//===----------------------------------------------------------------------===//

#include "machine/HalfFloat.h"
#include "sim/SimState.h"

#include <algorithm>
#include <cstring>

// The cube rounds each product and each sum to f32: no fused multiply-add.
#pragma STDC FP_CONTRACT OFF

using namespace moec::npu;
using namespace moec::npu::sim;

static int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// `count` elements of `type` at `from` as T (float, int16 or int32).
template <typename T>
static void loadRun(const uint8_t *from, ElemType type, int64_t count, T *to) {
  switch (type) {
  case ElemType::F32:
  case ElemType::I32:
    if constexpr (sizeof(T) == 4) {
      std::memcpy(to, from, size_t(count) * 4);
      return;
    }
    break;
  case ElemType::F16:
  case ElemType::BF16:
    if constexpr (std::is_same_v<T, float>) {
      if (type == ElemType::F16)
        halfRowToFloat(from, count, to);
      else
        bfloat16RowToFloat(from, count, to);
      return;
    }
    break;
  case ElemType::I8:
    for (int64_t i = 0; i < count; ++i)
      to[i] = T(int8_t(from[i]));
    return;
  case ElemType::U8:
    for (int64_t i = 0; i < count; ++i)
      to[i] = T(from[i]);
    return;
  }
}

/// A matrix stored as rowTiles x colTiles fractal tiles of tr x tc
/// elements, to row-major `rows` (rowTiles * tr x colTiles * tc).
template <typename T>
static void fractalToRows(const uint8_t *tiles, ElemType type, int64_t tr,
                          int64_t tc, int64_t rowTiles, int64_t colTiles,
                          T *rows) {
  unsigned eb = elemTypeBytes(type);
  int64_t cols = colTiles * tc;
  for (int64_t i = 0; i < rowTiles; ++i)
    for (int64_t j = 0; j < colTiles; ++j)
      for (int64_t r = 0; r < tr; ++r)
        loadRun(tiles + ((i * colTiles + j) * tr * tc + r * tc) * eb, type, tc,
                rows + (i * tr + r) * cols + j * tc);
}

/// The reverse, for 32-bit elements.
template <typename T>
static void rowsToFractal(const T *rows, int64_t tr, int64_t tc,
                          int64_t rowTiles, int64_t colTiles, uint8_t *tiles) {
  int64_t cols = colTiles * tc;
  for (int64_t i = 0; i < rowTiles; ++i)
    for (int64_t j = 0; j < colTiles; ++j)
      for (int64_t r = 0; r < tr; ++r)
        std::memcpy(tiles + ((i * colTiles + j) * tr * tc + r * tc) * 4,
                    rows + (i * tr + r) * cols + j * tc, size_t(tc) * 4);
}

/// An R x J block of C accumulated over all of `depth` in registers (each
/// element still sums in k order), so that a row of B^T is loaded once for
/// R rows and C is loaded and stored once.
template <int R, int J>
static void multiplyBlock(const float *a, const float *bt, float *c, int64_t r,
                          int64_t j, int64_t depth, int64_t cols) {
  float acc[R][J];
  for (int i = 0; i < R; ++i)
    for (int t = 0; t < J; ++t)
      acc[i][t] = c[(r + i) * cols + j + t];
  for (int64_t x = 0; x < depth; ++x) {
    const float *b = bt + x * cols + j;
    for (int i = 0; i < R; ++i) {
      float left = a[(r + i) * depth + x];
      for (int t = 0; t < J; ++t) {
        float product = left * b[t];
        acc[i][t] = acc[i][t] + product;
      }
    }
  }
  for (int i = 0; i < R; ++i)
    for (int t = 0; t < J; ++t)
      c[(r + i) * cols + j + t] = acc[i][t];
}

/// c (rows x cols) += a (rows x depth) * bt (depth x cols), in f32.
static void multiply(const float *a, const float *bt, float *c, int64_t rows,
                     int64_t depth, int64_t cols) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    int64_t j = 0;
    for (; j + 8 <= cols; j += 8)
      multiplyBlock<4, 8>(a, bt, c, r, j, depth, cols);
    for (; j < cols; ++j)
      multiplyBlock<4, 1>(a, bt, c, r, j, depth, cols);
  }
  for (; r < rows; ++r) {
    int64_t j = 0;
    for (; j + 8 <= cols; j += 8)
      multiplyBlock<1, 8>(a, bt, c, r, j, depth, cols);
    for (; j < cols; ++j)
      multiplyBlock<1, 1>(a, bt, c, r, j, depth, cols);
  }
}

void sim::runMmad(Machine &m, Core &core, const Command &command,
                  const int64_t *v, uint8_t *const *bases) {
  const CubeShape &cube = *m.cubes[command.dtype];
  int64_t mt = ceilDiv(v[3], cube.m), kt = ceilDiv(v[4], cube.k),
          nt = ceilDiv(v[5], cube.n);
  if (!m.options.cubeArithmetic || mt == 0 || nt == 0)
    return;
  bool accumulate = command.flags & 1;
  const uint8_t *aTiles = bases[0], *bTiles = bases[1];
  uint8_t *cTiles = bases[2];
  ElemType in = cube.input;
  int64_t cm = cube.m, ck = cube.k, cn = cube.n;
  int64_t rows = mt * cm, depth = kt * ck, cols = nt * cn;
  if (cube.accumulator == ElemType::I32) {
    // Each element a dot product of int16-held inputs: wrapping int32 sums
    // are the same in any order, and this form vectorizes.
    std::vector<int16_t> &a = core.s0, &b = core.s1;
    std::vector<int32_t> &c = core.i0;
    a.resize(size_t(rows * depth));
    b.resize(size_t(cols * depth));
    c.resize(size_t(rows * cols));
    fractalToRows(aTiles, in, cm, ck, mt, kt, a.data());
    fractalToRows(bTiles, in, cn, ck, nt, kt, b.data());
    if (accumulate)
      fractalToRows(cTiles, ElemType::I32, cm, cn, mt, nt, c.data());
    else
      std::fill(c.begin(), c.end(), 0);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < cols; ++j) {
        const int16_t *x = a.data() + r * depth, *y = b.data() + j * depth;
        uint32_t sum = uint32_t(c[r * cols + j]);
        for (int64_t i = 0; i < depth; ++i)
          sum += uint32_t(int32_t(x[i]) * int32_t(y[i]));
        c[r * cols + j] = int32_t(sum);
      }
    rowsToFractal(c.data(), cm, cn, mt, nt, cTiles);
    return;
  }
  std::vector<float> &a = core.f0, &tile = core.f1, &bt = core.f2, &c = core.f3;
  a.resize(size_t(rows * depth));
  tile.resize(size_t(cn * ck));
  bt.resize(size_t(depth * cols));
  c.resize(size_t(rows * cols));
  fractalToRows(aTiles, in, cm, ck, mt, kt, a.data());
  // B^T, so that the inner loop runs along a row of C: a tile at a time,
  // writing rows of B^T.
  unsigned eb = elemTypeBytes(in);
  for (int64_t i = 0; i < nt; ++i)
    for (int64_t j = 0; j < kt; ++j) {
      loadRun(bTiles + (i * kt + j) * cn * ck * eb, in, cn * ck, tile.data());
      for (int64_t x = 0; x < ck; ++x) {
        float *row = &bt[(j * ck + x) * cols + i * cn];
        for (int64_t r = 0; r < cn; ++r)
          row[r] = tile[r * ck + x];
      }
    }
  if (accumulate)
    fractalToRows(cTiles, ElemType::F32, cm, cn, mt, nt, c.data());
  else
    std::fill(c.begin(), c.end(), 0.0f);
  multiply(a.data(), bt.data(), c.data(), rows, depth, cols);
  rowsToFractal(c.data(), cm, cn, mt, nt, cTiles);
}
