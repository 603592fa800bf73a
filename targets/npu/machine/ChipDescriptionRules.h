//===- ChipDescriptionRules.h - Shared description rules --------*- C++ -*-===//
//
// Internal to machine/: the names, key table and validation rules that the
// parser (ChipDescriptionParser.cpp) and validateChipDescription share, so
// that a file and a chip built in code are held to the same rules.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_MACHINE_CHIPDESCRIPTIONRULES_H
#define MOEC_TARGETS_NPU_MACHINE_CHIPDESCRIPTIONRULES_H

#include "machine/ChipDescription.h"

#include <map>
#include <string>
#include <string_view>

namespace moec::npu::detail {

inline constexpr const char *kSpaceNames[kSpaceCount] = {"gm",  "l1",  "l0a",
                                                         "l0b", "l0c", "ub"};
inline constexpr const char *kPipeNames[kPipeCount] = {"s",    "m",    "v",
                                                       "mte1", "mte2", "mte3"};
inline constexpr int kElemTypeCount = 6;
inline constexpr const char *kElemTypeNames[kElemTypeCount] = {
    "f32", "f16", "bf16", "i8", "i32", "u8"};

inline constexpr const char *kVersionWord = "moec-npu-chip";
/// Sizes stay below 2^40 bytes: a command stream's GM offset has 40 bits.
inline constexpr uint64_t kSizeLimit = uint64_t(1) << 40;
inline constexpr double kMinBandwidth = 0.001, kMaxBandwidth = 1e6;
inline constexpr double kMaxCycles = 1e6;
inline constexpr unsigned kMaxCubeDim = 4096;

/// The keys that hold one number, in the order the printer writes them.
/// A key has either a fractional field (`real`) or a whole one (`count`).
struct NumberKey {
  const char *key;
  double min, max;
  double ChipDescription::*real;
  unsigned ChipDescription::*count;
};
inline const NumberKey kNumberKeys[] = {
    {"clock_ghz", 0.001, 100, &ChipDescription::clockGHz, nullptr},
    {"ai_cores", 1, 4096, nullptr, &ChipDescription::aiCores},
    {"vector_bytes_per_cycle", 1, kMaxBandwidth, nullptr,
     &ChipDescription::vectorBytesPerCycle},
    {"vector_startup_cycles", 0, kMaxCycles, nullptr,
     &ChipDescription::vectorStartupCycles},
    {"vector_transcendental_cycles", 1, kMaxCycles, nullptr,
     &ChipDescription::vectorTranscendentalCycles},
    {"gm_bytes_per_cycle", kMinBandwidth, kMaxBandwidth,
     &ChipDescription::gmBytesPerCycle, nullptr},
    {"scalar_gm_latency_cycles", 0, kMaxCycles, nullptr,
     &ChipDescription::scalarGmLatencyCycles},
};

/// The index of `word` in `names`, or -1.
template <size_t N>
int lookup(const char *const (&names)[N], std::string_view word) {
  for (size_t i = 0; i < N; ++i)
    if (word == names[i])
      return int(i);
  return -1;
}

/// Input text for a message: quoted, control and non-ASCII bytes escaped,
/// long text cut short.
std::string quoteInput(std::string_view text);
/// The shortest text that reads back as exactly `value`, with no exponent.
std::string formatReal(double value);
/// "dma <from> -> <to>".
std::string pathKey(Space from, Space to);

// The check* functions return what is wrong, or "" when all is well; the
// caller adds the line and the key.
std::string checkRange(double value, double min, double max);
std::string checkSize(uint64_t bytes);
std::string checkName(const std::string &name);
std::string checkCube(const CubeShape &cube);
std::string checkPath(const DmaPath &path);

/// Formats "line N: key 'K': what". N is the key's line; for a key that is
/// missing, the last line. A chip built in code has no lines.
struct Where {
  const std::map<std::string, unsigned> *lines = nullptr;
  unsigned endLine = 0;

  std::string operator()(const std::string &key, const std::string &what) const;
};

/// The rules that involve several keys (at least one cube, the required DMA
/// paths, the cube's tiles fit L0): a full message, or "".
std::string checkWhole(const ChipDescription &chip, const Where &where);

} // namespace moec::npu::detail

#endif // MOEC_TARGETS_NPU_MACHINE_CHIPDESCRIPTIONRULES_H
