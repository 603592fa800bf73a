//===- ChipDescriptionTest.cpp - The NPU chip description file ------------===//
//
// The default chip's figures, the print/parse round trip, and one test per
// kind of error: each is refused with a message naming the line and key.
//
//===----------------------------------------------------------------------===//

#include "machine/ChipDescription.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <tuple>

using namespace moec::npu;

namespace {

/// A small valid description; the error tests edit one line of it.
const char *const kBase = R"(# a test chip
moec-npu-chip 1
name = test
clock_ghz = 1.0
ai_cores = 2
cube f16 = 16x16x16 -> f32       # trailing comment
cube i8 = 16x32x16 -> i32
vector_bytes_per_cycle = 256
vector_startup_cycles = 8
vector_transcendental_cycles = 4
buffer l1 = 1MiB
buffer l0a = 64KiB
buffer l0b = 64 KiB
buffer l0c = 262144
buffer ub = 256KiB
dma gm -> l1 = mte2 128 500
dma gm->ub = mte2 128 500
dma l1 -> l0a = mte1 512 20
dma l1 -> l0b = mte1 512 20
dma l0c -> ub = v 256 20
dma ub -> gm = mte3 128 500
gm_bytes_per_cycle = 1200
scalar_gm_latency_cycles = 500
)";

/// kBase with the line starting with `prefix` replaced by `line` (removed
/// when `line` is empty), or with `line` appended when `prefix` is empty.
std::string edit(const std::string &prefix, const std::string &line,
                 std::string text = kBase) {
  if (prefix.empty())
    return text + line + "\n";
  size_t at = text.find("\n" + prefix);
  EXPECT_NE(at, std::string::npos) << prefix;
  size_t end = text.find('\n', at + 1);
  return text.replace(at + 1, end - at, line.empty() ? "" : line + "\n");
}

std::string parseError(const std::string &text) {
  ChipDescription chip;
  std::string error;
  EXPECT_FALSE(parseChipDescription(text, chip, error)) << text;
  return error;
}

TEST(ChipDescription, DefaultChipHasThePublishedFigures) {
  ChipDescription chip;
  std::string error;
  ASSERT_TRUE(readChipDescription(MOEC_NPU_DEFAULT_CHIP, chip, error)) << error;
  EXPECT_EQ(chip.name, "davinci-ref");
  EXPECT_EQ(chip.clockGHz, 1.0);
  EXPECT_EQ(chip.aiCores, 32u);
  ASSERT_EQ(chip.cubes.size(), 3u);
  for (auto [input, acc, k] : {std::tuple{ElemType::F16, ElemType::F32, 16u},
                               {ElemType::BF16, ElemType::F32, 16u},
                               {ElemType::I8, ElemType::I32, 32u}}) {
    const CubeShape *cube = chip.findCube(input);
    ASSERT_TRUE(cube) << elemTypeName(input);
    EXPECT_EQ(cube->accumulator, acc);
    EXPECT_EQ(cube->m, 16u);
    EXPECT_EQ(cube->k, k);
    EXPECT_EQ(cube->n, 16u);
  }
  EXPECT_FALSE(chip.findCube(ElemType::F32));
  EXPECT_EQ(chip.vectorBytesPerCycle, 256u);
  EXPECT_EQ(chip.vectorStartupCycles, 8u);
  EXPECT_EQ(chip.vectorTranscendentalCycles, 4u);
  EXPECT_EQ(chip.spaceBytes[int(Space::L1)], 1u << 20);
  EXPECT_EQ(chip.spaceBytes[int(Space::L0A)], 64u << 10);
  EXPECT_EQ(chip.spaceBytes[int(Space::L0B)], 64u << 10);
  EXPECT_EQ(chip.spaceBytes[int(Space::L0C)], 256u << 10);
  EXPECT_EQ(chip.spaceBytes[int(Space::UB)], 256u << 10);
  EXPECT_EQ(chip.gmBytesPerCycle, 1200.0);
  EXPECT_EQ(chip.scalarGmLatencyCycles, 500u);
  EXPECT_DOUBLE_EQ(chip.gmBytesPerSecond(), 1.2e12);
  // 2 * 4096 multiply-adds * 1 GHz * 32 cores; int8 twice that.
  EXPECT_DOUBLE_EQ(chip.peakOpsPerSecond(ElemType::F16), 262.144e12);
  EXPECT_DOUBLE_EQ(chip.peakOpsPerSecond(ElemType::I8), 524.288e12);
  EXPECT_EQ(chip.peakOpsPerSecond(ElemType::F32), 0);

  struct Expected {
    Space from, to;
    Pipe engine;
    double bytesPerCycle;
    unsigned latency;
  } paths[] = {{Space::GM, Space::L1, Pipe::MTE2, 128, 500},
               {Space::GM, Space::UB, Pipe::MTE2, 128, 500},
               {Space::L1, Space::L0A, Pipe::MTE1, 512, 20},
               {Space::L1, Space::L0B, Pipe::MTE1, 512, 20},
               {Space::UB, Space::GM, Pipe::MTE3, 128, 500},
               {Space::UB, Space::L1, Pipe::MTE3, 128, 20},
               {Space::L0C, Space::UB, Pipe::V, 256, 20},
               {Space::L0C, Space::GM, Pipe::MTE3, 128, 500}};
  EXPECT_EQ(chip.dmaPaths.size(), std::size(paths));
  for (const Expected &e : paths) {
    const DmaPath *path = chip.findPath(e.from, e.to);
    ASSERT_TRUE(path) << spaceName(e.from) << " -> " << spaceName(e.to);
    EXPECT_EQ(path->engine, e.engine);
    EXPECT_EQ(path->bytesPerCycle, e.bytesPerCycle);
    EXPECT_EQ(path->latencyCycles, e.latency);
  }
  EXPECT_FALSE(chip.findPath(Space::GM, Space::GM));
  EXPECT_TRUE(validateChipDescription(chip, error)) << error;
}

TEST(ChipDescription, Names) {
  EXPECT_STREQ(spaceName(Space::L0C), "l0c");
  EXPECT_STREQ(pipeName(Pipe::MTE2), "mte2");
  EXPECT_STREQ(elemTypeName(ElemType::BF16), "bf16");
  EXPECT_STREQ(spaceName(Space(17)), "?");
  unsigned bytes[] = {4, 2, 2, 1, 4, 1};
  for (int type = 0; type < 6; ++type)
    EXPECT_EQ(elemTypeBytes(ElemType(type)), bytes[type]);
}

TEST(ChipDescription, PrintParsesBackToTheSameChip) {
  ChipDescription chip, again;
  std::string error;
  ASSERT_TRUE(readChipDescription(MOEC_NPU_DEFAULT_CHIP, chip, error)) << error;
  std::string printed = printChipDescription(chip);
  ASSERT_TRUE(parseChipDescription(printed, again, error)) << error;
  EXPECT_TRUE(again == chip);
  EXPECT_EQ(printChipDescription(again), printed);

  // Figures that are not round in binary or in KiB still come back exactly.
  ChipDescription odd = chip;
  odd.clockGHz = 1.3;
  odd.gmBytesPerCycle = 0.1 + 0.2;
  odd.dmaPaths[0].bytesPerCycle = 1.0 / 3.0;
  odd.spaceBytes[int(Space::UB)] = 250000;
  odd.spaceBytes[int(Space::L1)] = 3 << 10;
  ASSERT_TRUE(validateChipDescription(odd, error)) << error;
  ASSERT_TRUE(parseChipDescription(printChipDescription(odd), again, error))
      << error;
  EXPECT_TRUE(again == odd);
  EXPECT_TRUE(again != chip);
}

TEST(ChipDescription, CommentsBlankLinesAndCrlf) {
  std::string text = "\xEF\xBB\xBF# byte order mark, then comments\n\n";
  for (char c : std::string(kBase)) {
    if (c == '\n')
      text += " \t\r";
    text += c;
  }
  ChipDescription chip;
  std::string error;
  ASSERT_TRUE(parseChipDescription(text, chip, error)) << error;
  EXPECT_EQ(chip.spaceBytes[int(Space::L0C)], 262144u);
  EXPECT_EQ(chip.spaceBytes[int(Space::L0B)], 65536u);
  // l0c may leave straight to GM instead of through UB.
  EXPECT_TRUE(parseChipDescription(
      edit("dma l0c -> ub", "dma l0c -> gm = mte3 128 500"), chip, error))
      << error;
}

TEST(ChipDescription, FailureLeavesTheChipAlone) {
  ChipDescription chip;
  chip.name = "untouched";
  std::string error;
  EXPECT_FALSE(
      parseChipDescription(edit("ai_cores", "ai_cores = 0"), chip, error));
  EXPECT_EQ(chip.name, "untouched");
}

struct ErrorCase {
  const char *name;
  std::string text;
  std::string message;
};

class ChipDescriptionError : public testing::TestWithParam<ErrorCase> {};

TEST_P(ChipDescriptionError, IsRefusedNamingLineAndKey) {
  EXPECT_EQ(parseError(GetParam().text), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Errors, ChipDescriptionError,
    testing::Values(
        ErrorCase{"UnknownKey", edit("", "clock_mhz = 1000"),
                  "line 24: key 'clock_mhz': unknown key"},
        ErrorCase{"DuplicateKey", edit("", "ai_cores = 4"),
                  "line 24: key 'ai_cores': duplicate key (first on line 5)"},
        ErrorCase{"DuplicateCube", edit("", "cube f16 = 16x16x16 -> f32"),
                  "line 24: key 'cube f16': duplicate key (first on line 6)"},
        ErrorCase{"DuplicatePath", edit("", "dma gm -> ub = mte3 64 10"),
                  "line 24: key 'dma gm -> ub': duplicate key (first on line "
                  "17)"},
        ErrorCase{"MissingKey", edit("buffer ub", ""),
                  "line 22 (end of file): key 'buffer ub': required key is "
                  "missing"},
        ErrorCase{"MissingName", edit("name", ""),
                  "line 22 (end of file): key 'name': required key is "
                  "missing"},
        ErrorCase{"NoCube", edit("cube i8", "", edit("cube f16", "")),
                  "line 21 (end of file): key 'cube f16': at least one 'cube "
                  "<type>' key is required"},
        ErrorCase{"MissingPath", edit("dma l1 -> l0b", ""),
                  "line 22 (end of file): key 'dma l1 -> l0b': required path "
                  "is missing"},
        ErrorCase{"MissingL0cPath", edit("dma l0c", ""),
                  "line 22 (end of file): key 'dma l0c -> ub': required path "
                  "is missing (or 'dma l0c -> gm')"},
        ErrorCase{"BadNumber", edit("ai_cores", "ai_cores = 3x"),
                  "line 5: key 'ai_cores': '3x' is not a number"},
        ErrorCase{"BadReal", edit("clock_ghz", "clock_ghz = 1e9"),
                  "line 4: key 'clock_ghz': '1e9' is not a number"},
        ErrorCase{"NoNumber", edit("ai_cores", "ai_cores ="),
                  "line 5: key 'ai_cores': a number is missing"},
        ErrorCase{"NegativeCount", edit("ai_cores", "ai_cores = -2"),
                  "line 5: key 'ai_cores': '-2' is negative"},
        ErrorCase{"NegativeSize", edit("buffer l1", "buffer l1 = -1KiB"),
                  "line 11: key 'buffer l1': '-1KiB' is negative"},
        ErrorCase{"NegativeReal", edit("clock_ghz", "clock_ghz = -1.5"),
                  "line 4: key 'clock_ghz': '-1.5' is negative"},
        ErrorCase{"ZeroSize", edit("buffer l0a", "buffer l0a = 0KiB"),
                  "line 12: key 'buffer l0a': 0 must be positive"},
        ErrorCase{"ZeroCores", edit("ai_cores", "ai_cores = 0"),
                  "line 5: key 'ai_cores': 0 must be positive"},
        ErrorCase{"ZeroClock", edit("clock_ghz", "clock_ghz = 0.0"),
                  "line 4: key 'clock_ghz': 0 must be positive"},
        ErrorCase{"ZeroBandwidth",
                  edit("dma gm -> l1", "dma gm -> l1 = mte2 0 5"),
                  "line 16: key 'dma gm -> l1': bytes per cycle 0 must be "
                  "positive"},
        ErrorCase{"UnknownUnit", edit("buffer l1", "buffer l1 = 1MB"),
                  "line 11: key 'buffer l1': '1MB' has an unknown unit "
                  "(units: KiB, MiB, GiB)"},
        ErrorCase{"WrongVersion",
                  std::string("moec-npu-chip 2\n") + (strchr(kBase, '\n') + 1),
                  "line 1: key 'moec-npu-chip': version '2' is not "
                  "supported; this moec reads version 1"},
        ErrorCase{"NoVersionLine", std::string(strstr(kBase, "name")),
                  "line 1: expected the version line 'moec-npu-chip 1' "
                  "first, not 'name = test'"},
        ErrorCase{"EmptyFile", "# nothing\n",
                  "line 1 (end of file): expected the version line "
                  "'moec-npu-chip 1'"},
        ErrorCase{"UnknownSpace", edit("buffer l1", "buffer l2 = 1MiB"),
                  "line 11: key 'buffer l2': unknown space 'l2' (spaces: "
                  "l1, l0a, l0b, l0c, ub)"},
        ErrorCase{"GlobalMemoryBuffer", edit("", "buffer gm = 1MiB"),
                  "line 24: key 'buffer gm': global memory has no size here"},
        ErrorCase{"UnknownPathSpace",
                  edit("dma gm -> l1", "dma hbm -> l1 = "
                                       "mte2 128 500"),
                  "line 16: key 'dma hbm -> l1': unknown space 'hbm' "
                  "(spaces: gm, l1, l0a, l0b, l0c, ub)"},
        ErrorCase{"PathToItself", edit("", "dma ub -> ub = v 128 1"),
                  "line 24: key 'dma ub -> ub': a path from a space to "
                  "itself"},
        ErrorCase{"UnknownPipe",
                  edit("dma gm -> l1", "dma gm -> l1 = mte4 "
                                       "128 500"),
                  "line 16: key 'dma gm -> l1': unknown engine 'mte4' "
                  "(engines: mte1, mte2, mte3, v)"},
        ErrorCase{"PipeThatCannotCopy",
                  edit("dma gm -> l1", "dma gm -> l1 "
                                       "= m 128 500"),
                  "line 16: key 'dma gm -> l1': engine 'm' cannot copy "
                  "(engines: mte1, mte2, mte3, v)"},
        ErrorCase{"PathFields", edit("dma gm -> l1", "dma gm -> l1 = mte2 128"),
                  "line 16: key 'dma gm -> l1': expected '<engine> <bytes "
                  "per cycle> <latency cycles>'"},
        ErrorCase{"UnknownType", edit("cube i8", "cube fp8 = 16x32x16 -> f32"),
                  "line 7: key 'cube fp8': unknown type 'fp8' (cube types: "
                  "f16, bf16, i8)"},
        ErrorCase{"TypeWithoutCube",
                  edit("cube i8", "cube f32 = 16x8x16 -> "
                                  "f32"),
                  "line 7: key 'cube f32': type 'f32' has no cube (cube "
                  "types: f16, bf16, i8)"},
        ErrorCase{"UnknownAccumulator",
                  edit("cube i8", "cube i8 = 16x32x16 "
                                  "-> i64"),
                  "line 7: key 'cube i8': unknown type 'i64'"},
        ErrorCase{"WrongAccumulator",
                  edit("cube f16", "cube f16 = 16x16x16 "
                                   "-> i32"),
                  "line 6: key 'cube f16': accumulator 'i32' for f16 inputs "
                  "must be 'f32'"},
        ErrorCase{"CubeKNot32Bytes",
                  edit("cube i8", "cube i8 = 16x16x16 -> "
                                  "i32"),
                  "line 7: key 'cube i8': k = 16 is 16 bytes of i8, not a "
                  "multiple of 32 bytes"},
        ErrorCase{"CubeMNot16", edit("cube f16", "cube f16 = 8x16x16 -> f32"),
                  "line 6: key 'cube f16': m = 8 must be a multiple of 16"},
        ErrorCase{"CubeShapeSyntax",
                  edit("cube f16", "cube f16 = 16x16 -> "
                                   "f32"),
                  "line 6: key 'cube f16': expected 'MxKxN -> <accumulator "
                  "type>'"},
        ErrorCase{"CubeTooBig",
                  edit("cube f16", "cube f16 = 16x16x8192 -> "
                                   "f32"),
                  "line 6: key 'cube f16': n = 8192 is out of range (at most "
                  "4096)"},
        ErrorCase{"TileDoesNotFit", edit("buffer l0a", "buffer l0a = 256"),
                  "line 6: key 'cube f16': its A tile (512 bytes) does not "
                  "fit l0a (256 bytes)"},
        ErrorCase{"OverflowingCount",
                  edit("ai_cores", "ai_cores = 99999999999999999999999"),
                  "line 5: key 'ai_cores': '99999999999999999999999' is out "
                  "of range"},
        ErrorCase{"OverflowingReal",
                  edit("clock_ghz", "clock_ghz = 1" + std::string(400, '0')),
                  "line 4: key 'clock_ghz': '1" + std::string(47, '0') +
                      "...' is out of range"},
        ErrorCase{"TooManyCores", edit("ai_cores", "ai_cores = 4097"),
                  "line 5: key 'ai_cores': 4097 is out of range (at most "
                  "4096)"},
        ErrorCase{"TooMuchBandwidth",
                  edit("gm_bytes_per_cycle", "gm_bytes_per_cycle = 1000001"),
                  "line 22: key 'gm_bytes_per_cycle': 1000001 is out of "
                  "range (at most 1000000)"},
        ErrorCase{"TooMuchLatency",
                  edit("dma gm -> l1", "dma gm -> l1 = mte2 128 1000001"),
                  "line 16: key 'dma gm -> l1': latency 1000001 is out of "
                  "range (at most 1000000)"},
        ErrorCase{"SizeAt2To40", edit("buffer l1", "buffer l1 = 1099511627776"),
                  "line 11: key 'buffer l1': 1099511627776 is out of range "
                  "(below 2^40 bytes)"},
        ErrorCase{"SizeAt2To40WithUnit",
                  edit("buffer l1", "buffer l1 = "
                                    "1048576MiB"),
                  "line 11: key 'buffer l1': '1048576MiB' is out of range "
                  "(below 2^40 bytes)"},
        ErrorCase{"SizeOverflowingWithUnit",
                  edit("buffer l1", "buffer l1 = 18446744073709551615GiB"),
                  "line 11: key 'buffer l1': '18446744073709551615GiB' is "
                  "out of range (below 2^40 bytes)"},
        ErrorCase{"BadName", edit("name", "name = my chip"),
                  "line 3: key 'name': 'my chip' must be 1 to 64 of A-Z a-z "
                  "0-9 . _ -"},
        ErrorCase{"NoEquals", edit("ai_cores", "ai_cores 2"),
                  "line 5: expected 'key = value', not 'ai_cores 2'"},
        ErrorCase{"ControlBytesEscaped", edit("", "bad\x01key = 1"),
                  "line 24: key 'bad\\x01key': unknown key"},
        ErrorCase{"LineOver4096Bytes",
                  edit("", "# " + std::string(kMaxChipLineBytes - 1, 'x')),
                  "line 24: longer than 4096 bytes"}),
    [](const testing::TestParamInfo<ErrorCase> &info) {
      return std::string(info.param.name);
    });

TEST(ChipDescription, SizeLimits) {
  // A line of exactly 4096 bytes is fine; the test above refuses 4097.
  ChipDescription chip;
  std::string error;
  std::string text = edit("", "# " + std::string(kMaxChipLineBytes - 2, 'x'));
  EXPECT_TRUE(parseChipDescription(text, chip, error)) << error;
  while (text.size() < kMaxChipDescriptionBytes)
    text += "\n";
  EXPECT_TRUE(parseChipDescription(text, chip, error)) << error;
  text += "\n";
  EXPECT_EQ(parseError(text),
            "the description is 1048577 bytes, over the 1 MiB limit");
}

TEST(ChipDescription, ValidateNamesTheKey) {
  ChipDescription chip;
  std::string error;
  ASSERT_TRUE(readChipDescription(MOEC_NPU_DEFAULT_CHIP, chip, error)) << error;
  ChipDescription bad = chip;
  bad.aiCores = 0;
  EXPECT_FALSE(validateChipDescription(bad, error));
  EXPECT_EQ(error, "key 'ai_cores': 0 must be positive");
  bad = chip;
  bad.cubes.push_back(chip.cubes[0]);
  EXPECT_FALSE(validateChipDescription(bad, error));
  EXPECT_EQ(error, "key 'cube f16': duplicate key");
  bad = chip;
  bad.dmaPaths[0].engine = Pipe::S;
  EXPECT_FALSE(validateChipDescription(bad, error));
  EXPECT_EQ(error, "key 'dma gm -> l1': engine 's' cannot copy (engines: "
                   "mte1, mte2, mte3, v)");
  bad = chip;
  bad.spaceBytes[int(Space::UB)] = uint64_t(1) << 40;
  EXPECT_FALSE(validateChipDescription(bad, error));
  EXPECT_EQ(error, "key 'buffer ub': 1099511627776 is out of range (below "
                   "2^40 bytes)");
}

TEST(ChipDescription, ReadRefusesWhatIsNotARegularFile) {
  ChipDescription chip;
  std::string error;
  EXPECT_FALSE(readChipDescription("/nonexistent/x.chip", chip, error));
  EXPECT_EQ(error.rfind("/nonexistent/x.chip: cannot open", 0), 0u) << error;
  EXPECT_FALSE(readChipDescription("/", chip, error));
  EXPECT_EQ(error, "/: not a regular file");

  std::string path = testing::TempDir() + "bad.chip";
  std::ofstream(path) << edit("ai_cores", "ai_cores = x");
  EXPECT_FALSE(readChipDescription(path, chip, error));
  EXPECT_EQ(error, path + ": line 5: key 'ai_cores': 'x' is not a number");
  std::remove(path.c_str());
}

} // namespace
