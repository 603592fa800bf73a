//===- SimulatorTimingTest.cpp - The NPU simulator's time model -----------===//
//
// Cycle counts worked out by hand on the tiny chip of StreamBuilder.h (the
// working is in each test's comment), and the errors a wrong program gets.
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
// Time model
//===----------------------------------------------------------------------===//

TEST(SimulatorTiming, OneDma) {
  // Issued at 0; the engine is busy 1024 / 32 = 32 cycles (GM serves it in
  // 1024 / 64 = 16); the data is there 100 later: 132.
  SimHarness h;
  uint32_t in = h.segment(SegmentKind::Input, zeros(1024));
  h.core(0).dma(Space::GM, Space::UB, 0, gmAddress(in, 0), 1, 1024);
  ASSERT_TRUE(h.run()) << h.error;
  EXPECT_EQ(h.stats.cycles, 132u);
  EXPECT_EQ(h.pipe(0, Pipe::MTE2).busyCycles, 32u);
  EXPECT_EQ(h.pipe(0, Pipe::MTE2).commands, 1u);
  EXPECT_EQ(h.pipe(0, Pipe::S).busyCycles, 1u);
  EXPECT_EQ(h.stats.gmBytes, 1024u);
}

TEST(SimulatorTiming, TwoDmasPipelineOnOneEngine) {
  // The first occupies MTE2 0..32 (done at 132); the second, issued at 1,
  // starts when the engine frees at 32, occupies it to 64 and is done at
  // 164: the latencies overlap.
  SimHarness h;
  uint32_t in = h.segment(SegmentKind::Input, zeros(2048));
  h.core(0)
      .dma(Space::GM, Space::UB, 0, gmAddress(in, 0), 1, 1024)
      .dma(Space::GM, Space::UB, 1024, gmAddress(in, 1024), 1, 1024);
  ASSERT_TRUE(h.run()) << h.error;
  EXPECT_EQ(h.stats.cycles, 164u);
  EXPECT_EQ(h.pipe(0, Pipe::MTE2).busyCycles, 64u);
}

TEST(SimulatorTiming, CoresShareGmBandwidth) {
  // The path now moves 64 bytes a cycle, as fast as GM. One core, two
  // DMAs of 1024: GM serves them 0..16 and 16..32; done at 132.
  auto program = [](SimHarness &h, unsigned cores) {
    h.chip.dmaPaths[1].bytesPerCycle = 64; // GM -> UB
    uint32_t in = h.segment(SegmentKind::Input, zeros(2048));
    for (unsigned c = 0; c < cores; ++c)
      h.core(c)
          .dma(Space::GM, Space::UB, 0, gmAddress(in, 0), 1, 1024)
          .dma(Space::GM, Space::UB, 1024, gmAddress(in, 1024), 1, 1024);
  };
  SimHarness alone;
  program(alone, 1);
  ASSERT_TRUE(alone.run()) << alone.error;
  EXPECT_EQ(alone.stats.cycles, 132u);
  EXPECT_EQ(alone.pipe(0, Pipe::MTE2).busyCycles, 32u);
  // Two cores: GM serves 32 x 64 = 2048 bytes per 32-cycle bucket
  // (GmBandwidth.h). Core 0's first takes 1024 of bucket 0 at its engine's
  // 64 a cycle (0..16); core 1's first the other 1024, which fills the
  // bucket (done at its end, 32); core 0's second, at 16, finds bucket 0
  // full and takes 1024 of bucket 1 (32..48); core 1's second, at 32, the
  // rest of it (to 64, done at 164). Both engines are busier than alone:
  // 16 + 32 = 48 and 32 + 32 = 64.
  SimHarness two;
  program(two, 2);
  ASSERT_TRUE(two.run()) << two.error;
  EXPECT_EQ(two.stats.cycles, 164u);
  EXPECT_EQ(two.pipe(0, Pipe::MTE2).busyCycles, 48u);
  EXPECT_EQ(two.pipe(1, Pipe::MTE2).busyCycles, 64u);
  EXPECT_EQ(two.stats.gmBytes, 4096u);
}

TEST(SimulatorTiming, GmBandwidthIsSharedByTime) {
  // Core 0's DMA, issued at 3, waits for a long V_EXP (1024 f32: 128
  // blocks of 4 + 10 = 522 cycles) and starts at 522. Core 1's, issued at
  // 10 after ten scalar commands, is met by the simulator after core 0's
  // but starts first, and must not queue behind it: its engine serves it
  // 10..42 (1024 bytes at 32 a cycle). Core 0's: 522..554, done at 654.
  SimHarness h;
  uint32_t in = h.segment(SegmentKind::Input, zeros(2048));
  h.core(0)
      .vector(Opcode::V_EXP, ElemType::F32, 0, 8192, 0, 1024)
      .flag(Pipe::V, Pipe::MTE2)
      .dma(Space::GM, Space::UB, 16384, gmAddress(in, 0), 1, 1024);
  for (int i = 0; i < 10; ++i)
    h.core(1).op(Opcode::S_MOV, {1, i});
  h.core(1).dma(Space::GM, Space::UB, 0, gmAddress(in, 1024), 1, 1024);
  ASSERT_TRUE(h.run()) << h.error;
  EXPECT_EQ(h.stats.cycles, 654u);
  EXPECT_EQ(h.pipe(1, Pipe::MTE2).busyCycles, 32u);
}

/// A and B to L0A and L0B on MTE2, then a 16x16x16 MMAD, with or without
/// the flag that makes M wait for them.
void cubeAfterDma(SimHarness &h, bool withFlag) {
  uint32_t in = h.segment(SegmentKind::Input, zeros(1024));
  StreamBuilder &s = h.core(0);
  s.dma(Space::GM, Space::L0A, 0, gmAddress(in, 0), 1, 512)
      .dma(Space::GM, Space::L0B, 0, gmAddress(in, 512), 1, 512);
  if (withFlag)
    s.flag(Pipe::MTE2, Pipe::M);
  s.mmad(ElemType::F16, 0, 0, 0, 16, 16, 16);
}

TEST(SimulatorTiming, FlagMakesCubeWaitForDma) {
  // A: MTE2 0..16 (GM needs only 8), done at 116. B: issued at 1, starts
  // at 16, done at 132. SET_FLAG at 2 fires when MTE2 is complete: 132.
  // WAIT_FLAG at 3 holds M until 132; MMAD (issued at 4) takes one tile:
  // 132..133.
  SimHarness h;
  cubeAfterDma(h, true);
  ASSERT_TRUE(h.run()) << h.error;
  EXPECT_EQ(h.stats.cycles, 133u);
  EXPECT_EQ(h.pipe(0, Pipe::M).busyCycles, 1u);
  EXPECT_EQ(h.pipe(0, Pipe::M).commands, 2u); // WAIT_FLAG and MMAD
  EXPECT_EQ(h.stats.cubeOps, 2u * 16 * 16 * 16);
}

TEST(SimulatorTiming, MissingFlagIsARace) {
  // Without the flag, MMAD starts at its issue, cycle 2, while A arrives
  // at 116.
  SimHarness h;
  cubeAfterDma(h, false);
  ASSERT_FALSE(h.run());
  EXPECT_NE(h.error.find("core 0, command 2 (MMAD): race: MMAD on M at "
                         "cycle 2 reads L0A[0..31] written by DMA_COPY on "
                         "MTE2 until cycle 116 (missing SET_FLAG/WAIT_FLAG)"),
            std::string::npos)
      << h.error;
}

TEST(SimulatorTiming, WriteAfterReadAndGmRaces) {
  // MTE3 reads UB 0..1024 until 0 + 32 + 100; V then overwrites it at 1.
  SimHarness h;
  uint32_t out = h.segment(SegmentKind::Output, zeros(1024));
  h.core(0)
      .dma(Space::UB, Space::GM, gmAddress(out, 0), 0, 1, 1024)
      .vector(Opcode::V_DUP, ElemType::F32, 0, 0, 0, 8, 1, 0, 0, 0, 2);
  ASSERT_FALSE(h.run());
  EXPECT_NE(h.error.find("race: V_DUP on V at cycle 1 writes UB[0..31] read "
                         "by DMA_COPY on MTE3 until cycle 132"),
            std::string::npos)
      << h.error;
  // A workspace written by MTE3 and read back by MTE2 needs a flag too.
  SimHarness g;
  uint32_t work = g.segment(SegmentKind::Workspace, zeros(256), "scratch");
  g.core(0)
      .dma(Space::UB, Space::GM, gmAddress(work, 0), 0, 1, 64)
      .dma(Space::GM, Space::UB, 1024, gmAddress(work, 32), 1, 32);
  ASSERT_FALSE(g.run());
  EXPECT_NE(g.error.find("reads GM segment 0 'scratch'[32..63] written by "
                         "DMA_COPY on MTE3"),
            std::string::npos)
      << g.error;
  g.core(0).commands.insert(g.core(0).commands.begin() + 1,
                            {makeCommand(Opcode::SET_FLAG, {5, 4, 0}),
                             makeCommand(Opcode::WAIT_FLAG, {5, 4, 0})});
  EXPECT_TRUE(g.run()) << g.error;
}

TEST(SimulatorTiming, WaitWithoutSetIsADeadlock) {
  SimHarness h;
  h.core(0).op(Opcode::S_MOV, {1, 5}).wait(Pipe::V, Pipe::MTE3, 3);
  ASSERT_FALSE(h.run());
  EXPECT_NE(h.error.find("core 0, command 1 (WAIT_FLAG): deadlock: waits for "
                         "event 3 from V to MTE3"),
            std::string::npos)
      << h.error;
}

TEST(SimulatorTiming, BarrierAcrossCores) {
  // Core 0: a DMA done at 132, then BARRIER_ALL (issued at 1) arrives when
  // its pipes are complete: 132. Core 1 arrives at 1. Both go on at 132:
  // core 1's DMA runs 132..164 and is done at 264.
  SimHarness h;
  uint32_t in = h.segment(SegmentKind::Input, zeros(1024));
  h.core(0)
      .dma(Space::GM, Space::UB, 0, gmAddress(in, 0), 1, 1024)
      .op(Opcode::BARRIER_ALL, {})
      .op(Opcode::S_MOV, {1, 1});
  h.core(1)
      .op(Opcode::BARRIER_ALL, {})
      .dma(Space::GM, Space::UB, 0, gmAddress(in, 0), 1, 1024);
  ASSERT_TRUE(h.run()) << h.error;
  EXPECT_EQ(h.stats.cycles, 264u);
  EXPECT_EQ(h.pipe(1, Pipe::S).busyCycles, 2u);
  // A core with fewer barriers than the others is an error.
  h.core(1).commands.erase(h.core(1).commands.begin());
  ASSERT_FALSE(h.run());
  EXPECT_NE(h.error.find("every core must run the same number of BARRIER_ALL"),
            std::string::npos)
      << h.error;
}

TEST(SimulatorTiming, VectorStartupAndBlocks) {
  // 2 rows of 100 f16: 400 bytes, ceil(400 / 32) = 13 blocks + 10: 23.
  SimHarness h;
  h.core(0).vector(Opcode::V_ADD, ElemType::F16, 0, 1024, 2048, 100, 2, 200,
                   200, 200);
  ASSERT_TRUE(h.run()) << h.error;
  EXPECT_EQ(h.stats.cycles, 23u);
  EXPECT_EQ(h.pipe(0, Pipe::V).busyCycles, 23u);
}

TEST(SimulatorTiming, TranscendentalFactor) {
  // V_EXP of 64 f32: 8 blocks of 4 cycles + 10 = 42 (0..42); V_DIV of 8
  // f32: 1 block of 4 + 10 = 14, after it on V: 42..56.
  SimHarness h;
  h.core(0)
      .vector(Opcode::V_EXP, ElemType::F32, 0, 1024, 0, 64)
      .vector(Opcode::V_DIV, ElemType::F32, 2048, 3072, 4096, 8);
  ASSERT_TRUE(h.run()) << h.error;
  EXPECT_EQ(h.stats.cycles, 56u);
}

TEST(SimulatorTiming, MmadCountsTiles) {
  // 20 x 40 x 17 on 16 x 16 x 16: 2 * 3 * 2 = 12 cycles.
  SimHarness h;
  h.core(0).mmad(ElemType::F16, 0, 0, 0, 20, 40, 17);
  ASSERT_TRUE(h.run()) << h.error;
  EXPECT_EQ(h.stats.cycles, 12u);
  EXPECT_EQ(h.stats.cubeOps, 2u * 20 * 40 * 17);
}

TEST(SimulatorTiming, LoopOverRegisterCountLoadedFromUb) {
  // V_DUP writes 5 to UB[0] (i32) in 10 + 1 cycles: 0..11. S waits for it
  // (SET at 1, WAIT at 2: S resumes at 11), loads it (11..12) and loops 5
  // times from 12: LOOP_BEGIN 1 + 5 * (S_ADD + LOOP_END) = 11 cycles, to
  // 23. S_STORE 23..24; the DMA out occupies MTE3 24..25 and is done at
  // 125.
  SimHarness h;
  uint32_t out = h.segment(SegmentKind::Output, zeros(4));
  h.core(0)
      .vector(Opcode::V_DUP, ElemType::I32, 0, 0, 5, 1, 1, 0, 0, 0, 2)
      .flag(Pipe::V, Pipe::S)
      .op(Opcode::S_LOAD, {1, 0}, uint8_t(Space::UB))
      .op(Opcode::LOOP_BEGIN, {2, 0})
      .reg(1, 1)
      .op(Opcode::S_ADD, {3, 0, 0})
      .reg(1, 3)
      .reg(2, 2)
      .op(Opcode::LOOP_END, {})
      .op(Opcode::S_STORE, {0, 64, 0}, uint8_t(Space::UB))
      .reg(2, 3)
      .dma(Space::UB, Space::GM, gmAddress(out, 0), 64, 1, 4);
  ASSERT_TRUE(h.run()) << h.error;
  EXPECT_EQ(h.stats.cycles, 125u);
  EXPECT_EQ(h.read<int32_t>(out)[0], 0 + 1 + 2 + 3 + 4);
  EXPECT_EQ(h.stats.commands, 4u + 1 + 5 * 2 + 2);
  // Without the flag S reads UB[0] at 1, before V has written it.
  h.core(0).commands.erase(h.core(0).commands.begin() + 1,
                           h.core(0).commands.begin() + 3);
  ASSERT_FALSE(h.run());
  EXPECT_NE(h.error.find("race: S_LOAD on S at cycle 1 reads UB[0..31] "
                         "written by V_DUP on V until cycle 11"),
            std::string::npos)
      << h.error;
}

TEST(SimulatorTiming, ScalarLoadFromGmTakesItsLatency) {
  // S_LOAD from GM: 50 cycles; LOOP_BEGIN with 0 iterations skips to after
  // its LOOP_END: 50 + 1 + 1 (S_MOV) = 52.
  SimHarness h;
  uint32_t in = h.segmentOf<int32_t>(SegmentKind::Input, {-7});
  h.core(0)
      .op(Opcode::S_LOAD, {1, int64_t(gmAddress(in, 0))}, uint8_t(Space::GM))
      .op(Opcode::LOOP_BEGIN, {2, 0})
      .op(Opcode::S_DIV, {3, 1, 0})
      .op(Opcode::LOOP_END, {})
      .op(Opcode::S_MOV, {4, 0});
  ASSERT_TRUE(h.run()) << h.error;
  EXPECT_EQ(h.stats.cycles, 52u);
}

TEST(SimulatorErrors, DivisionByZero) {
  SimHarness h;
  h.core(0).op(Opcode::S_MOV, {1, 7}).op(Opcode::S_DIV, {2, 0, 0}).reg(1, 1);
  ASSERT_FALSE(h.run());
  EXPECT_NE(h.error.find("core 0, command 1 (S_DIV): division by zero (v1 = "
                         "7, v2 = 0)"),
            std::string::npos)
      << h.error;
}

TEST(SimulatorErrors, ScalarArithmetic) {
  // S_DIV floors; S_SELECT picks by v1 < v2.
  SimHarness h;
  uint32_t out = h.segment(SegmentKind::Output, zeros(8));
  h.core(0)
      .op(Opcode::S_MOV, {1, -7})
      .op(Opcode::S_DIV, {2, 0, 2})
      .reg(1, 1)
      .op(Opcode::S_SELECT, {3, 0, 0, 10, 20})
      .reg(1, 2)
      .op(Opcode::S_STORE, {0, int64_t(gmAddress(out, 0)), 0},
          uint8_t(Space::GM))
      .reg(2, 2)
      .op(Opcode::S_STORE, {0, int64_t(gmAddress(out, 4)), 0},
          uint8_t(Space::GM))
      .reg(2, 3);
  ASSERT_TRUE(h.run()) << h.error;
  EXPECT_EQ(h.read<int32_t>(out), (std::vector<int32_t>{-4, 10}));
}

TEST(SimulatorErrors, BoundsAndPermissions) {
  auto fails = [](auto build, const std::string &message) {
    SimHarness h;
    uint32_t weight = h.segment(SegmentKind::Weight, zeros(64), "w");
    build(h, weight);
    EXPECT_FALSE(h.run());
    EXPECT_NE(h.error.find(message), std::string::npos) << h.error;
  };
  fails(
      [](SimHarness &h, uint32_t w) {
        h.core(0).dma(Space::GM, Space::UB, 32752, gmAddress(w, 0), 1, 32);
      },
      "command 0 (DMA_COPY): UB access out of range: 1 row of 32 bytes "
      "from 32752 (32768 bytes)");
  fails(
      [](SimHarness &h, uint32_t w) {
        h.core(0).dma(Space::GM, Space::UB, 0, gmAddress(w, 48), 1, 32);
      },
      "GM segment 0 'w' access out of range");
  fails(
      [](SimHarness &h, uint32_t w) {
        h.core(0).dma(Space::UB, Space::GM, gmAddress(w, 0), 0, 1, 32);
      },
      "write to read-only GM segment 0 'w'");
  fails(
      [](SimHarness &h, uint32_t) {
        h.core(0).dma(Space::UB, Space::GM, gmAddress(3, 0), 0, 1, 32);
      },
      "names segment 3, but the program has 1");
  fails(
      [](SimHarness &h, uint32_t) {
        h.core(0).vector(Opcode::V_ADD, ElemType::F32, 2, 0, 0, 4);
      },
      "unaligned access: elements of 4 bytes at UB[2]");
  fails([](SimHarness &h,
           uint32_t) { h.core(0).dma(Space::L0A, Space::L0B, 0, 0, 1, 32); },
        "the chip has no DMA path from L0A to L0B");
  fails([](SimHarness &h,
           uint32_t) { h.core(0).mmad(ElemType::F32, 0, 0, 0, 16, 16, 16); },
        "the chip has no cube for f32");
  fails(
      [](SimHarness &h, uint32_t) {
        h.core(0).vector(Opcode::V_EXP, ElemType::I32, 0, 0, 0, 4);
      },
      "no V_EXP on i32");
}

TEST(SimulatorErrors, RunawayLoop) {
  // LOOP_BEGIN, then 500 times S_ADD and LOOP_END: the 1001st is the 500th
  // LOOP_END.
  SimHarness h;
  h.options.maxCommands = 1000;
  h.core(0)
      .op(Opcode::LOOP_BEGIN, {1, int64_t(1) << 40})
      .op(Opcode::S_ADD, {2, 0, 1})
      .reg(1, 2)
      .op(Opcode::LOOP_END, {});
  ASSERT_FALSE(h.run());
  EXPECT_NE(h.error.find("command 2 (LOOP_END): more than 1000 commands "
                         "executed (a runaway loop?)"),
            std::string::npos)
      << h.error;
}

TEST(SimulatorReport, StatsAndTrace) {
  SimHarness h;
  uint32_t in = h.segment(SegmentKind::Input, zeros(2048));
  h.core(0)
      .dma(Space::GM, Space::UB, 0, gmAddress(in, 0), 1, 1024)
      .dma(Space::GM, Space::UB, 1024, gmAddress(in, 1024), 1, 1024)
      .flag(Pipe::MTE2, Pipe::V)
      .vector(Opcode::V_EXP, ElemType::F32, 4096, 0, 0, 8);
  h.options.tracePath = ::testing::TempDir() + "npu-sim-trace.json";
  h.options.traceEventLimit = 3;
  ASSERT_TRUE(h.run()) << h.error;
  // 2 DMAs, SET, WAIT, V_EXP: 5 events, 3 kept.
  EXPECT_EQ(h.stats.traceEventsDropped, 2u);
  std::string report = formatStats(h.chip, h.stats);
  EXPECT_NE(report.find("cycles: 178 (0.178 us at 1 GHz)"), std::string::npos)
      << report;
  EXPECT_NE(report.find("GM: 2048 bytes"), std::string::npos) << report;
  EXPECT_NE(report.find("core 0"), std::string::npos) << report;
  EXPECT_NE(report.find("2 events dropped"), std::string::npos) << report;
  std::ifstream file(h.options.tracePath);
  std::string trace((std::istreambuf_iterator<char>(file)),
                    std::istreambuf_iterator<char>());
  EXPECT_EQ(trace.rfind("{\"traceEvents\":[", 0), 0u);
  EXPECT_NE(trace.find("{\"name\":\"DMA_COPY\",\"ph\":\"X\",\"pid\":0,"
                       "\"tid\":4,\"ts\":0.000000,\"dur\":0.032000}"),
            std::string::npos)
      << trace;
  EXPECT_NE(trace.find("\"args\":{\"name\":\"core 0\"}"), std::string::npos);
  EXPECT_NE(trace.find("\"tid\":4,\"args\":{\"name\":\"MTE2\"}"),
            std::string::npos);
  EXPECT_NE(trace.find("\"truncated\":true"), std::string::npos);
  EXPECT_EQ(trace.find(",\n]"), std::string::npos); // No trailing comma.
  std::remove(h.options.tracePath.c_str());
}

} // namespace
