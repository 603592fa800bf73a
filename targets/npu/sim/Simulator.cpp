//===- Simulator.cpp - Set-up, interleaved cores, barriers, stats ---------===//
//
// Checks the program, chip and bindings, then runs the cores interleaved:
// always the core whose S is earliest, so that their GM transfers reserve
// the shared GM channel in about the order they happen. One core's commands
// are issued in Issue.cpp.
//
//===----------------------------------------------------------------------===//

#include "sim/Simulator.h"
#include "sim/SimState.h"

#include <algorithm>

using namespace moec::npu;
using namespace moec::npu::sim;

/// Larger scratchpads than this are refused rather than allocated per core.
static constexpr uint64_t kMaxSpaceBytes = uint64_t(1) << 30;

static bool setUp(Machine &m, std::string &error) {
  const ChipDescription &chip = m.chip;
  const Program &program = m.program;
  if (!validateProgram(program, error))
    return false;
  if (program.cores.size() > chip.aiCores) {
    error = "the program has " + std::to_string(program.cores.size()) +
            " cores, the chip " + std::to_string(chip.aiCores);
    return false;
  }
  if (m.segments.size() != program.segments.size()) {
    error = std::to_string(m.segments.size()) +
            " segment bindings for a program of " +
            std::to_string(program.segments.size()) + " segments";
    return false;
  }
  for (size_t i = 0; i < m.segments.size(); ++i)
    if (m.segments[i].bytes < program.segments[i].bytes ||
        (!m.segments[i].data && program.segments[i].bytes)) {
      error = "segment " + std::to_string(i) + " '" + program.segments[i].name +
              "' needs " + std::to_string(program.segments[i].bytes) +
              " bytes, " + std::to_string(m.segments[i].bytes) + " are bound";
      return false;
    }
  for (int space = 1; space < kSpaceCount; ++space)
    if (chip.spaceBytes[space] > kMaxSpaceBytes) {
      error = std::string("the chip's ") + spaceLabel(Space(space)) +
              " is too large to simulate (at most 1 GiB)";
      return false;
    }
  for (int from = 0; from < kSpaceCount; ++from)
    for (int to = 0; to < kSpaceCount; ++to) {
      const DmaPath *path = chip.findPath(Space(from), Space(to));
      if (path && from != to && unsigned(path->engine) < kPipeCount &&
          path->engine != Pipe::S && path->engine != Pipe::M)
        m.paths[from][to] = path;
    }
  for (int type = 0; type <= int(ElemType::U8); ++type) {
    const CubeShape *cube = chip.findCube(ElemType(type));
    if (!cube)
      continue;
    bool integer = type == int(ElemType::I8) || type == int(ElemType::U8);
    bool ok = type != int(ElemType::I32) &&
              cube->accumulator == (integer ? ElemType::I32 : ElemType::F32);
    for (unsigned dim : {cube->m, cube->k, cube->n})
      ok &= dim >= 1 && dim <= 4096;
    if (!ok) {
      error = std::string("the chip's cube for ") +
              elemTypeName(ElemType(type)) + " is not one the simulator runs";
      return false;
    }
    m.cubes[type] = cube;
  }
  if (!m.options.tracePath.empty() &&
      !m.trace.open(m.options.tracePath, chip.clockGHz,
                    m.options.traceEventLimit, error))
    return false;
  m.cores.resize(program.cores.size());
  for (size_t i = 0; i < program.cores.size(); ++i) {
    Core &core = m.cores[i];
    core.index = unsigned(i);
    core.commands = &program.cores[i];
    if (core.commands->empty()) {
      core.status = CoreStatus::Done;
      continue;
    }
    for (int space = 1; space < kSpaceCount; ++space) {
      uint64_t bytes = chip.spaceBytes[space];
      core.memory[space].reset(
          static_cast<uint8_t *>(std::calloc(bytes ? bytes : 1, 1)));
      if (!core.memory[space]) {
        error = "out of memory for the scratchpads";
        return false;
      }
      core.memoryBytes[space] = bytes;
      core.hazards[space].reset(chip.spaceBytes[space]);
    }
    core.gmHazards.resize(program.segments.size());
    for (size_t s = 0; s < program.segments.size(); ++s)
      core.gmHazards[s].reset(program.segments[s].kind == SegmentKind::State
                                  ? m.segments[s].bytes
                                  : program.segments[s].bytes);
    // Loops were checked balanced: match them once, not per iteration.
    core.loopMatch.assign(core.commands->size(), 0);
    std::vector<uint32_t> open;
    for (size_t pc = 0; pc < core.commands->size(); ++pc) {
      Opcode op = (*core.commands)[pc].opcode;
      if (op == Opcode::LOOP_BEGIN) {
        open.push_back(uint32_t(pc));
      } else if (op == Opcode::LOOP_END) {
        core.loopMatch[open.back()] = uint32_t(pc);
        core.loopMatch[pc] = open.back();
        open.pop_back();
      }
    }
  }
  return true;
}

namespace {
struct Ready {
  uint64_t time;
  unsigned core;
  /// std::push_heap keeps the largest first: "largest" is the latest.
  bool operator<(const Ready &other) const {
    return time > other.time || (time == other.time && core > other.core);
  }
};
} // namespace

/// Runs every core to its end, earliest S first, holding cores at
/// BARRIER_ALL until all have arrived (then each continues at the latest
/// arrival).
static bool schedule(Machine &m, std::string &error) {
  std::vector<Ready> heap;
  unsigned active = 0, waiting = 0;
  for (Core &core : m.cores)
    if (core.status == CoreStatus::Running) {
      heap.push_back(Ready{0, core.index});
      ++active;
    }
  std::make_heap(heap.begin(), heap.end());
  bool someEnded = false;
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end());
    Core &core = m.cores[heap.back().core];
    heap.pop_back();
    // Run this core while it stays the earliest.
    bool yield = false;
    while (core.status == CoreStatus::Running && !yield) {
      if (core.pc == core.commands->size()) {
        core.status = CoreStatus::Done;
        break;
      }
      if (!stepCore(m, core, error))
        return false;
      yield = !heap.empty() && Ready{core.time, core.index} < heap.front();
    }
    if (core.status == CoreStatus::Running) {
      heap.push_back(Ready{core.time, core.index});
      std::push_heap(heap.begin(), heap.end());
      continue;
    }
    const char *mismatch =
        ": every core must run the same number of BARRIER_ALLs";
    if (core.status == CoreStatus::Done) {
      someEnded = true;
      for (const Core &other : m.cores)
        if (other.status == CoreStatus::AtBarrier) {
          error = "core " + std::to_string(core.index) + " ended while core " +
                  std::to_string(other.index) +
                  " waits at BARRIER_ALL (command " + std::to_string(other.pc) +
                  ")" + mismatch;
          return false;
        }
      continue;
    }
    if (someEnded) {
      error = commandPrefix(core, (*core.commands)[core.pc]) +
              "another core has ended" + mismatch;
      return false;
    }
    if (++waiting < active)
      continue;
    uint64_t release = 0;
    for (const Core &other : m.cores)
      if (other.status == CoreStatus::AtBarrier)
        release = std::max(release, other.barrierArrival);
    m.stats.barrierCycles.push_back(release);
    for (Core &other : m.cores) {
      if (other.status != CoreStatus::AtBarrier)
        continue;
      // S's one cycle of issue; the wait is not busy time.
      other.status = CoreStatus::Running;
      runOnScalar(m, other, (*other.commands)[other.pc], other.barrierIssue, 1,
                  false);
      ++other.pipes[int(Pipe::S)].commands;
      if (m.trace.enabled())
        m.trace.add(other.index, Pipe::S, "BARRIER_ALL", other.barrierIssue,
                    release - other.barrierIssue);
      ++other.pc;
      other.time = release;
      heap.push_back(Ready{release, other.index});
      std::push_heap(heap.begin(), heap.end());
    }
    waiting = 0;
  }
  return true;
}

bool moec::npu::simulate(const ChipDescription &chip, const Program &program,
                         std::vector<SegmentBinding> &segments,
                         const SimOptions &options, SimStats &stats,
                         std::string &error) {
  stats = SimStats();
  Machine m{chip, program, segments, options, stats, {}, {}, {}, {}, {}};
  m.gm.setBytesPerCycle(chip.gmBytesPerCycle);
  if (!setUp(m, error) || !schedule(m, error)) {
    std::string ignored;
    m.trace.close(unsigned(program.cores.size()), ignored);
    return false;
  }
  stats.cores.resize(m.cores.size());
  for (const Core &core : m.cores) {
    stats.commands += core.executed;
    stats.cycles = std::max(stats.cycles, core.time);
    for (int pipe = 0; pipe < kPipeCount; ++pipe) {
      const PipeState &p = core.pipes[pipe];
      stats.cycles = std::max({stats.cycles, p.ready, p.complete});
      stats.cores[core.index][pipe] = PipeStats{p.busy, p.commands};
    }
  }
  stats.traceEventsDropped = m.trace.dropped();
  return m.trace.close(unsigned(program.cores.size()), error);
}
