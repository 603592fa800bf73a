//===- Simulator.h - Cycle-approximate NPU simulator ------------*- C++ -*-===//
//
// Runs a Program's command streams on a ChipDescription: bit-exact results
// and an approximate cycle count. Compiled model binaries call simulate();
// the tests assert its cycle counts against hand-computed ones.
//
// Functional model: each core runs its stream in program order (loops
// expanded) on its own scratchpads and 32 registers; GM segments are shared.
// The cube computes whole tiles: m, k and n are rounded up to the cube
// shape, every element of the A and B tiles is read as it is (the compiler
// zero-pads) and every element of the C tiles is written. A command's
// effect on memory happens when S issues it, so results do not depend on
// timing: a program the race checks accept computes what the chip would.
//
// Time model: S issues one command per cycle into in-order pipes; DMA
// engines pipeline requests and share the chip's GM bandwidth; flags order
// pipes; each rule is a comment where Issue.cpp implements it. Each 32-byte
// block of a scratchpad, or of a Workspace or Output segment, remembers its
// last writer and readers, and an access that overlaps one still in flight on
// another pipe is a race: the flags were missing. GM races are checked within
// one core only: cores order their GM traffic by BARRIER_ALL, which is not
// checked.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_SIM_SIMULATOR_H
#define MOEC_TARGETS_NPU_SIM_SIMULATOR_H

#include "machine/ChipDescription.h"
#include "machine/CommandStream.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace moec::npu {

/// The host memory bound to a program's segment.
struct SegmentBinding {
  uint8_t *data = nullptr;
  uint64_t bytes = 0;
  bool writable = false;
};

struct SimOptions {
  /// False: MMAD runs its timing and race checks but not its arithmetic
  /// (benchmarks of schedules on large shapes).
  bool cubeArithmetic = true;
  /// Where to write a Chrome/Perfetto trace; empty: none.
  std::string tracePath;
  /// Events after this many are dropped (the trace says so).
  uint64_t traceEventLimit = 1000000;
  /// More commands than this executed by one core (loops expanded) is an
  /// error: a runaway loop.
  uint64_t maxCommands = uint64_t(1) << 32;
};

struct PipeStats {
  /// Cycles the pipe worked: S one per command it ran or issued (an S_LOAD
  /// from GM its latency), M and V their commands' cycles, a DMA engine
  /// its occupancy. Waiting is not work.
  uint64_t busyCycles = 0;
  /// Commands queued on the pipe: S's own (scalar, loops, barriers, flags
  /// from or to S), and flags whose source or destination it is.
  uint64_t commands = 0;
};

struct SimStats {
  /// The latest completion over every pipe of every core.
  uint64_t cycles = 0;
  /// Per core of the program, per pipe.
  std::vector<std::array<PipeStats, kPipeCount>> cores;
  /// Bytes DMA and scalar accesses moved to or from GM.
  uint64_t gmBytes = 0;
  /// 2 * m * k * n per MMAD (unpadded).
  uint64_t cubeOps = 0;
  /// Commands executed, loop iterations expanded.
  uint64_t commands = 0;
  /// Trace events dropped past SimOptions::traceEventLimit.
  uint64_t traceEventsDropped = 0;
  /// When each BARRIER_ALL released the cores: the ends of the phases.
  std::vector<uint64_t> barrierCycles;
};

/// Runs `program` on `chip`, one binding per program segment (at least the
/// segment's bytes). On an error (out of bounds, a race, a deadlock, ...)
/// returns false with a message naming the core, the command index, the
/// opcode and the values; the segments' contents are then unspecified.
bool simulate(const ChipDescription &chip, const Program &program,
              std::vector<SegmentBinding> &segments, const SimOptions &options,
              SimStats &stats, std::string &error);

/// A report: cycles, time at the chip's clock, each pipe's utilisation per
/// core and averaged, GM bytes and the achieved GM bandwidth against the
/// chip's.
std::string formatStats(const ChipDescription &chip, const SimStats &stats);
/// The cycles of the phases (up to each BARRIER_ALL) added up by their
/// label (the op each lowers), the most expensive first; empty when the
/// labels do not match the phases. `each`: every phase first, in order.
std::string formatPhases(const SimStats &stats,
                         const std::vector<std::string> &labels, bool each);

} // namespace moec::npu

#endif // MOEC_TARGETS_NPU_SIM_SIMULATOR_H
