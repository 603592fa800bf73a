//===- Issue.cpp - One core's commands: scalar unit, flags, pipe timing ---===//
//
// The time model of one core: S walks its stream, runs scalar and loop
// commands itself (one cycle each; S_LOAD from GM takes the chip's scalar
// GM latency) and issues every other command, one cycle each, to an
// in-order pipe of unbounded depth. Flags order the pipes. What the pipe
// commands compute is in Execute.cpp and Vector.cpp; bounds and races in
// Memory.cpp; interleaving the cores and BARRIER_ALL in Simulator.cpp.
//
//===----------------------------------------------------------------------===//

#include "sim/SimState.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace moec::npu;
using namespace moec::npu::sim;

std::string sim::commandPrefix(const Core &core, const Command &command) {
  return "core " + std::to_string(core.index) + ", command " +
         std::to_string(core.pc) + " (" + opcodeName(command.opcode) + "): ";
}

static std::string operandText(const int64_t *v) {
  std::string text = " [v0..v7 =";
  for (unsigned i = 0; i < kOperandCount; ++i)
    text += " " + std::to_string(v[i]);
  return text + "]";
}

static void setRegister(Core &core, int64_t index, int64_t value) {
  if (index != 0)
    core.regs[index] = value;
}

void sim::runOnScalar(Machine &m, Core &core, const Command &command,
                      uint64_t start, uint64_t cycles, bool own) {
  PipeState &s = core.pipes[int(Pipe::S)];
  core.time = start + cycles;
  s.ready = s.complete = core.time;
  s.busy += cycles;
  if (!own)
    return;
  ++s.commands;
  if (m.trace.enabled())
    m.trace.add(core.index, Pipe::S, opcodeName(command.opcode), start, cycles);
}

/// S_MOV .. S_SELECT: R[arg0] = f(v1, v2, ...), one cycle.
static bool runArithmetic(Machine &m, Core &core, const Command &command,
                          const int64_t *v, std::string &what) {
  using U = uint64_t;
  int64_t a = v[1], b = v[2], result = 0;
  switch (command.opcode) {
  case Opcode::S_MOV:
    result = a;
    break;
  case Opcode::S_ADD:
    result = int64_t(U(a) + U(b));
    break;
  case Opcode::S_SUB:
    result = int64_t(U(a) - U(b));
    break;
  case Opcode::S_MUL:
    result = int64_t(U(a) * U(b));
    break;
  case Opcode::S_DIV:
    if (b == 0) {
      what = "division by zero (v1 = " + std::to_string(a) + ", v2 = 0)";
      return false;
    }
    if (b == -1) { // INT64_MIN / -1 wraps, as the other operations do.
      result = int64_t(U(0) - U(a));
      break;
    }
    result = a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
    break;
  case Opcode::S_MIN:
    result = std::min(a, b);
    break;
  case Opcode::S_MAX:
    result = std::max(a, b);
    break;
  default: // S_SELECT
    result = a < b ? v[3] : v[4];
    break;
  }
  setRegister(core, command.arg[0], result);
  runOnScalar(m, core, command, core.time, 1);
  return true;
}

/// S_LOAD and S_STORE: one int32 in any space; a load from GM takes the
/// chip's scalar GM latency, anything else one cycle.
static bool runScalarMemory(Machine &m, Core &core, const Command &command,
                            const int64_t *v, std::string &what) {
  bool load = command.opcode == Opcode::S_LOAD;
  Space space = Space(command.dtype);
  Region region{space, !load, 4, v[1], 1, 4, 0};
  uint8_t *data;
  if (!resolveRegion(m, core, region, data, what))
    return false;
  uint64_t cycles = 1;
  if (space == Space::GM) {
    if (load)
      cycles = std::max(1u, m.chip.scalarGmLatencyCycles);
    m.stats.gmBytes += 4;
  }
  if (!trackRegion(m, core, region, Pipe::S, command.opcode,
                   Span{core.time, core.time + cycles}, what))
    return false;
  int32_t value = int32_t(v[2]);
  if (load) {
    std::memcpy(&value, data, 4);
    setRegister(core, command.arg[0], value);
  } else {
    std::memcpy(data, &value, 4);
  }
  runOnScalar(m, core, command, core.time, cycles);
  return true;
}

/// SET_FLAG and WAIT_FLAG. A SET is queued on its source pipe and fires
/// once every earlier command there has completed (a DMA with its
/// latency); a WAIT is queued on its destination pipe, whose next command
/// starts no earlier than the fire time (dst S: S stalls). Events are
/// consumed in order per (src, dst, event).
static bool runFlag(Machine &m, Core &core, const Command &command,
                    const int64_t *v, std::string &what) {
  Pipe src = Pipe(command.arg[0]), dst = Pipe(command.arg[1]);
  if (v[2] < 0 || v[2] >= int64_t(kEventCount)) {
    what = "event " + std::to_string(v[2]) + " out of range (8 events)";
    return false;
  }
  EventQueue &queue =
      core.events[(int(src) * kPipeCount + int(dst)) * kEventCount + v[2]];
  uint64_t t = core.time;
  if (command.opcode == Opcode::SET_FLAG) {
    PipeState &p = core.pipes[int(src)];
    uint64_t fire = src == Pipe::S ? t : std::max({t, p.ready, p.complete});
    if (queue.head == queue.fires.size()) {
      queue.fires.clear();
      queue.head = 0;
    }
    queue.fires.push_back(fire);
    if (src != Pipe::S) {
      ++p.commands;
      if (m.trace.enabled())
        m.trace.add(core.index, src, "SET_FLAG", fire, 0);
    }
    runOnScalar(m, core, command, t, 1, src == Pipe::S);
    return true;
  }
  if (queue.head == queue.fires.size()) {
    what = std::string("deadlock: waits for event ") + std::to_string(v[2]) +
           " from " + pipeLabel(src) + " to " + pipeLabel(dst) +
           ", but no SET_FLAG issued before it raised one";
    return false;
  }
  uint64_t fire = queue.fires[queue.head++];
  if (dst == Pipe::S) {
    // S issues the WAIT, then stalls until the event.
    runOnScalar(m, core, command, t, 1);
    core.time = std::max(core.time, fire);
    return true;
  }
  PipeState &p = core.pipes[int(dst)];
  uint64_t waitFrom = std::max(t, p.ready);
  p.ready = std::max(p.ready, fire);
  ++p.commands;
  if (m.trace.enabled())
    m.trace.add(core.index, dst, "WAIT_FLAG", waitFrom,
                std::max(waitFrom, fire) - waitFrom);
  runOnScalar(m, core, command, t, 1, false);
  return true;
}

/// The DMA time model: the engine is occupied ceil(bytes / path bandwidth)
/// cycles from start, and for a GM transfer at least until the chip-wide GM
/// bandwidth has served its bytes (per GM end) from start on, shared with
/// the transfers that overlap it (GmBandwidth.h); the data is complete
/// `latency` later.
static Span dmaTiming(Machine &m, const Work &work, uint64_t start,
                      uint64_t &occupancyEnd) {
  const DmaPath &path = *work.path;
  double bytes = double(work.bytes);
  occupancyEnd = start + uint64_t(std::ceil(bytes / path.bytesPerCycle));
  unsigned gmEnds = (path.from == Space::GM) + (path.to == Space::GM);
  if (gmEnds && work.bytes > 0) {
    m.stats.gmBytes += work.bytes * gmEnds;
    if (m.chip.gmBytesPerCycle > 0) {
      double served = m.gm.serve(double(start), bytes * gmEnds,
                                 path.bytesPerCycle * gmEnds);
      // The calendar's time is fractional; the slack keeps a sum's rounding
      // error (10.000000001) from costing a whole cycle.
      occupancyEnd = std::max(occupancyEnd, uint64_t(std::ceil(served - 1e-6)));
    }
  }
  return Span{start, occupancyEnd + path.latencyCycles};
}

/// A DMA, cube or vector command: issued by S at its current time, started
/// when its pipe is ready (in order, after any WAIT_FLAG queued there) and
/// complete after its cycles (compute) or occupancy and latency (DMA).
static bool runPipeCommand(Machine &m, Core &core, const Command &command,
                           const int64_t *v, std::string &what) {
  Work work;
  if (!planCommand(m, command, v, work, what))
    return false;
  uint8_t *bases[Work::kMaxRegions];
  for (unsigned i = 0; i < work.regionCount; ++i)
    if (!resolveRegion(m, core, work.regions[i], bases[i], what))
      return false;
  uint64_t issue = core.time;
  PipeState &p = core.pipes[int(work.pipe)];
  uint64_t start = std::max(issue, p.ready);
  Span span;
  if (work.path) {
    uint64_t occupancyEnd;
    span = dmaTiming(m, work, start, occupancyEnd);
    p.ready = occupancyEnd;
  } else {
    span = Span{start, start + work.cycles};
    p.ready = span.end;
  }
  uint64_t busy = p.ready - start;
  p.complete = std::max(p.complete, span.end);
  p.busy += busy;
  ++p.commands;
  for (unsigned i = 0; i < work.regionCount; ++i)
    if (!trackRegion(m, core, work.regions[i], work.pipe, command.opcode, span,
                     what))
      return false;
  if (!runCommand(m, core, command, v, work, bases, span, what))
    return false;
  if (command.opcode == Opcode::MMAD) {
    unsigned __int128 ops =
        (unsigned __int128)2 * uint64_t(v[3]) * uint64_t(v[4]) * uint64_t(v[5]);
    m.stats.cubeOps += uint64_t(std::min<unsigned __int128>(ops, ~0ull));
  }
  if (m.trace.enabled())
    m.trace.add(core.index, work.pipe, opcodeName(command.opcode), start, busy);
  // Issuing costs S one cycle.
  runOnScalar(m, core, command, issue, 1, false);
  return true;
}

bool sim::stepCore(Machine &m, Core &core, std::string &error) {
  const Command &command = (*core.commands)[core.pc];
  int64_t v[kOperandCount];
  for (unsigned i = 0; i < kOperandCount; ++i)
    v[i] =
        int64_t(uint64_t(command.arg[i]) + uint64_t(core.regs[command.reg[i]]));
  std::string what;
  if (++core.executed > m.options.maxCommands) {
    error = commandPrefix(core, command) + "more than " +
            std::to_string(m.options.maxCommands) +
            " commands executed (a runaway loop?)";
    return false;
  }
  bool ok = true;
  size_t next = core.pc + 1;
  switch (command.opcode) {
  case Opcode::S_LOAD:
  case Opcode::S_STORE:
    ok = runScalarMemory(m, core, command, v, what);
    break;
  case Opcode::LOOP_BEGIN:
    // One cycle; a count <= 0 skips the body.
    if (v[1] <= 0) {
      next = core.loopMatch[core.pc] + 1;
    } else {
      core.loops[core.loopDepth++] =
          LoopFrame{uint32_t(core.pc), uint32_t(command.arg[0]), v[1], 0};
      setRegister(core, command.arg[0], 0);
    }
    runOnScalar(m, core, command, core.time, 1);
    break;
  case Opcode::LOOP_END: {
    // One cycle per iteration.
    LoopFrame &frame = core.loops[core.loopDepth - 1];
    if (++frame.iteration < frame.count) {
      setRegister(core, frame.reg, frame.iteration);
      next = frame.begin + 1;
    } else {
      --core.loopDepth;
    }
    runOnScalar(m, core, command, core.time, 1);
    break;
  }
  case Opcode::SET_FLAG:
  case Opcode::WAIT_FLAG:
    ok = runFlag(m, core, command, v, what);
    break;
  case Opcode::BARRIER_ALL: {
    // S waits until every pipe of its core has completed; the scheduler
    // then holds the core until every core has arrived.
    uint64_t arrival = core.time + 1;
    for (const PipeState &p : core.pipes)
      arrival = std::max({arrival, p.ready, p.complete});
    core.barrierIssue = core.time;
    core.barrierArrival = arrival;
    core.status = CoreStatus::AtBarrier;
    next = core.pc; // The release moves past it.
    break;
  }
  default:
    if (command.opcode < Opcode::LOOP_BEGIN)
      ok = runArithmetic(m, core, command, v, what);
    else
      ok = runPipeCommand(m, core, command, v, what);
    break;
  }
  if (!ok) {
    error = commandPrefix(core, command) + what + operandText(v);
    return false;
  }
  core.pc = next;
  return true;
}
