//===- CommandStreamTest.cpp - The NPU command stream's encoding ----------===//
//
// The file layout CommandStream.h states, a round trip, and one test per
// refusal of the decoder. With MOEC_NPU_STREAM_SEEDS=DIR set, also writes
// the fuzzer's seeds (test/fuzz/corpus-stream) to DIR.
//
//===----------------------------------------------------------------------===//

#include "StreamBuilder.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

using namespace moec::npu;
using namespace moec::npu::testing;

namespace {

/// Two segments (a one-byte name and a longer one), a core with a loop,
/// an empty core and a core with negative operands and registers.
Program sampleProgram() {
  Program program;
  program.segments = {{SegmentKind::Input, 4096, "x"},
                      {SegmentKind::Weight, uint64_t(1) << 40, "w.layer0"},
                      {SegmentKind::Workspace, 64, ""}};
  StreamBuilder a, c;
  a.op(Opcode::LOOP_BEGIN, {1, 4})
      .dma(Space::GM, Space::UB, 0, int64_t(gmAddress(0, 64)), 2, 32, 64, 32)
      .reg(1, 1)
      .set(Pipe::MTE2, Pipe::V, 7)
      .op(Opcode::LOOP_END, {});
  c.op(Opcode::S_MOV, {31, -5})
      .op(Opcode::V_ADD, {-1, INT64_MIN, INT64_MAX, 3, 4, 5, 6, 7},
          uint8_t(ElemType::BF16), 3)
      .reg(7, 31);
  program.cores = {a.commands, {}, c.commands};
  return program;
}

bool sameCommand(const Command &x, const Command &y) {
  return x.opcode == y.opcode && x.dtype == y.dtype && x.flags == y.flags &&
         std::equal(x.reg, x.reg + kOperandCount, y.reg) &&
         std::equal(x.arg, x.arg + kOperandCount, y.arg);
}

std::string decodeError(const std::string &bytes) {
  Program program;
  std::string error;
  if (decodeProgram(reinterpret_cast<const uint8_t *>(bytes.data()),
                    bytes.size(), program, error))
    return "(decoded)";
  EXPECT_TRUE(program.cores.empty() && program.segments.empty());
  return error;
}

/// The decode error of `program` with `command` as core 0's only command.
std::string commandError(const Command &command) {
  Program program;
  program.cores = {{command}};
  return decodeError(encodeProgram(program));
}

void put32(std::string &bytes, size_t at, uint32_t value) {
  for (int i = 0; i < 4; ++i)
    bytes[at + i] = char(value >> (8 * i));
}

void put64(std::string &bytes, size_t at, uint64_t value) {
  for (int i = 0; i < 8; ++i)
    bytes[at + i] = char(value >> (8 * i));
}

#define EXPECT_ERROR(bytes, message)                                           \
  do {                                                                         \
    std::string error = decodeError(bytes);                                    \
    EXPECT_NE(error.find(message), std::string::npos) << error;                \
  } while (0)

TEST(CommandStream, LayoutIsAsDocumented) {
  Program program;
  program.segments = {{SegmentKind::Output, 256, "x"}};
  program.cores = {{makeCommand(Opcode::S_MOV, {3, -2})}};
  program.cores[0][0].reg[1] = 9;
  std::string bytes = encodeProgram(program);
  // Header 24, segment 20 + 1 name byte padded to 24, count 8, command 80.
  ASSERT_EQ(bytes.size(), 24u + 24 + 8 + 80);
  EXPECT_EQ(bytes.substr(0, 8), std::string("MOECNPU\0", 8));
  EXPECT_EQ(bytes[8], 2);           // version
  EXPECT_EQ(bytes[12], 1);          // cores
  EXPECT_EQ(bytes[16], 1);          // segments
  EXPECT_EQ(bytes[24], 2);          // kind Output
  EXPECT_EQ(uint8_t(bytes[33]), 1); // 256 bytes
  EXPECT_EQ(bytes[40], 1);          // name length
  EXPECT_EQ(bytes[44], 'x');
  EXPECT_EQ(bytes[48], 1);             // command count
  EXPECT_EQ(bytes[56], 1);             // opcode S_MOV
  EXPECT_EQ(bytes[64 + 1], 9);         // reg[1]
  EXPECT_EQ(bytes[72], 3);             // arg0
  EXPECT_EQ(uint8_t(bytes[80]), 0xfe); // arg1 = -2
  EXPECT_EQ(uint8_t(bytes[87]), 0xff);
}

TEST(CommandStream, RoundTrips) {
  Program program = sampleProgram();
  std::string bytes = encodeProgram(program);
  Program decoded;
  std::string error;
  ASSERT_TRUE(decodeProgram(reinterpret_cast<const uint8_t *>(bytes.data()),
                            bytes.size(), decoded, error))
      << error;
  ASSERT_EQ(decoded.segments.size(), program.segments.size());
  for (size_t i = 0; i < program.segments.size(); ++i) {
    EXPECT_EQ(decoded.segments[i].kind, program.segments[i].kind);
    EXPECT_EQ(decoded.segments[i].bytes, program.segments[i].bytes);
    EXPECT_EQ(decoded.segments[i].name, program.segments[i].name);
  }
  ASSERT_EQ(decoded.cores.size(), program.cores.size());
  for (size_t c = 0; c < program.cores.size(); ++c) {
    ASSERT_EQ(decoded.cores[c].size(), program.cores[c].size());
    for (size_t i = 0; i < program.cores[c].size(); ++i)
      EXPECT_TRUE(sameCommand(decoded.cores[c][i], program.cores[c][i]));
  }
  EXPECT_EQ(encodeProgram(decoded), bytes);
}

TEST(CommandStream, OpcodeNames) {
  EXPECT_STREQ(opcodeName(Opcode::DMA_ND_TO_FRACTAL), "DMA_ND_TO_FRACTAL");
  EXPECT_STREQ(opcodeName(Opcode::V_TOPK), "V_TOPK");
  EXPECT_STREQ(opcodeName(Opcode(99)), "?");
}

TEST(CommandStream, RefusesBadHeaders) {
  std::string good = encodeProgram(sampleProgram());
  EXPECT_ERROR(std::string(), "no 'MOECNPU' magic");
  EXPECT_ERROR(good.substr(0, 20), "no 'MOECNPU' magic");
  std::string bytes = good;
  bytes[0] = 'X';
  EXPECT_ERROR(bytes, "no 'MOECNPU' magic");
  bytes = good;
  put32(bytes, 8, 1);
  EXPECT_ERROR(bytes, "command stream format version 1, but this build "
                      "reads version 2");
  bytes = good;
  bytes[20] = 1;
  EXPECT_ERROR(bytes, "nonzero reserved bytes in the header");
  bytes = good;
  put32(bytes, 16, 1000);
  EXPECT_ERROR(bytes, "segment count 1000 is more than the file holds");
  put32(bytes, 16, 70000);
  EXPECT_ERROR(bytes, "segment count 70000 is more than 65536");
  bytes = good;
  put32(bytes, 12, 1u << 30);
  EXPECT_ERROR(bytes, "core count 1073741824 is more than the file holds");
  EXPECT_ERROR(good + std::string(8, '\0'), "8 bytes after the last core");
  EXPECT_ERROR(good.substr(0, good.size() - 1), "core 2: 2 commands");
}

TEST(CommandStream, RefusesBadSegments) {
  std::string good = encodeProgram(sampleProgram());
  std::string bytes = good;
  bytes[24] = 6;
  EXPECT_ERROR(bytes, "segment 0: kind 6 unknown");
  bytes = good;
  bytes[25] = 1;
  EXPECT_ERROR(bytes, "segment 0: truncated, or nonzero reserved bytes");
  bytes = good;
  put64(bytes, 32, (uint64_t(1) << 40) + 1);
  EXPECT_ERROR(bytes, "segment 0: 1099511627777 bytes, more than 2^40");
  bytes = good;
  put32(bytes, 40, 5000);
  EXPECT_ERROR(bytes, "segment 0: name of 5000 bytes is longer than 4096");
  bytes = good;
  put32(bytes, 40, 4000);
  EXPECT_ERROR(bytes, "segment 0: name of 4000 bytes runs past the end");
  bytes = good;
  bytes[45] = 1;
  EXPECT_ERROR(bytes, "segment 0: truncated, or nonzero padding");
  Program program;
  program.segments.resize(65537);
  std::string error;
  EXPECT_FALSE(validateProgram(program, error));
  EXPECT_EQ(error, "65537 segments, more than the 65536 addresses can name");
}

TEST(CommandStream, RefusesBadCounts) {
  Program program;
  program.cores = {{makeCommand(Opcode::S_MOV, {1, 1})}};
  std::string bytes = encodeProgram(program);
  put64(bytes, 24, (uint64_t(1) << 28) + 1);
  EXPECT_ERROR(bytes, "core 0: 268435457 commands, more than the 2^28 a core "
                      "may have");
  put64(bytes, 24, 2);
  EXPECT_ERROR(bytes, "core 0: 2 commands (160 bytes) but 80 bytes are left");
  put64(bytes, 24, 1);
  bytes[24 + 8 + 4] = 1;
  EXPECT_ERROR(bytes, "core 0, command 0 (S_MOV): nonzero reserved bytes");
}

TEST(CommandStream, RefusesBadCommands) {
  Command unknown = makeCommand(Opcode(99), {});
  EXPECT_EQ(commandError(unknown), "core 0, command 0: unknown opcode 99");
  Command reg = makeCommand(Opcode::V_ADD, {});
  reg.reg[3] = 32;
  EXPECT_EQ(commandError(reg), "core 0, command 0 (V_ADD): register index 32 "
                               "of reg[3] out of range (32 registers)");
  EXPECT_EQ(commandError(makeCommand(Opcode::S_LOAD, {32, 0})),
            "core 0, command 0 (S_LOAD): destination register 32 (arg0) out "
            "of range (32 registers)");
  EXPECT_EQ(commandError(makeCommand(Opcode::LOOP_BEGIN, {-1, 2})),
            "core 0, command 0 (LOOP_BEGIN): destination register -1 (arg0) "
            "out of range (32 registers)");
  EXPECT_EQ(commandError(makeCommand(Opcode::S_STORE, {0, 0, 0}, 6)),
            "core 0, command 0 (S_STORE): space 6 (dtype) unknown");
  EXPECT_EQ(commandError(makeCommand(Opcode::DMA_COPY, {}, 0x70)),
            "core 0, command 0 (DMA_COPY): dtype 112 names an unknown space "
            "(to 7, from 0)");
  EXPECT_EQ(commandError(makeCommand(Opcode::DMA_ND_TO_FRACTAL, {}, 0x10, 9)),
            "core 0, command 0 (DMA_ND_TO_FRACTAL): element type 9 and "
            "transpose bit 0 (flags) unknown");
  EXPECT_EQ(
      commandError(makeCommand(Opcode::DMA_ND_TO_FRACTAL, {}, 0x10, 0x21)),
      "core 0, command 0 (DMA_ND_TO_FRACTAL): element type 1 and transpose "
      "bit 2 (flags) unknown");
  EXPECT_EQ(commandError(makeCommand(Opcode::MMAD, {}, 6)),
            "core 0, command 0 (MMAD): element type 6 (dtype) unknown");
  EXPECT_EQ(commandError(makeCommand(Opcode::V_CAST, {}, 0, 0x70)),
            "core 0, command 0 (V_CAST): source element type 7 (flags >> 4) "
            "unknown");
  EXPECT_EQ(commandError(makeCommand(Opcode::SET_FLAG, {4, 6, 0})),
            "core 0, command 0 (SET_FLAG): pipe 6 (arg1) unknown (6 pipes)");
  EXPECT_EQ(commandError(makeCommand(Opcode::WAIT_FLAG, {4, 1, 8})),
            "core 0, command 0 (WAIT_FLAG): event 8 out of range (8 events)");
  // An event from a register is checked when it runs.
  Command fromRegister = makeCommand(Opcode::WAIT_FLAG, {4, 1, 8});
  fromRegister.reg[2] = 1;
  EXPECT_EQ(commandError(fromRegister), "(decoded)");
}

TEST(CommandStream, RefusesUnbalancedLoops) {
  Program program;
  StreamBuilder s;
  s.op(Opcode::S_MOV, {1, 1}).op(Opcode::LOOP_END, {});
  program.cores = {s.commands};
  EXPECT_ERROR(encodeProgram(program),
               "core 0, command 1 (LOOP_END): LOOP_END without a LOOP_BEGIN");
  StreamBuilder open;
  open.op(Opcode::LOOP_BEGIN, {1, 2})
      .op(Opcode::LOOP_BEGIN, {2, 2})
      .op(Opcode::LOOP_END, {});
  program.cores = {{}, open.commands};
  EXPECT_ERROR(encodeProgram(program),
               "core 1, command 0 (LOOP_BEGIN): LOOP_BEGIN without a LOOP_END");
  StreamBuilder deep;
  for (int i = 0; i < 17; ++i)
    deep.op(Opcode::LOOP_BEGIN, {1, 2});
  for (int i = 0; i < 17; ++i)
    deep.op(Opcode::LOOP_END, {});
  program.cores = {deep.commands};
  EXPECT_ERROR(encodeProgram(program),
               "core 0, command 16 (LOOP_BEGIN): loops nested more than 16 "
               "deep");
  deep.commands.erase(deep.commands.begin());
  deep.commands.pop_back();
  program.cores = {deep.commands};
  EXPECT_EQ(decodeError(encodeProgram(program)), "(decoded)");
}

/// The fuzzer's seeds: small valid programs (each under 4 KiB).
std::vector<std::pair<std::string, Program>> seedPrograms() {
  std::vector<std::pair<std::string, Program>> seeds;
  seeds.push_back({"seed_empty", Program()});
  seeds.push_back({"seed_sample", sampleProgram()});
  // Every opcode once, with valid fields.
  Program all;
  all.segments = {{SegmentKind::Output, 128, "out"}};
  StreamBuilder s;
  for (unsigned op = 1; op <= 66; ++op) {
    if (std::string(opcodeName(Opcode(op))) == "?" ||
        op == unsigned(Opcode::LOOP_END))
      continue;
    uint8_t dtype = op >= 30 && op < 40 ? pathCode(Space::GM, Space::UB) : 1;
    s.op(Opcode(op), {1, 2, 3, 4, 5, 6, 7, 8}, dtype);
    if (op == unsigned(Opcode::LOOP_BEGIN))
      s.op(Opcode::LOOP_END, {});
  }
  all.cores = {s.commands};
  seeds.push_back({"seed_every_opcode", all});
  return seeds;
}

TEST(CommandStream, SeedsDecode) {
  const char *dir = std::getenv("MOEC_NPU_STREAM_SEEDS");
  for (const auto &[name, program] : seedPrograms()) {
    std::string bytes = encodeProgram(program);
    EXPECT_LT(bytes.size(), 4096u);
    EXPECT_EQ(decodeError(bytes), "(decoded)") << name;
    if (dir)
      std::ofstream(std::string(dir) + "/" + name, std::ios::binary) << bytes;
  }
}

} // namespace
