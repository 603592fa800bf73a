//===- Execute.cpp - What DMA and cube commands compute -------------------===//
//
// planCommand reads a pipe command's operands into its pipe, cost and
// memory regions (the time model and the race checks need them before it
// runs); runCommand then does what it does to memory. The cube's arithmetic
// is in Cube.cpp, the vector unit's in Vector.cpp.
//
//===----------------------------------------------------------------------===//

#include "sim/SimState.h"

#include <algorithm>
#include <cstring>

using namespace moec::npu;
using namespace moec::npu::sim;

/// a * b for sizes, saturated past kSizeLimit: a region that large fails
/// its bounds check, which runs before anything uses the product.
static int64_t mulSize(int64_t a, int64_t b) {
  int64_t product;
  if (__builtin_mul_overflow(a, b, &product) || product > kSizeLimit)
    return kSizeLimit + 1;
  return product;
}

static int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// Checks that operand `i` is a size (0..2^50).
static bool checkSize(const int64_t *v, unsigned i, std::string &what) {
  if (v[i] >= 0 && v[i] <= kSizeLimit)
    return true;
  what = "size v" + std::to_string(i) + " = " + std::to_string(v[i]) +
         " out of range";
  return false;
}

static bool checkSizes(const int64_t *v, std::initializer_list<unsigned> is,
                       std::string &what) {
  for (unsigned i : is)
    if (!checkSize(v, i, what))
      return false;
  return true;
}

/// The path a DMA's dtype names ((to << 4) | from).
static bool findPath(Machine &m, const Command &command, Work &work,
                     std::string &what) {
  Space to = Space(command.dtype >> 4), from = Space(command.dtype & 15);
  const DmaPath *path = m.paths[int(from)][int(to)];
  if (!path || !(path->bytesPerCycle > 0)) {
    what = std::string("the chip has no DMA path from ") + spaceLabel(from) +
           " to " + spaceLabel(to);
    return false;
  }
  work.path = path;
  work.pipe = path->engine;
  return true;
}

static bool planMmad(Machine &m, const Command &command, const int64_t *v,
                     Work &work, std::string &what) {
  ElemType type = ElemType(command.dtype);
  const CubeShape *cube = m.cubes[command.dtype];
  if (!cube) {
    what = std::string("the chip has no cube for ") + elemTypeName(type);
    return false;
  }
  if (!checkSizes(v, {3, 4, 5}, what))
    return false;
  int64_t mt = ceilDiv(v[3], cube->m), kt = ceilDiv(v[4], cube->k),
          nt = ceilDiv(v[5], cube->n);
  unsigned in = elemTypeBytes(type), acc = elemTypeBytes(cube->accumulator);
  int64_t aBytes = mulSize(mulSize(mulSize(mt, kt), cube->m * cube->k), in);
  int64_t bBytes = mulSize(mulSize(mulSize(nt, kt), cube->n * cube->k), in);
  int64_t cBytes = mulSize(mulSize(mulSize(mt, nt), cube->m * cube->n), acc);
  // Cycles: one per tile triple, ceil(m/cm) * ceil(k/ck) * ceil(n/cn).
  work.pipe = Pipe::M;
  work.cycles = uint64_t(mulSize(mulSize(mt, kt), nt));
  work.add(Space::L0A, false, v[1], 1, aBytes, 0, in);
  work.add(Space::L0B, false, v[2], 1, bBytes, 0, in);
  // Accumulating also reads C: the race check of a write covers a read.
  work.add(Space::L0C, true, v[0], 1, cBytes, 0, acc);
  return true;
}

bool sim::planCommand(Machine &m, const Command &command, const int64_t *v,
                      Work &work, std::string &what) {
  work.regionCount = 0;
  Space to = Space(command.dtype >> 4), from = Space(command.dtype & 15);
  switch (command.opcode) {
  case Opcode::DMA_COPY:
    if (!findPath(m, command, work, what) || !checkSizes(v, {2, 3}, what))
      return false;
    work.bytes = uint64_t(mulSize(v[2], v[3]));
    // An atomic add reads the destination too.
    if (command.flags & 1)
      work.bytes *= 2;
    work.add(from, false, v[1], v[2], v[3], v[4], 1);
    work.add(to, true, v[0], v[2], v[3], v[5], command.flags & 1 ? 4 : 1);
    return true;
  case Opcode::DMA_GATHER:
    if (!findPath(m, command, work, what) || !checkSizes(v, {3, 4}, what))
      return false;
    if (v[6] <= 0) {
      what = "index divisor v6 = " + std::to_string(v[6]) + " must be positive";
      return false;
    }
    work.bytes = uint64_t(mulSize(v[3], v[4]));
    work.add(Space::UB, false, v[2], 1, mulSize(v[3], 4), 0, 4);
    work.add(to, true, v[0], v[3], v[4], v[7], 1);
    return true;
  case Opcode::DMA_ND_TO_FRACTAL:
  case Opcode::DMA_FRACTAL_TO_ND: {
    if (!findPath(m, command, work, what) || !checkSizes(v, {2, 3, 5, 6}, what))
      return false;
    if (v[5] == 0 || v[6] == 0) {
      what = "tile shape " + std::to_string(v[5]) + " x " +
             std::to_string(v[6]) + " must be positive";
      return false;
    }
    bool toFractal = command.opcode == Opcode::DMA_ND_TO_FRACTAL;
    unsigned eb = toFractal ? elemTypeBytes(ElemType(command.flags & 15)) : 4;
    bool transposed = toFractal && (command.flags >> 4);
    int64_t tiles = transposed
                        ? mulSize(ceilDiv(v[3], v[5]), ceilDiv(v[2], v[6]))
                        : mulSize(ceilDiv(v[2], v[5]), ceilDiv(v[3], v[6]));
    int64_t tileBytes = mulSize(mulSize(tiles, mulSize(v[5], v[6])), eb);
    int64_t rowBytes = mulSize(v[3], eb);
    if (v[2] == 0 || v[3] == 0)
      tileBytes = 0;
    work.bytes = uint64_t(mulSize(v[2], rowBytes));
    if (toFractal) {
      work.add(from, false, v[1], v[2], rowBytes, v[4], eb);
      work.add(to, true, v[0], 1, tileBytes, 0, eb);
    } else {
      work.add(from, false, v[1], 1, tileBytes, 0, 4);
      // Adding also reads the destination; the write's check covers it.
      work.add(to, true, v[0], v[2], rowBytes, v[4], 4);
    }
    return true;
  }
  case Opcode::MMAD:
    return planMmad(m, command, v, work, what);
  default:
    return planVector(m, command, v, work, what);
  }
}

//===----------------------------------------------------------------------===//
// DMA
//===----------------------------------------------------------------------===//

static void copyRows(uint8_t *to, const uint8_t *from, int64_t rows,
                     int64_t rowBytes, int64_t toStride, int64_t fromStride) {
  if (rowBytes == 0) // Nothing was resolved: the pointers are null.
    return;
  for (int64_t r = 0; r < rows; ++r)
    std::memmove(to + r * toStride, from + r * fromStride, size_t(rowBytes));
}

/// f32 rows added to the destination's (an atomic add into GM).
static void addRows(uint8_t *to, const uint8_t *from, int64_t rows,
                    int64_t rowBytes, int64_t toStride, int64_t fromStride) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c + 4 <= rowBytes; c += 4) {
      float a, b;
      std::memcpy(&a, to + r * toStride + c, 4);
      std::memcpy(&b, from + r * fromStride + c, 4);
      a = a + b;
      std::memcpy(to + r * toStride + c, &a, 4);
    }
}

static bool runGather(Machine &m, Core &core, const Command &command,
                      const int64_t *v, const Work &work, uint8_t *const *bases,
                      Span span, std::string &what) {
  const uint8_t *indices = bases[0];
  uint8_t *to = bases[1];
  Space from = Space(command.dtype & 15);
  int64_t rowBytes = v[4];
  if (rowBytes == 0)
    return true;
  for (int64_t r = 0; r < v[3]; ++r) {
    int32_t index;
    std::memcpy(&index, indices + 4 * r, 4);
    uint8_t *row = to + r * v[7];
    if (index < 0) {
      std::memset(row, 0, size_t(rowBytes));
      continue;
    }
    // The row's address in 128 bits: a wild stride must fail the bounds
    // check, not wrap into range.
    __int128 address = __int128(v[1]) + __int128(index / v[6]) * v[5];
    if (address < INT64_MIN || address > INT64_MAX) {
      what = "gather row " + std::to_string(r) + " (index " +
             std::to_string(index) + ") is out of every space";
      return false;
    }
    Region source{from, false, 1, int64_t(address), 1, rowBytes, 0};
    uint8_t *data;
    if (!resolveRegion(m, core, source, data, what) ||
        !trackRegion(m, core, source, work.pipe, command.opcode, span, what)) {
      what = "gather row " + std::to_string(r) + " (index " +
             std::to_string(index) + "): " + what;
      return false;
    }
    std::memmove(row, data, size_t(rowBytes));
  }
  return true;
}

/// ND rows into tr x tc tiles, zero-padded.
static void ndToFractal(uint8_t *to, const uint8_t *from, const int64_t *v,
                        unsigned eb, bool transposed) {
  int64_t rows = v[2], cols = v[3], stride = v[4], tr = v[5], tc = v[6];
  if (transposed) {
    // Tile (i, j) of the cols x rows transpose: element (r, c) of a tile is
    // source element (j * tc + c, i * tr + r).
    int64_t rowTiles = ceilDiv(cols, tr), colTiles = ceilDiv(rows, tc);
    for (int64_t i = 0; i < rowTiles; ++i)
      for (int64_t j = 0; j < colTiles; ++j)
        for (int64_t r = 0; r < tr; ++r)
          for (int64_t c = 0; c < tc; ++c) {
            uint8_t *out =
                to + ((i * colTiles + j) * tr * tc + r * tc + c) * eb;
            int64_t srcRow = j * tc + c, srcCol = i * tr + r;
            if (srcRow < rows && srcCol < cols)
              std::memcpy(out, from + srcRow * stride + srcCol * eb, eb);
            else
              std::memset(out, 0, eb);
          }
    return;
  }
  int64_t rowTiles = ceilDiv(rows, tr), colTiles = ceilDiv(cols, tc);
  for (int64_t i = 0; i < rowTiles; ++i)
    for (int64_t rr = 0; rr < tr; ++rr) {
      int64_t r = i * tr + rr;
      for (int64_t j = 0; j < colTiles; ++j) {
        uint8_t *out = to + ((i * colTiles + j) * tr * tc + rr * tc) * eb;
        int64_t valid = r < rows ? std::min(tc, cols - j * tc) : 0;
        if (valid > 0)
          std::memcpy(out, from + r * stride + j * tc * eb, valid * eb);
        std::memset(out + valid * eb, 0, (tc - valid) * eb);
      }
    }
}

/// 32-bit elements out of tr x tc tiles into ND rows, written or added (f32).
static void fractalToNd(uint8_t *to, const uint8_t *from, const int64_t *v,
                        bool add) {
  int64_t rows = v[2], cols = v[3], stride = v[4], tr = v[5], tc = v[6];
  int64_t colTiles = ceilDiv(cols, tc);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < colTiles; ++j) {
      const uint8_t *in =
          from + (((r / tr) * colTiles + j) * tr * tc + (r % tr) * tc) * 4;
      uint8_t *out = to + r * stride + j * tc * 4;
      int64_t valid = std::min(tc, cols - j * tc);
      if (!add) {
        std::memcpy(out, in, valid * 4);
        continue;
      }
      for (int64_t c = 0; c < valid; ++c) {
        float a, b;
        std::memcpy(&a, out + 4 * c, 4);
        std::memcpy(&b, in + 4 * c, 4);
        a = a + b;
        std::memcpy(out + 4 * c, &a, 4);
      }
    }
}

bool sim::runCommand(Machine &m, Core &core, const Command &command,
                     const int64_t *v, const Work &work, uint8_t *const *bases,
                     Span span, std::string &what) {
  switch (command.opcode) {
  case Opcode::DMA_COPY:
    if (command.flags & 1)
      addRows(bases[1], bases[0], v[2], v[3], v[5], v[4]);
    else
      copyRows(bases[1], bases[0], v[2], v[3], v[5], v[4]);
    return true;
  case Opcode::DMA_GATHER:
    return runGather(m, core, command, v, work, bases, span, what);
  case Opcode::DMA_ND_TO_FRACTAL:
    if (v[2] > 0 && v[3] > 0)
      ndToFractal(bases[1], bases[0], v,
                  elemTypeBytes(ElemType(command.flags & 15)),
                  command.flags >> 4);
    return true;
  case Opcode::DMA_FRACTAL_TO_ND:
    if (v[2] > 0 && v[3] > 0)
      fractalToNd(bases[1], bases[0], v, command.flags & 1);
    return true;
  case Opcode::MMAD:
    runMmad(m, core, command, v, bases);
    return true;
  default:
    runVector(core, command, v, bases);
    return true;
  }
}
