//===- SimState.h - The simulator's state, shared by its parts --*- C++ -*-===//
//
// Internal to sim/: the machine and core state that Simulator.cpp (set-up,
// cores, barriers), Issue.cpp (one core's commands and their timing),
// Memory.cpp (bounds and races) and Execute.cpp and Vector.cpp (what
// commands compute) share.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_SIM_SIMSTATE_H
#define MOEC_TARGETS_NPU_SIM_SIMSTATE_H

#include "sim/GmBandwidth.h"
#include "sim/Simulator.h"
#include "sim/Trace.h"

#include <cstdlib>
#include <memory>

namespace moec::npu::sim {

/// Races are tracked per block of this many bytes.
constexpr unsigned kBlockBytes = 32;
constexpr unsigned kMaxLoopDepth = 16;
/// Sizes past this are out of every space (2^40 bytes at most).
constexpr int64_t kSizeLimit = int64_t(1) << 50;

/// The last write and the latest reads of one block: the latest read by any
/// pipe, and the latest by a pipe other than that one, which is enough to
/// find the latest read by any pipe other than a given one.
struct BlockState {
  uint64_t writeEnd, readEnd, otherReadEnd;
  uint8_t writePipe, writeOp, readPipe, readOp, otherReadPipe, otherReadOp;
};

/// Block states of one space or segment, allocated a page at a time on
/// first touch (a large workspace is mostly untouched by any one core).
class BlockTable {
public:
  void reset(uint64_t bytes) {
    pages.clear();
    uint64_t blocks = (bytes + kBlockBytes - 1) / kBlockBytes;
    pages.resize((blocks + kPageBlocks - 1) / kPageBlocks);
  }
  /// Block `index` and the blocks after it in its page (`count` of them,
  /// itself included), which lie one after another.
  BlockState *run(uint64_t index, uint64_t &count) {
    std::unique_ptr<BlockState[]> &page = pages[index / kPageBlocks];
    if (!page)
      page.reset(new BlockState[kPageBlocks]());
    count = kPageBlocks - index % kPageBlocks;
    return &page[index % kPageBlocks];
  }

private:
  static constexpr uint64_t kPageBlocks = 2048;
  std::vector<std::unique_ptr<BlockState[]>> pages;
};

/// An access: `rows` rows of `rowBytes` bytes, `stride` bytes apart, from
/// `address` in `space` (a GM address names its segment).
struct Region {
  Space space = Space::UB;
  bool write = false;
  /// Elements of this many bytes must be aligned to it.
  unsigned elemBytes = 1;
  int64_t address = 0, rows = 1, rowBytes = 0, stride = 0;
};

/// What a pipe command does, worked out from its operands before it runs.
struct Work {
  Pipe pipe = Pipe::V;
  /// Compute commands: the cycles they take.
  uint64_t cycles = 0;
  /// DMA: the path and the bytes it moves.
  const DmaPath *path = nullptr;
  uint64_t bytes = 0;
  static constexpr unsigned kMaxRegions = 3;
  Region regions[kMaxRegions];
  unsigned regionCount = 0;
  Region &add(Space space, bool write, int64_t address, int64_t rows,
              int64_t rowBytes, int64_t stride, unsigned elemBytes) {
    Region &r = regions[regionCount++];
    r = Region{space, write, elemBytes, address, rows, rowBytes, stride};
    return r;
  }
};

struct PipeState {
  /// When the pipe's next command may start (waits included).
  uint64_t ready = 0;
  /// When every command issued to it has completed (DMA: with latency).
  uint64_t complete = 0;
  uint64_t busy = 0, commands = 0;
};

struct LoopFrame {
  uint32_t begin = 0, reg = 0;
  int64_t count = 0, iteration = 0;
};

/// Fire times of SET_FLAGs not yet consumed, oldest first.
struct EventQueue {
  std::vector<uint64_t> fires;
  size_t head = 0;
};

enum class CoreStatus : uint8_t { Running, AtBarrier, Done };

struct FreeDeleter {
  void operator()(uint8_t *p) const { std::free(p); }
};

struct Core {
  unsigned index = 0;
  const std::vector<Command> *commands = nullptr;
  /// Per LOOP_BEGIN the index of its LOOP_END, and the reverse.
  std::vector<uint32_t> loopMatch;
  size_t pc = 0;
  uint64_t executed = 0;
  int64_t regs[kRegisterCount] = {};
  /// S's time: when it issues its next command.
  uint64_t time = 0;
  PipeState pipes[kPipeCount];
  LoopFrame loops[kMaxLoopDepth];
  unsigned loopDepth = 0;
  EventQueue events[kPipeCount * kPipeCount * kEventCount];
  CoreStatus status = CoreStatus::Running;
  uint64_t barrierIssue = 0, barrierArrival = 0;
  /// Scratchpads, from calloc: pages a program never touches cost nothing
  /// (a chip of 32 cores has 50 MiB of them).
  std::unique_ptr<uint8_t, FreeDeleter> memory[kSpaceCount];
  uint64_t memoryBytes[kSpaceCount] = {};
  BlockTable hazards[kSpaceCount];
  /// Per segment; only Workspace and Output segments are tracked.
  std::vector<BlockTable> gmHazards;
  /// Scratch the commands reuse, so that none allocates once warm.
  std::vector<float> f0, f1, f2, f3;
  std::vector<int32_t> i0, i1;
  std::vector<int16_t> s0, s1;
  std::vector<uint32_t> order;
};

struct Machine {
  const ChipDescription &chip;
  const Program &program;
  std::vector<SegmentBinding> &segments;
  const SimOptions &options;
  SimStats &stats;
  TraceWriter trace;
  /// findPath and findCube, tabulated.
  const DmaPath *paths[kSpaceCount][kSpaceCount] = {};
  const CubeShape *cubes[int(ElemType::U8) + 1] = {};
  /// The chip-wide GM bandwidth, shared by every core's transfers.
  GmBandwidth gm;
  std::vector<Core> cores;
};

/// The times a command runs at on its pipe.
struct Span {
  uint64_t start = 0, end = 0;
};

// Issue.cpp
/// Runs the core's next command; false with a message on an error.
bool stepCore(Machine &m, Core &core, std::string &error);
/// Accounts `cycles` of S from `start`: running a command of its own
/// (`own`: counted and traced), or issuing one to another pipe.
void runOnScalar(Machine &m, Core &core, const Command &command, uint64_t start,
                 uint64_t cycles, bool own = true);
/// "core N, command I (OPCODE): ".
std::string commandPrefix(const Core &core, const Command &command);

// Memory.cpp
/// Checks a region's bounds, alignment and (for a write to GM) that its
/// segment is writable; sets `base` to its first row.
bool resolveRegion(Machine &m, Core &core, const Region &region, uint8_t *&base,
                   std::string &what);
/// Checks the region against accesses of other pipes still in flight at
/// `span.start` and records it as completing at `span.end`.
bool trackRegion(Machine &m, Core &core, const Region &region, Pipe pipe,
                 Opcode opcode, Span span, std::string &what);
/// "ub[0x40..]" or "gm segment 2 'x'[0x40..]", for messages.
std::string describeAddress(const Machine &m, Space space, int64_t address);
const char *pipeLabel(Pipe pipe);
const char *spaceLabel(Space space);

// Execute.cpp
/// Works out a DMA, MMAD or vector command's pipe, cost and regions from
/// its operand values `v`; "" or what is wrong.
bool planCommand(Machine &m, const Command &command, const int64_t *v,
                 Work &work, std::string &what);
/// Runs a planned command on the resolved regions (`bases`, in the order
/// planCommand added them).
bool runCommand(Machine &m, Core &core, const Command &command,
                const int64_t *v, const Work &work, uint8_t *const *bases,
                Span span, std::string &what);

// Cube.cpp
/// MMAD's arithmetic on its resolved regions (A, B, C).
void runMmad(Machine &m, Core &core, const Command &command, const int64_t *v,
             uint8_t *const *bases);

// Vector.cpp
bool planVector(Machine &m, const Command &command, const int64_t *v,
                Work &work, std::string &what);
void runVector(Core &core, const Command &command, const int64_t *v,
               uint8_t *const *bases);

} // namespace moec::npu::sim

#endif // MOEC_TARGETS_NPU_SIM_SIMSTATE_H
