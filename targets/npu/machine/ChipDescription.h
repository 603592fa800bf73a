//===- ChipDescription.h - The reference NPU, described as data -*- C++ -*-===//
//
// Everything the compiler and the simulator know about the chip: cores, the
// cube's shape per dtype, the vector unit, the scratchpads, the DMA engines
// and the global memory. A vendor edits a description file (docs/npu.md,
// "The description file"); no code knows a figure that is not here.
// Plain C++ with no MLIR or LLVM dependency: the binary's simulator reads it
// too.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_MACHINE_CHIPDESCRIPTION_H
#define MOEC_TARGETS_NPU_MACHINE_CHIPDESCRIPTION_H

#include <cstdint>
#include <string>
#include <vector>

namespace moec::npu {

/// The description file format this code reads and writes.
constexpr int kChipFormatVersion = 1;
/// A description (and each of its lines) longer than this is refused: the
/// parser reads untrusted files and is fuzzed.
constexpr unsigned kMaxChipDescriptionBytes = 1u << 20;
constexpr unsigned kMaxChipLineBytes = 4096;

// The *Name functions return the lower-case spelling the description file
// uses ("l0a", "mte2", "bf16"), and "?" for a value outside the enum.

/// Memory spaces. GM is global memory, shared by every core; the others are
/// one core's scratchpads.
enum class Space : uint8_t {
  GM = 0,
  L1 = 1,
  L0A = 2,
  L0B = 3,
  L0C = 4,
  UB = 5
};
constexpr int kSpaceCount = 6;
const char *spaceName(Space space);

/// Pipes: in-order queues that run concurrently within a core. S is the
/// scalar unit, which also issues every other pipe's commands in program
/// order; M is the cube; V the vector unit; MTE1/2/3 the DMA engines
/// (which engine serves a copy is the description's choice, per path).
enum class Pipe : uint8_t { S = 0, M = 1, V = 2, MTE1 = 3, MTE2 = 4, MTE3 = 5 };
constexpr int kPipeCount = 6;
const char *pipeName(Pipe pipe);

/// Element types the chip computes in.
enum class ElemType : uint8_t {
  F32 = 0,
  F16 = 1,
  BF16 = 2,
  I8 = 3,
  I32 = 4,
  U8 = 5,
};
const char *elemTypeName(ElemType type);
unsigned elemTypeBytes(ElemType type);

/// One cube configuration: C[m, n] += A[m, k] * B[n, k] on one fractal tile
/// triple of m x k, n x k and m x n elements per cycle.
struct CubeShape {
  ElemType input = ElemType::F16;
  ElemType accumulator = ElemType::F32;
  unsigned m = 16, k = 16, n = 16;
};
bool operator==(const CubeShape &a, const CubeShape &b);

/// A DMA path between two spaces and the engine (pipe) that serves it.
/// A copy of B bytes occupies the engine for ceil(B / bytesPerCycle)
/// cycles and its data is there `latencyCycles` after that.
struct DmaPath {
  Space from = Space::GM;
  Space to = Space::L1;
  Pipe engine = Pipe::MTE2;
  double bytesPerCycle = 0;
  unsigned latencyCycles = 0;
};
bool operator==(const DmaPath &a, const DmaPath &b);

struct ChipDescription {
  std::string name;
  /// Core clock; cycles are core cycles.
  double clockGHz = 1.0;
  unsigned aiCores = 1;
  /// Cube shapes, at most one per input type.
  std::vector<CubeShape> cubes;
  /// Bytes the vector unit processes per cycle, and the cycles every vector
  /// command spends before its first block.
  unsigned vectorBytesPerCycle = 256;
  unsigned vectorStartupCycles = 0;
  /// Cycles per block for exp, log, sqrt and division (other ops: 1).
  unsigned vectorTranscendentalCycles = 1;
  /// Scratchpad sizes in bytes, indexed by Space (GM's entry unused).
  uint64_t spaceBytes[kSpaceCount] = {};
  std::vector<DmaPath> dmaPaths;
  /// Global memory bandwidth, shared by every core's GM transfers.
  double gmBytesPerCycle = 0;
  /// Latency of a scalar load from GM.
  unsigned scalarGmLatencyCycles = 0;

  const CubeShape *findCube(ElemType input) const;
  const DmaPath *findPath(Space from, Space to) const;
  /// Peak cube operations (2 per multiply-add) per second of the chip.
  double peakOpsPerSecond(ElemType input) const;
  /// Global memory bandwidth in bytes per second.
  double gmBytesPerSecond() const { return gmBytesPerCycle * clockGHz * 1e9; }
};
/// Field by field, cubes and paths in order; spaceBytes[GM] is ignored.
bool operator==(const ChipDescription &a, const ChipDescription &b);
inline bool operator!=(const ChipDescription &a, const ChipDescription &b) {
  return !(a == b);
}

/// Parses a description; on failure returns false and sets `error` to a
/// message naming the line and the key.
bool parseChipDescription(const std::string &text, ChipDescription &chip,
                          std::string &error);
/// Checks a chip built in code by the rules the parser applies (docs/npu.md,
/// "Validation"); on failure sets `error` to a message naming the key.
bool validateChipDescription(const ChipDescription &chip, std::string &error);
/// Reads a description file.
bool readChipDescription(const std::string &path, ChipDescription &chip,
                         std::string &error);
/// The description in the file format (parses back to the same chip).
std::string printChipDescription(const ChipDescription &chip);

} // namespace moec::npu

#endif // MOEC_TARGETS_NPU_MACHINE_CHIPDESCRIPTION_H
