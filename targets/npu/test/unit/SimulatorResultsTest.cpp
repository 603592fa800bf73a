//===- SimulatorResultsTest.cpp - The NPU simulator's results -------------===//
//
// Bit-exact results against straightforward references, the statistics
// and the trace, and the 16-bit float conversions.
//
//===----------------------------------------------------------------------===//

#include "StreamBuilder.h"

#include "machine/HalfFloat.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

using namespace moec::npu;
using namespace moec::npu::testing;

namespace {

constexpr int64_t kUbOut = 16384;

std::vector<uint8_t> zeros(size_t bytes) {
  return std::vector<uint8_t>(bytes, 0);
}

//===----------------------------------------------------------------------===//
// Results
//===----------------------------------------------------------------------===//

/// Runs vector `commands` on UB holding `input` at 0; returns `outBytes` of
/// UB from kUbOut.
std::vector<uint8_t> runVectorOn(const std::vector<uint8_t> &input,
                                 size_t outBytes,
                                 const std::vector<Command> &commands,
                                 SimStats *stats = nullptr) {
  SimHarness h;
  uint32_t in = h.segment(SegmentKind::Input, input);
  uint32_t out = h.segment(SegmentKind::Output, zeros(outBytes));
  StreamBuilder &s = h.core(0);
  s.dma(Space::GM, Space::UB, 0, gmAddress(in, 0), 1, int64_t(input.size()))
      .flag(Pipe::MTE2, Pipe::V);
  s.commands.insert(s.commands.end(), commands.begin(), commands.end());
  s.flag(Pipe::V, Pipe::MTE3)
      .dma(Space::UB, Space::GM, gmAddress(out, 0), kUbOut, 1,
           int64_t(outBytes));
  EXPECT_TRUE(h.run()) << h.error;
  if (stats)
    *stats = h.stats;
  return h.memory[out];
}

template <typename T> std::vector<uint8_t> bytesOf(const std::vector<T> &v) {
  std::vector<uint8_t> bytes(v.size() * sizeof(T));
  std::memcpy(bytes.data(), v.data(), bytes.size());
  return bytes;
}

template <typename T> std::vector<T> valuesOf(const std::vector<uint8_t> &b) {
  std::vector<T> values(b.size() / sizeof(T));
  std::memcpy(values.data(), b.data(), values.size() * sizeof(T));
  return values;
}

Command cast(ElemType to, ElemType from, int64_t count) {
  return makeCommand(Opcode::V_CAST, {kUbOut, 0, 0, count, 1}, uint8_t(to),
                     uint8_t(int(from) << 4));
}

TEST(SimulatorResults, CastRounding) {
  float nan = std::nanf("");
  std::vector<float> in = {1 + 0x1p-11f, 1 + 3 * 0x1p-11f, 65519,    65520,
                           -65520,       0x1p-25f,         0x3p-26f, nan};
  auto half = valuesOf<uint16_t>(
      runVectorOn(bytesOf(in), 16, {cast(ElemType::F16, ElemType::F32, 8)}));
  EXPECT_EQ(
      std::vector<uint16_t>(half.begin(), half.begin() + 7),
      (std::vector<uint16_t>{0x3c00, 0x3c02, 0x7bff, 0x7c00, 0xfc00, 0, 1}));
  EXPECT_EQ(half[7] & 0x7c00, 0x7c00);
  EXPECT_NE(half[7] & 0x3ff, 0);

  std::vector<float> bf = {1 + 0x1p-8f, 1 + 3 * 0x1p-8f, nan, 0x1.fffffep127f};
  auto b16 = valuesOf<uint16_t>(
      runVectorOn(bytesOf(bf), 8, {cast(ElemType::BF16, ElemType::F32, 4)}));
  EXPECT_EQ(b16[0], 0x3f80);
  EXPECT_EQ(b16[1], 0x3f82);
  EXPECT_TRUE(std::isnan(bfloat16ToFloat(b16[2])));
  EXPECT_EQ(b16[3], 0x7f80);

  std::vector<float> ints = {2.5f, 3.5f, -2.5f, 300, -300, nan, -2.7f, 3e9f};
  auto i8 = valuesOf<int8_t>(
      runVectorOn(bytesOf(ints), 8, {cast(ElemType::I8, ElemType::F32, 8)}));
  EXPECT_EQ(i8, (std::vector<int8_t>{2, 4, -2, 127, -128, 0, -3, 127}));
  auto i32 = valuesOf<int32_t>(
      runVectorOn(bytesOf(ints), 32, {cast(ElemType::I32, ElemType::F32, 8)}));
  EXPECT_EQ(i32,
            (std::vector<int32_t>{2, 3, -2, 300, -300, 0, -2, 2147483647}));

  // i32 to f16/bf16 rounds once: 2049 is halfway (to even 2048); the bf16
  // case is one where rounding through f32 first would give 0xcef4.
  std::vector<int32_t> big = {2049, 2051, -2051014668, 0};
  auto fromInt = valuesOf<uint16_t>(
      runVectorOn(bytesOf(big), 16,
                  {cast(ElemType::F16, ElemType::I32, 2),
                   makeCommand(Opcode::V_CAST, {kUbOut + 4, 8, 0, 1, 1},
                               uint8_t(ElemType::BF16),
                               uint8_t(int(ElemType::I32) << 4))}));
  EXPECT_EQ(halfToFloat(fromInt[0]), 2048.0f);
  EXPECT_EQ(halfToFloat(fromInt[1]), 2052.0f);
  EXPECT_EQ(fromInt[2], 0xcef5);
}

TEST(SimulatorResults, UnpackInt4) {
  std::vector<uint8_t> packed = {0x8f, 0x21};
  auto unpack = [&](ElemType type, bool isSigned, size_t bytes) {
    return runVectorOn(packed, bytes,
                       {makeCommand(Opcode::V_UNPACK_INT4, {kUbOut, 0, 0, 4, 1},
                                    uint8_t(type), isSigned ? 4 : 0)});
  };
  EXPECT_EQ(valuesOf<int32_t>(unpack(ElemType::I32, false, 16)),
            (std::vector<int32_t>{15, 8, 1, 2}));
  EXPECT_EQ(valuesOf<int32_t>(unpack(ElemType::I32, true, 16)),
            (std::vector<int32_t>{-1, -8, 1, 2}));
  auto half = valuesOf<uint16_t>(unpack(ElemType::F16, true, 8));
  EXPECT_EQ(halfToFloat(half[0]), -1.0f);
  EXPECT_EQ(halfToFloat(half[1]), -8.0f);
  EXPECT_EQ(halfToFloat(half[3]), 2.0f);
}

TEST(SimulatorResults, TopKTiesTakeTheLowerIndex) {
  float nan = std::nanf(""), inf = INFINITY;
  std::vector<float> scores = {1, 3, 3, 2, 3, nan, -1, -inf, 5, 5, 0, 0};
  SimStats stats;
  auto out = runVectorOn(
      bytesOf(scores), 64,
      {makeCommand(Opcode::V_TOPK, {kUbOut, 0, kUbOut + 32, 6, 2, 4, 24},
                   uint8_t(ElemType::F32))},
      &stats);
  std::vector<float> values(8);
  std::vector<int32_t> indices(8);
  std::memcpy(values.data(), out.data(), 32);
  std::memcpy(indices.data(), out.data() + 32, 32);
  EXPECT_EQ(values, (std::vector<float>{3, 3, 3, 2, 5, 5, 0, 0}));
  EXPECT_EQ(indices, (std::vector<int32_t>{1, 2, 4, 3, 2, 3, 4, 5}));
  // 10 + 2 rows * ceil(24 / 32) * ceil(log2 6) = 16 cycles.
  EXPECT_EQ(stats.cores[0][int(Pipe::V)].busyCycles, 16u);
}

TEST(SimulatorResults, VectorArithmetic) {
  // f16: 1 + 2^-11 rounds back to 1; a per-row broadcast; an immediate;
  // a row sum; i32 wraps.
  std::vector<uint16_t> h = {floatToHalf(1), floatToHalf(2), floatToHalf(3),
                             floatToHalf(0x1p-11f)};
  float three = 3;
  uint32_t threeBits;
  std::memcpy(&threeBits, &three, 4);
  auto out = valuesOf<uint16_t>(runVectorOn(
      bytesOf(h), 16,
      {makeCommand(Opcode::V_ADD, {kUbOut, 0, 6, 3, 1}, uint8_t(ElemType::F16),
                   1),
       makeCommand(Opcode::V_MUL, {kUbOut + 8, 0, int64_t(threeBits), 3, 1},
                   uint8_t(ElemType::F16), 2),
       makeCommand(Opcode::V_REDUCE_SUM, {kUbOut + 6, 0, 0, 4, 1},
                   uint8_t(ElemType::F16))}));
  EXPECT_EQ(halfToFloat(out[0]), 1.0f); // 1 + 2^-11: a tie, to even
  EXPECT_EQ(halfToFloat(out[1]), 2.0f);
  EXPECT_EQ(halfToFloat(out[3]), 6.0f); // 1 + 2 + 3 + 2^-11 in f32 -> f16
  EXPECT_EQ(halfToFloat(out[4]), 3.0f);
  EXPECT_EQ(halfToFloat(out[6]), 9.0f);
  std::vector<int32_t> ints = {INT32_MAX, -5};
  auto sum = valuesOf<int32_t>(
      runVectorOn(bytesOf(ints), 8,
                  {makeCommand(Opcode::V_ADD, {kUbOut, 0, 0, 2, 1},
                               uint8_t(ElemType::I32))}));
  EXPECT_EQ(sum, (std::vector<int32_t>{-2, -10})); // INT32_MAX * 2 wraps
}

TEST(SimulatorResults, GatherWithNegativeIndex) {
  // Indices 2, -1, 0, 7 with divisor 2 pick rows 1, zeros, 0 and 3.
  SimHarness h;
  std::vector<uint8_t> table(32);
  for (size_t i = 0; i < table.size(); ++i)
    table[i] = uint8_t(i + 1);
  uint32_t in = h.segment(SegmentKind::Weight, table);
  uint32_t out = h.segment(SegmentKind::Output, zeros(32));
  StreamBuilder &s = h.core(0);
  int32_t indices[] = {2, -1, 0, 7};
  for (int i = 0; i < 4; ++i)
    s.op(Opcode::S_STORE, {0, 4 * i, indices[i]}, uint8_t(Space::UB));
  s.op(Opcode::DMA_GATHER, {256, int64_t(gmAddress(in, 0)), 0, 4, 8, 8, 2, 8},
       pathCode(Space::GM, Space::UB))
      .flag(Pipe::MTE2, Pipe::MTE3)
      .dma(Space::UB, Space::GM, gmAddress(out, 0), 256, 1, 32);
  ASSERT_TRUE(h.run()) << h.error;
  std::vector<uint8_t> expected(32, 0);
  for (int i = 0; i < 8; ++i) {
    expected[i] = uint8_t(9 + i);
    expected[16 + i] = uint8_t(1 + i);
    expected[24 + i] = uint8_t(25 + i);
  }
  EXPECT_EQ(h.memory[out], expected);
}

/// Fractal layout of CommandStream.h: element (r, c) of a matrix with
/// `cols` columns in tr x tc tiles.
size_t fractalIndex(size_t r, size_t c, size_t cols, size_t tr, size_t tc) {
  size_t colTiles = (cols + tc - 1) / tc;
  return ((r / tr) * colTiles + c / tc) * tr * tc + (r % tr) * tc + c % tc;
}

TEST(SimulatorResults, FractalRoundTrip) {
  // A 19 x 13 f32 matrix into 16 x 8 tiles of L1 and back; the raw tiles
  // too, to check the layout and the zero padding; then added to ones.
  const size_t rows = 19, cols = 13, tr = 16, tc = 8;
  std::vector<float> matrix(rows * cols);
  for (size_t i = 0; i < matrix.size(); ++i)
    matrix[i] = float(i) * 0.5f - 7;
  SimHarness h;
  uint32_t in = h.segmentOf(SegmentKind::Input, matrix);
  uint32_t back = h.segment(SegmentKind::Output, zeros(rows * cols * 4));
  uint32_t raw = h.segment(SegmentKind::Output, zeros(2 * 2 * tr * tc * 4));
  uint32_t added =
      h.segmentOf(SegmentKind::Output, std::vector<float>(rows * cols, 1.0f));
  auto fractal = [&](Opcode op, Space from, Space to, int64_t dst, int64_t src,
                     uint8_t flags) {
    h.core(0).op(op,
                 {dst, src, int64_t(rows), int64_t(cols), int64_t(cols * 4),
                  int64_t(tr), int64_t(tc)},
                 pathCode(from, to), flags);
  };
  fractal(Opcode::DMA_ND_TO_FRACTAL, Space::GM, Space::L1, 0, gmAddress(in, 0),
          uint8_t(ElemType::F32));
  h.core(0).flag(Pipe::MTE2, Pipe::MTE3);
  fractal(Opcode::DMA_FRACTAL_TO_ND, Space::L1, Space::GM, gmAddress(back, 0),
          0, 0);
  fractal(Opcode::DMA_FRACTAL_TO_ND, Space::L1, Space::GM, gmAddress(added, 0),
          0, 1);
  h.core(0).dma(Space::L1, Space::GM, gmAddress(raw, 0), 0, 1,
                2 * 2 * tr * tc * 4);
  ASSERT_TRUE(h.run()) << h.error;
  EXPECT_EQ(h.read<float>(back), matrix);
  std::vector<float> tiles(2 * 2 * tr * tc, 0.0f), plusOne(matrix);
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c)
      tiles[fractalIndex(r, c, cols, tr, tc)] = matrix[r * cols + c];
  for (float &x : plusOne)
    x += 1;
  EXPECT_EQ(h.read<float>(raw), tiles);
  EXPECT_EQ(h.read<float>(added), plusOne);
}

TEST(SimulatorResults, TransposedFractal) {
  // A 19 x 13 f32 matrix (keys x values) into the tiles of its 13 x 19
  // transpose, as the attention's values become the cube's B operand.
  const size_t rows = 19, cols = 13, tr = 16, tc = 8;
  std::vector<float> matrix(rows * cols);
  for (size_t i = 0; i < matrix.size(); ++i)
    matrix[i] = float(i) + 1;
  SimHarness h;
  uint32_t in = h.segmentOf(SegmentKind::Input, matrix);
  const size_t tiles = ((cols + tr - 1) / tr) * ((rows + tc - 1) / tc);
  uint32_t raw = h.segment(SegmentKind::Output, zeros(tiles * tr * tc * 4));
  h.core(0)
      .op(Opcode::DMA_ND_TO_FRACTAL,
          {0, int64_t(gmAddress(in, 0)), int64_t(rows), int64_t(cols),
           int64_t(cols * 4), int64_t(tr), int64_t(tc)},
          pathCode(Space::GM, Space::L1), uint8_t(ElemType::F32) | 16)
      .flag(Pipe::MTE2, Pipe::MTE3)
      .dma(Space::L1, Space::GM, gmAddress(raw, 0), 0, 1,
           int64_t(tiles * tr * tc * 4));
  ASSERT_TRUE(h.run()) << h.error;
  std::vector<float> expected(tiles * tr * tc, 0.0f);
  for (size_t r = 0; r < cols; ++r)
    for (size_t c = 0; c < rows; ++c)
      expected[fractalIndex(r, c, rows, tr, tc)] = matrix[c * cols + r];
  EXPECT_EQ(h.read<float>(raw), expected);
}

TEST(SimulatorResults, StateIsAsLargeAsItsBinding) {
  // A state segment declares 0 bytes: the bound buffer (a KV cache of the
  // binary's --ctx-size) is its size, written in place, bounds-checked.
  SimHarness h;
  uint32_t state = h.segment(SegmentKind::State, zeros(256));
  h.program.segments[state].bytes = 0;
  h.core(0)
      .op(Opcode::S_MOV, {1, 7})
      .op(Opcode::S_STORE, {0, int64_t(gmAddress(state, 252)), 0},
          uint8_t(Space::GM))
      .reg(2, 1);
  ASSERT_TRUE(h.run()) << h.error;
  EXPECT_EQ(h.read<int32_t>(state)[63], 7);
  h.core(0).op(Opcode::S_STORE, {0, int64_t(gmAddress(state, 256)), 0},
               uint8_t(Space::GM));
  EXPECT_FALSE(h.run());
  EXPECT_NE(h.error.find("out of range"), std::string::npos) << h.error;
}

/// m x k A and n x k B of `type` to fractal tiles, MMAD (twice when
/// `twice`: the second accumulates), C back to ND; compared with f32 (or
/// i32) sums in k order.
template <typename Make>
void checkMmad(ElemType type, unsigned cm, unsigned ck, unsigned cn, bool twice,
               Make make) {
  const size_t m = 20, k = 40, n = 17;
  unsigned eb = elemTypeBytes(type);
  std::mt19937 rng(42);
  std::vector<uint8_t> a(m * k * eb), b(n * k * eb);
  std::vector<double> av(m * k), bv(n * k);
  for (size_t i = 0; i < m * k; ++i)
    av[i] = make(rng, a.data() + i * eb);
  for (size_t i = 0; i < n * k; ++i)
    bv[i] = make(rng, b.data() + i * eb);
  SimHarness h;
  uint32_t sa = h.segment(SegmentKind::Input, a);
  uint32_t sb = h.segment(SegmentKind::Weight, b);
  uint32_t sc = h.segment(SegmentKind::Output, zeros(m * n * 4));
  StreamBuilder &s = h.core(0);
  s.op(Opcode::DMA_ND_TO_FRACTAL,
       {0, int64_t(gmAddress(sa, 0)), m, k, int64_t(k * eb), cm, ck},
       pathCode(Space::GM, Space::L0A), uint8_t(type))
      .op(Opcode::DMA_ND_TO_FRACTAL,
          {0, int64_t(gmAddress(sb, 0)), n, k, int64_t(k * eb), cn, ck},
          pathCode(Space::GM, Space::L0B), uint8_t(type))
      .flag(Pipe::MTE2, Pipe::M)
      .mmad(type, 0, 0, 0, m, k, n);
  if (twice)
    s.mmad(type, 0, 0, 0, m, k, n, true);
  s.flag(Pipe::M, Pipe::MTE3)
      .op(Opcode::DMA_FRACTAL_TO_ND,
          {int64_t(gmAddress(sc, 0)), 0, m, n, int64_t(n * 4), cm, cn},
          pathCode(Space::L0C, Space::GM));
  ASSERT_TRUE(h.run()) << h.error;
  bool integer = type == ElemType::I8;
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) {
      float acc = 0;
      uint32_t iacc = 0;
      for (int pass = 0; pass < (twice ? 2 : 1); ++pass)
        for (size_t x = 0; x < k; ++x) {
          if (integer) {
            iacc += uint32_t(int32_t(av[i * k + x]) * int32_t(bv[j * k + x]));
          } else {
            float product = float(av[i * k + x]) * float(bv[j * k + x]);
            acc = acc + product;
          }
        }
      if (integer)
        ASSERT_EQ(h.read<int32_t>(sc)[i * n + j], int32_t(iacc));
      else
        ASSERT_EQ(floatBits(h.read<float>(sc)[i * n + j]), floatBits(acc))
            << i << ", " << j;
    }
}

TEST(SimulatorResults, MmadF16WithPadding) {
  checkMmad(
      ElemType::F16, 16, 16, 16, true, [](std::mt19937 &rng, uint8_t *to) {
        uint16_t x =
            floatToHalf(std::uniform_real_distribution<float>(-2, 2)(rng));
        std::memcpy(to, &x, 2);
        return double(halfToFloat(x));
      });
}

TEST(SimulatorResults, MmadBf16WithPadding) {
  checkMmad(ElemType::BF16, 16, 16, 16, false,
            [](std::mt19937 &rng, uint8_t *to) {
              uint16_t x = floatToBFloat16(
                  std::uniform_real_distribution<float>(-100, 100)(rng));
              std::memcpy(to, &x, 2);
              return double(bfloat16ToFloat(x));
            });
}

TEST(SimulatorResults, MmadI8WithPadding) {
  checkMmad(ElemType::I8, 16, 32, 16, true, [](std::mt19937 &rng, uint8_t *to) {
    int8_t x = int8_t(rng());
    *to = uint8_t(x);
    return double(x);
  });
}

TEST(SimulatorResults, CubeArithmeticOff) {
  // Timing and races still run; C is left as it was.
  SimHarness h;
  h.options.cubeArithmetic = false;
  h.core(0).mmad(ElemType::F16, 0, 0, 0, 20, 40, 17);
  ASSERT_TRUE(h.run()) << h.error;
  EXPECT_EQ(h.stats.cycles, 12u);
}

//===----------------------------------------------------------------------===//
// HalfFloat
//===----------------------------------------------------------------------===//

TEST(HalfFloat, EveryHalfRoundTrips) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    float value = halfToFloat(uint16_t(bits));
    if (std::isnan(value))
      EXPECT_EQ(floatToHalf(value) & 0x7e00, 0x7e00);
    else
      ASSERT_EQ(floatToHalf(value), bits);
  }
}

TEST(HalfFloat, MatchesTheCompilersF16) {
  // Every 4099th f32 bit pattern against clang's _Float16 conversion.
  for (uint64_t bits = 0; bits < (uint64_t(1) << 32); bits += 4099) {
    float value = bitsFloat(uint32_t(bits));
    if (std::isnan(value))
      continue;
    _Float16 reference = _Float16(value);
    uint16_t expected;
    std::memcpy(&expected, &reference, 2);
    ASSERT_EQ(floatToHalf(value), expected) << std::hex << bits;
  }
}

TEST(HalfFloat, BFloat16RoundsToNearestEven) {
  // Against the nearer of the two bf16 neighbours, worked out in double.
  for (uint64_t bits = 0; bits < (uint64_t(1) << 32); bits += 4099) {
    float value = bitsFloat(uint32_t(bits));
    if (std::isnan(value) || std::isinf(value))
      continue;
    uint32_t low = uint32_t(bits) & 0xffff0000u, high = low + 0x10000;
    // Past the largest finite bf16 the upper neighbour is 2^128 (inf).
    double highValue = (high & 0x7fffffff) == 0x7f800000
                           ? std::copysign(0x1p128, double(value))
                           : double(bitsFloat(high));
    double toLow = std::fabs(double(value) - double(bitsFloat(low)));
    double toHigh = std::fabs(highValue - double(value));
    uint32_t expected =
        toLow < toHigh || (toLow == toHigh && !(low & 0x10000)) ? low : high;
    ASSERT_EQ(floatToBFloat16(value), expected >> 16) << std::hex << bits;
  }
  EXPECT_EQ(floatToBFloat16(INFINITY), 0x7f80);
  EXPECT_TRUE(
      std::isnan(bfloat16ToFloat(floatToBFloat16(bitsFloat(0x7f800001)))));
}

} // namespace
