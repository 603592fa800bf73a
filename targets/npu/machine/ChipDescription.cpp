//===- ChipDescription.cpp - The NPU chip description's rules -------------===//
//
// Names, lookups, the validation rules the parser and
// validateChipDescription share, and the printer. The parser is in
// ChipDescriptionParser.cpp.
//
//===----------------------------------------------------------------------===//

#include "machine/ChipDescription.h"
#include "machine/ChipDescriptionRules.h"

#include <charconv>
#include <system_error>

namespace moec::npu {

using namespace detail;

static constexpr unsigned kElemTypeBytes[kElemTypeCount] = {4, 2, 2, 1, 4, 1};
static constexpr unsigned kMaxNameBytes = 64;

const char *spaceName(Space space) {
  return unsigned(space) < kSpaceCount ? kSpaceNames[unsigned(space)] : "?";
}

const char *pipeName(Pipe pipe) {
  return unsigned(pipe) < kPipeCount ? kPipeNames[unsigned(pipe)] : "?";
}

const char *elemTypeName(ElemType type) {
  return unsigned(type) < kElemTypeCount ? kElemTypeNames[unsigned(type)] : "?";
}

unsigned elemTypeBytes(ElemType type) {
  return unsigned(type) < kElemTypeCount ? kElemTypeBytes[unsigned(type)] : 0;
}

static std::string formatSize(uint64_t bytes) {
  if (bytes != 0 && bytes % (1 << 20) == 0)
    return std::to_string(bytes >> 20) + "MiB";
  if (bytes != 0 && bytes % (1 << 10) == 0)
    return std::to_string(bytes >> 10) + "KiB";
  return std::to_string(bytes);
}

/// The accumulator a cube input type needs, or -1 for a type without a cube.
static int cubeAccumulator(ElemType input) {
  switch (input) {
  case ElemType::F16:
  case ElemType::BF16:
    return int(ElemType::F32);
  case ElemType::I8:
    return int(ElemType::I32);
  default:
    return -1;
  }
}

/// Input text for a message: quoted, control and non-ASCII bytes escaped,
/// long text cut short.
std::string detail::quoteInput(std::string_view s) {
  static const char hex[] = "0123456789abcdef";
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < 48; ++i) {
    unsigned char c = s[i];
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += char(c);
      continue;
    }
    out += "\\x";
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out + (s.size() > 48 ? "...'" : "'");
}

/// Shortest text that reads back as exactly `value`, without an exponent.
std::string detail::formatReal(double value) {
  char buffer[400];
  auto result = std::to_chars(buffer, buffer + sizeof(buffer), value,
                              std::chars_format::fixed);
  return result.ec == std::errc() ? std::string(buffer, result.ptr) : "?";
}

std::string detail::checkRange(double value, double min, double max) {
  if (value >= min && value <= max)
    return "";
  if (value > max)
    return formatReal(value) + " is out of range (at most " + formatReal(max) +
           ")";
  if (value <= 0)
    return formatReal(value) + " must be positive";
  if (value < min)
    return formatReal(value) + " is below the minimum " + formatReal(min);
  return "the value is not a number";
}

std::string detail::checkSize(uint64_t bytes) {
  if (bytes == 0)
    return "0 must be positive";
  if (bytes >= kSizeLimit)
    return std::to_string(bytes) + " is out of range (below 2^40 bytes)";
  return "";
}

std::string detail::checkName(const std::string &name) {
  bool ok = !name.empty() && name.size() <= kMaxNameBytes;
  for (char c : name)
    ok &= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  return ok ? "" : quoteInput(name) + " must be 1 to 64 of A-Z a-z 0-9 . _ -";
}

std::string detail::checkCube(const CubeShape &cube) {
  int accumulator = cubeAccumulator(cube.input);
  std::string input = elemTypeName(cube.input);
  if (accumulator < 0)
    return "type '" + input + "' has no cube (cube types: f16, bf16, i8)";
  if (int(cube.accumulator) != accumulator)
    return "accumulator '" + std::string(elemTypeName(cube.accumulator)) +
           "' for " + input + " inputs must be '" +
           kElemTypeNames[accumulator] + "'";
  for (auto [dim, value] :
       {std::pair{"m", cube.m}, {"k", cube.k}, {"n", cube.n}}) {
    std::string what = std::string(dim) + " = " + std::to_string(value);
    if (value == 0)
      return what + " must be positive";
    if (value > kMaxCubeDim)
      return what + " is out of range (at most 4096)";
    if (*dim != 'k' && value % 16 != 0)
      return what + " must be a multiple of 16";
  }
  unsigned kBytes = cube.k * elemTypeBytes(cube.input);
  if (kBytes % 32 != 0)
    return "k = " + std::to_string(cube.k) + " is " + std::to_string(kBytes) +
           " bytes of " + input + ", not a multiple of 32 bytes";
  return "";
}

std::string detail::checkPath(const DmaPath &path) {
  if (int(path.from) >= kSpaceCount || int(path.to) >= kSpaceCount)
    return "unknown space";
  if (path.from == path.to)
    return "a path from a space to itself";
  if (path.engine == Pipe::S || path.engine == Pipe::M ||
      int(path.engine) >= kPipeCount)
    return "engine '" + std::string(pipeName(path.engine)) +
           "' cannot copy (engines: mte1, mte2, mte3, v)";
  if (std::string what =
          checkRange(path.bytesPerCycle, kMinBandwidth, kMaxBandwidth);
      !what.empty())
    return "bytes per cycle " + what;
  if (path.latencyCycles > kMaxCycles)
    return "latency " + std::to_string(path.latencyCycles) +
           " is out of range (at most 1000000)";
  return "";
}

std::string detail::pathKey(Space from, Space to) {
  return std::string("dma ") + spaceName(from) + " -> " + spaceName(to);
}

/// The rules that involve several keys; run once every key is read.
std::string detail::checkWhole(const ChipDescription &chip,
                               const Where &where) {
  if (chip.cubes.empty())
    return where("cube f16", "at least one 'cube <type>' key is required");
  static constexpr Space kRequired[][2] = {
      {Space::GM, Space::L1},  {Space::GM, Space::UB},  {Space::L1, Space::L0A},
      {Space::L1, Space::L0B}, {Space::L0C, Space::UB}, {Space::UB, Space::GM}};
  for (const auto &pair : kRequired) {
    if (chip.findPath(pair[0], pair[1]))
      continue;
    // L0C's results may leave through UB or straight to GM.
    if (pair[0] == Space::L0C) {
      if (chip.findPath(Space::L0C, Space::GM))
        continue;
      return where(pathKey(pair[0], pair[1]),
                   "required path is missing (or 'dma l0c -> gm')");
    }
    return where(pathKey(pair[0], pair[1]), "required path is missing");
  }
  for (const CubeShape &cube : chip.cubes) {
    unsigned in = elemTypeBytes(cube.input),
             acc = elemTypeBytes(cube.accumulator);
    struct Tile {
      const char *name;
      unsigned rows, cols, bytes;
      Space space;
    } tiles[] = {{"A", cube.m, cube.k, in, Space::L0A},
                 {"B", cube.n, cube.k, in, Space::L0B},
                 {"C", cube.m, cube.n, acc, Space::L0C}};
    for (const Tile &tile : tiles) {
      uint64_t bytes = uint64_t(tile.rows) * tile.cols * tile.bytes;
      uint64_t room = chip.spaceBytes[int(tile.space)];
      if (bytes > room)
        return where(std::string("cube ") + elemTypeName(cube.input),
                     std::string("its ") + tile.name + " tile (" +
                         std::to_string(bytes) + " bytes) does not fit " +
                         spaceName(tile.space) + " (" + std::to_string(room) +
                         " bytes)");
    }
  }
  return "";
}

std::string detail::Where::operator()(const std::string &key,
                                      const std::string &what) const {
  std::string prefix;
  if (lines) {
    auto it = lines->find(key);
    prefix = it != lines->end()
                 ? "line " + std::to_string(it->second) + ": "
                 : "line " + std::to_string(endLine) + " (end of file): ";
  }
  return prefix + "key '" + key + "': " + what;
}

bool operator==(const CubeShape &a, const CubeShape &b) {
  return a.input == b.input && a.accumulator == b.accumulator && a.m == b.m &&
         a.k == b.k && a.n == b.n;
}

bool operator==(const DmaPath &a, const DmaPath &b) {
  return a.from == b.from && a.to == b.to && a.engine == b.engine &&
         a.bytesPerCycle == b.bytesPerCycle &&
         a.latencyCycles == b.latencyCycles;
}

bool operator==(const ChipDescription &a, const ChipDescription &b) {
  for (const NumberKey &number : kNumberKeys)
    if (number.real ? a.*number.real != b.*number.real
                    : a.*number.count != b.*number.count)
      return false;
  for (int space = 1; space < kSpaceCount; ++space)
    if (a.spaceBytes[space] != b.spaceBytes[space])
      return false;
  return a.name == b.name && a.cubes == b.cubes && a.dmaPaths == b.dmaPaths;
}

const CubeShape *ChipDescription::findCube(ElemType input) const {
  for (const CubeShape &cube : cubes)
    if (cube.input == input)
      return &cube;
  return nullptr;
}

const DmaPath *ChipDescription::findPath(Space from, Space to) const {
  for (const DmaPath &path : dmaPaths)
    if (path.from == from && path.to == to)
      return &path;
  return nullptr;
}

double ChipDescription::peakOpsPerSecond(ElemType input) const {
  const CubeShape *cube = findCube(input);
  if (!cube)
    return 0;
  return 2.0 * cube->m * cube->k * cube->n * clockGHz * 1e9 * aiCores;
}

bool validateChipDescription(const ChipDescription &chip, std::string &error) {
  Where where;
  error = checkName(chip.name);
  if (!error.empty())
    return error = where("name", error), false;
  for (const NumberKey &number : kNumberKeys) {
    double value = number.real ? chip.*number.real : chip.*number.count;
    error = checkRange(value, number.min, number.max);
    if (!error.empty())
      return error = where(number.key, error), false;
  }
  for (int space = 1; space < kSpaceCount; ++space) {
    error = checkSize(chip.spaceBytes[space]);
    if (!error.empty())
      return error = where(std::string("buffer ") + kSpaceNames[space], error),
             false;
  }
  for (const CubeShape &cube : chip.cubes) {
    std::string key = std::string("cube ") + elemTypeName(cube.input);
    error = checkCube(cube);
    if (error.empty() && chip.findCube(cube.input) != &cube)
      error = "duplicate key";
    if (!error.empty())
      return error = where(key, error), false;
  }
  for (const DmaPath &path : chip.dmaPaths) {
    error = checkPath(path);
    if (error.empty() && chip.findPath(path.from, path.to) != &path)
      error = "duplicate key";
    if (!error.empty())
      return error = where(pathKey(path.from, path.to), error), false;
  }
  error = checkWhole(chip, where);
  return error.empty();
}

std::string printChipDescription(const ChipDescription &chip) {
  std::string out = std::string(kVersionWord) + " " +
                    std::to_string(kChipFormatVersion) + "\n";
  out += "name = " + chip.name + "\n";
  for (const NumberKey &number : kNumberKeys)
    out += std::string(number.key) + " = " +
           (number.real ? formatReal(chip.*number.real)
                        : std::to_string(chip.*number.count)) +
           "\n";
  for (const CubeShape &cube : chip.cubes)
    out += std::string("cube ") + elemTypeName(cube.input) + " = " +
           std::to_string(cube.m) + "x" + std::to_string(cube.k) + "x" +
           std::to_string(cube.n) + " -> " + elemTypeName(cube.accumulator) +
           "\n";
  for (int space = 1; space < kSpaceCount; ++space)
    out += std::string("buffer ") + kSpaceNames[space] + " = " +
           formatSize(chip.spaceBytes[space]) + "\n";
  for (const DmaPath &path : chip.dmaPaths)
    out += pathKey(path.from, path.to) + " = " + pipeName(path.engine) + " " +
           formatReal(path.bytesPerCycle) + " " +
           std::to_string(path.latencyCycles) + "\n";
  return out;
}

} // namespace moec::npu
