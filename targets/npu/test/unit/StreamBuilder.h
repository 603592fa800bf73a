//===- StreamBuilder.h - Command streams for the NPU unit tests -*- C++ -*-===//
//
// A small builder so that a test's program reads like the commands it
// issues, a tiny chip whose figures make cycle counts easy to work out by
// hand, and a harness that binds segments and runs the simulator.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_TEST_UNIT_STREAMBUILDER_H
#define MOEC_TARGETS_NPU_TEST_UNIT_STREAMBUILDER_H

#include "machine/CommandStream.h"
#include "sim/Simulator.h"

#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

namespace moec::npu::testing {

/// A DMA's dtype: (to << 4) | from.
inline uint8_t pathCode(Space from, Space to) {
  return uint8_t((int(to) << 4) | int(from));
}

inline Command makeCommand(Opcode opcode, std::initializer_list<int64_t> args,
                           uint8_t dtype = 0, uint8_t flags = 0) {
  Command command;
  command.opcode = opcode;
  command.dtype = dtype;
  command.flags = flags;
  unsigned i = 0;
  for (int64_t arg : args)
    command.arg[i++] = arg;
  return command;
}

struct StreamBuilder {
  std::vector<Command> commands;

  StreamBuilder &op(Opcode opcode, std::initializer_list<int64_t> args,
                    uint8_t dtype = 0, uint8_t flags = 0) {
    commands.push_back(makeCommand(opcode, args, dtype, flags));
    return *this;
  }
  /// The last command's operand `i` adds register `r`.
  StreamBuilder &reg(unsigned i, uint8_t r) {
    commands.back().reg[i] = r;
    return *this;
  }
  StreamBuilder &dma(Space from, Space to, int64_t dst, int64_t src,
                     int64_t rows, int64_t rowBytes, int64_t srcStride = 0,
                     int64_t dstStride = 0) {
    return op(Opcode::DMA_COPY,
              {dst, src, rows, rowBytes, srcStride, dstStride},
              pathCode(from, to));
  }
  StreamBuilder &set(Pipe src, Pipe dst, int64_t event = 0) {
    return op(Opcode::SET_FLAG, {int64_t(src), int64_t(dst), event});
  }
  StreamBuilder &wait(Pipe src, Pipe dst, int64_t event = 0) {
    return op(Opcode::WAIT_FLAG, {int64_t(src), int64_t(dst), event});
  }
  /// SET_FLAG then WAIT_FLAG: dst waits for everything src was given.
  StreamBuilder &flag(Pipe src, Pipe dst, int64_t event = 0) {
    return set(src, dst, event).wait(src, dst, event);
  }
  StreamBuilder &mmad(ElemType type, int64_t c, int64_t a, int64_t b, int64_t m,
                      int64_t k, int64_t n, bool accumulate = false) {
    return op(Opcode::MMAD, {c, a, b, m, k, n}, uint8_t(type),
              accumulate ? 1 : 0);
  }
  StreamBuilder &vector(Opcode opcode, ElemType type, int64_t dst, int64_t src0,
                        int64_t src1, int64_t count, int64_t rows = 1,
                        int64_t dstStride = 0, int64_t src0Stride = 0,
                        int64_t src1Stride = 0, uint8_t flags = 0) {
    return op(opcode,
              {dst, src0, src1, count, rows, dstStride, src0Stride, src1Stride},
              uint8_t(type), flags);
  }
};

/// 1 GHz, 2 cores; the vector unit does 32 bytes a cycle after 10 cycles
/// of startup, transcendental blocks take 4; DMA from GM: 32 bytes a cycle
/// and 100 cycles of latency; on chip: 64 and 10; GM: 64 bytes a cycle.
inline ChipDescription tinyChip() {
  ChipDescription chip;
  chip.name = "tiny";
  chip.clockGHz = 1.0;
  chip.aiCores = 2;
  chip.cubes = {{ElemType::F16, ElemType::F32, 16, 16, 16},
                {ElemType::BF16, ElemType::F32, 16, 16, 16},
                {ElemType::I8, ElemType::I32, 16, 32, 16}};
  chip.vectorBytesPerCycle = 32;
  chip.vectorStartupCycles = 10;
  chip.vectorTranscendentalCycles = 4;
  chip.spaceBytes[int(Space::L1)] = 64 << 10;
  chip.spaceBytes[int(Space::L0A)] = 16 << 10;
  chip.spaceBytes[int(Space::L0B)] = 16 << 10;
  chip.spaceBytes[int(Space::L0C)] = 32 << 10;
  chip.spaceBytes[int(Space::UB)] = 32 << 10;
  auto path = [&](Space from, Space to, Pipe engine, double bw,
                  unsigned latency) {
    chip.dmaPaths.push_back(DmaPath{from, to, engine, bw, latency});
  };
  path(Space::GM, Space::L1, Pipe::MTE2, 32, 100);
  path(Space::GM, Space::UB, Pipe::MTE2, 32, 100);
  path(Space::GM, Space::L0A, Pipe::MTE2, 32, 100);
  path(Space::GM, Space::L0B, Pipe::MTE2, 32, 100);
  path(Space::L1, Space::L0A, Pipe::MTE1, 64, 10);
  path(Space::L1, Space::L0B, Pipe::MTE1, 64, 10);
  path(Space::L0C, Space::UB, Pipe::MTE1, 64, 10);
  path(Space::UB, Space::L1, Pipe::MTE1, 64, 10);
  path(Space::L0C, Space::GM, Pipe::MTE3, 32, 100);
  path(Space::UB, Space::GM, Pipe::MTE3, 32, 100);
  path(Space::L1, Space::GM, Pipe::MTE3, 32, 100);
  chip.gmBytesPerCycle = 64;
  chip.scalarGmLatencyCycles = 50;
  return chip;
}

/// A program with its segments' memory, run on a chip.
struct SimHarness {
  ChipDescription chip = tinyChip();
  Program program;
  std::vector<std::vector<uint8_t>> memory;
  SimOptions options;
  SimStats stats;
  std::string error;

  /// Adds a segment holding `bytes`; Input and Weight segments are bound
  /// read-only.
  uint32_t segment(SegmentKind kind, std::vector<uint8_t> bytes,
                   const std::string &name = "") {
    program.segments.push_back(Segment{kind, bytes.size(), name});
    memory.push_back(std::move(bytes));
    return uint32_t(program.segments.size() - 1);
  }
  template <typename T>
  uint32_t segmentOf(SegmentKind kind, const std::vector<T> &values) {
    std::vector<uint8_t> bytes(values.size() * sizeof(T));
    std::memcpy(bytes.data(), values.data(), bytes.size());
    return segment(kind, std::move(bytes));
  }
  template <typename T> std::vector<T> read(uint32_t segment) const {
    std::vector<T> values(memory[segment].size() / sizeof(T));
    std::memcpy(values.data(), memory[segment].data(),
                values.size() * sizeof(T));
    return values;
  }
  StreamBuilder &core(unsigned index) {
    if (streams.size() <= index)
      streams.resize(index + 1);
    return streams[index];
  }
  bool run() {
    program.cores.clear();
    for (const StreamBuilder &stream : streams)
      program.cores.push_back(stream.commands);
    std::vector<SegmentBinding> bindings;
    for (size_t i = 0; i < memory.size(); ++i) {
      SegmentKind kind = program.segments[i].kind;
      bindings.push_back(SegmentBinding{
          memory[i].data(), memory[i].size(),
          kind == SegmentKind::Workspace || kind == SegmentKind::Output ||
              kind == SegmentKind::State || kind == SegmentKind::Call});
    }
    return simulate(chip, program, bindings, options, stats, error);
  }
  const PipeStats &pipe(unsigned core, Pipe pipe) const {
    return stats.cores[core][int(pipe)];
  }

private:
  std::vector<StreamBuilder> streams;
};

} // namespace moec::npu::testing

#endif // MOEC_TARGETS_NPU_TEST_UNIT_STREAMBUILDER_H
