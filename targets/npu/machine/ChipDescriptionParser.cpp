//===- ChipDescriptionParser.cpp - Reading NPU chip descriptions ----------===//
//
// The description file, version 1 (docs/npu.md, "The description file").
// The parser reads untrusted bytes (a vendor's file; moec-npu-chip-fuzzer):
// it bounds the input, each line and each number, keeps nothing that grows
// with the input, and stops at the first problem.
//
//===----------------------------------------------------------------------===//

#include "machine/ChipDescription.h"
#include "machine/ChipDescriptionRules.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <vector>

using namespace moec::npu;
using namespace moec::npu::detail;

static bool isDigit(char c) { return c >= '0' && c <= '9'; }

static bool isBlank(char c) { return c == ' ' || c == '\t'; }

static std::string_view trim(std::string_view s) {
  while (!s.empty() && isBlank(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && isBlank(s.back()))
    s.remove_suffix(1);
  return s;
}

static bool isNegative(std::string_view text) {
  return text.size() > 1 && text[0] == '-' && isDigit(text[1]);
}

// The parse* functions return what is wrong, or "" when all is well.

/// A whole number: digits only (no sign, exponent or base prefix).
static std::string parseWhole(std::string_view text, uint64_t &value) {
  if (text.empty())
    return "a number is missing";
  if (isNegative(text))
    return quoteInput(text) + " is negative";
  if (text.find_first_not_of("0123456789") != std::string_view::npos)
    return quoteInput(text) + " is not a number";
  value = 0;
  for (char c : text) {
    unsigned digit = c - '0';
    if (value > (UINT64_MAX - digit) / 10)
      return quoteInput(text) + " is out of range";
    value = value * 10 + digit;
  }
  return "";
}

/// A decimal: digits, optionally a point and more digits.
static std::string parseReal(std::string_view text, double &value) {
  size_t i = 0;
  while (i < text.size() && isDigit(text[i]))
    ++i;
  bool wellFormed = i > 0;
  if (i < text.size() && text[i] == '.') {
    size_t fraction = ++i;
    while (i < text.size() && isDigit(text[i]))
      ++i;
    wellFormed &= i > fraction;
  }
  if (!wellFormed || i != text.size())
    return quoteInput(text) +
           (isNegative(text) ? " is negative" : " is not a number");
  auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  if (result.ec == std::errc::result_out_of_range)
    return quoteInput(text) + " is out of range";
  if (result.ec != std::errc() || result.ptr != text.data() + text.size())
    return quoteInput(text) + " is not a number";
  return "";
}

/// A scratchpad size in bytes, optionally with a unit: 65536, 64KiB, 64 KiB.
static std::string parseSize(std::string_view text, uint64_t &value) {
  size_t digits = 0;
  while (digits < text.size() && isDigit(text[digits]))
    ++digits;
  std::string_view unit = trim(text.substr(digits));
  unsigned shift = unit == "KiB" ? 10 : unit == "MiB" ? 20 : 30;
  if (digits == 0)
    return parseWhole(text, value);
  if (!unit.empty() && unit != "KiB" && unit != "MiB" && unit != "GiB")
    return quoteInput(text) + " has an unknown unit (units: KiB, MiB, GiB)";
  if (std::string error = parseWhole(text.substr(0, digits), value);
      !error.empty())
    return error;
  if (!unit.empty()) {
    if (value >= (kSizeLimit >> shift))
      return quoteInput(text) + " is out of range (below 2^40 bytes)";
    value <<= shift;
  }
  return "";
}

/// "MxKxN -> accumulator", e.g. "16x16x16 -> f32".
static std::string parseCube(std::string_view text, CubeShape &cube) {
  const std::string expected = "expected 'MxKxN -> <accumulator type>'";
  size_t arrow = text.find("->");
  if (arrow == std::string_view::npos)
    return expected;
  std::string_view shape = text.substr(0, arrow);
  unsigned *dims[] = {&cube.m, &cube.k, &cube.n};
  for (int i = 0; i < 3; ++i) {
    size_t x = i < 2 ? shape.find('x') : shape.size();
    if (x == std::string_view::npos)
      return expected;
    uint64_t value = 0;
    if (std::string what = parseWhole(trim(shape.substr(0, x)), value);
        !what.empty())
      return what;
    if (value > kMaxCubeDim)
      return std::string("mkn").substr(i, 1) + " = " + std::to_string(value) +
             " is out of range (at most 4096)";
    *dims[i] = unsigned(value);
    shape = shape.substr(std::min(x + 1, shape.size()));
  }
  std::string_view accumulator = trim(text.substr(arrow + 2));
  int type = lookup(kElemTypeNames, accumulator);
  if (type < 0)
    return "unknown type " + quoteInput(accumulator);
  cube.accumulator = ElemType(type);
  return "";
}

/// "<engine> <bytes per cycle> <latency cycles>", e.g. "mte2 128 500".
static std::string parsePath(std::string_view text, DmaPath &path) {
  std::string_view words[3];
  for (std::string_view &word : words) {
    text = trim(text);
    word = text.substr(0, text.find_first_of(" \t"));
    text = text.substr(word.size());
  }
  if (words[2].empty() || !trim(text).empty())
    return "expected '<engine> <bytes per cycle> <latency cycles>'";
  int engine = lookup(kPipeNames, words[0]);
  if (engine < 0)
    return "unknown engine " + quoteInput(words[0]) +
           " (engines: mte1, mte2, mte3, v)";
  path.engine = Pipe(engine);
  uint64_t latency = 0;
  if (std::string what = parseReal(words[1], path.bytesPerCycle); !what.empty())
    return "bytes per cycle " + what;
  if (std::string what = parseWhole(words[2], latency); !what.empty())
    return "latency " + what;
  if (latency > kMaxCycles)
    return "latency " + std::to_string(latency) +
           " is out of range (at most 1000000)";
  path.latencyCycles = unsigned(latency);
  return "";
}

namespace {

/// One description being read. Stops at the first error; `lines` holds only
/// recognised keys, so its size is bounded whatever the input.
struct Parser {
  ChipDescription chip;
  std::map<std::string, unsigned> lines;
  unsigned line = 0;
  std::string error;

  bool fail(const std::string &key, const std::string &what) {
    error = "line " + std::to_string(line) + ": key " + key + ": " + what;
    return false;
  }
  bool failKey(const std::string &key, const std::string &what) {
    return fail("'" + key + "'", what);
  }

  bool parseVersion(std::string_view content);
  bool parseKey(std::string_view key, std::string_view value);
  bool parseText(std::string_view text);
};

bool Parser::parseVersion(std::string_view content) {
  std::string_view word = content.substr(0, content.find_first_of(" \t"));
  std::string_view version = trim(content.substr(word.size()));
  std::string expected =
      std::string(kVersionWord) + " " + std::to_string(kChipFormatVersion);
  if (word != kVersionWord || version.empty() ||
      version.find_first_of(" \t") != std::string_view::npos) {
    error = "line " + std::to_string(line) + ": expected the version line '" +
            expected + "' first, not " + quoteInput(content);
    return false;
  }
  if (version != std::to_string(kChipFormatVersion))
    return failKey(kVersionWord, "version " + quoteInput(version) +
                                     " is not supported; this moec reads "
                                     "version " +
                                     std::to_string(kChipFormatVersion));
  return true;
}

bool Parser::parseKey(std::string_view keyText, std::string_view value) {
  std::string_view word = keyText.substr(0, keyText.find_first_of(" \t"));
  std::string_view rest = trim(keyText.substr(word.size()));
  std::string key;
  const NumberKey *number = nullptr;
  int input = -1, space = -1, from = -1, to = -1;
  if (word == "name" && rest.empty()) {
    key = "name";
  } else if (word == "cube" || word == "buffer") {
    bool isCube = word == "cube";
    int index =
        isCube ? lookup(kElemTypeNames, rest) : lookup(kSpaceNames, rest);
    if (index < 0)
      return fail(quoteInput(keyText),
                  isCube ? "unknown type " + quoteInput(rest) +
                               " (cube types: f16, bf16, i8)"
                         : "unknown space " + quoteInput(rest) +
                               " (spaces: l1, l0a, l0b, l0c, ub)");
    if (isCube)
      input = index;
    else
      space = index;
    key = std::string(word) + " " + std::string(rest);
  } else if (word == "dma") {
    size_t arrow = rest.find("->");
    if (arrow == std::string_view::npos)
      return fail(quoteInput(keyText), "expected 'dma <space> -> <space>'");
    std::string_view fromName = trim(rest.substr(0, arrow));
    std::string_view toName = trim(rest.substr(arrow + 2));
    from = lookup(kSpaceNames, fromName);
    to = lookup(kSpaceNames, toName);
    if (from < 0 || to < 0)
      return fail(quoteInput(keyText),
                  "unknown space " + quoteInput(from < 0 ? fromName : toName) +
                      " (spaces: gm, l1, l0a, l0b, l0c, ub)");
    key = pathKey(Space(from), Space(to));
  } else {
    for (const NumberKey &candidate : kNumberKeys)
      if (word == candidate.key && rest.empty())
        number = &candidate;
    if (!number)
      return fail(quoteInput(keyText), "unknown key");
    key = number->key;
  }

  auto [it, inserted] = lines.emplace(key, line);
  if (!inserted)
    return failKey(key, "duplicate key (first on line " +
                            std::to_string(it->second) + ")");
  std::string what;
  if (key == "name") {
    chip.name = std::string(value);
    what = checkName(chip.name);
  } else if (number) {
    double real = 0;
    uint64_t whole = 0;
    what = number->real ? parseReal(value, real) : parseWhole(value, whole);
    if (what.empty())
      what = checkRange(number->real ? real : double(whole), number->min,
                        number->max);
    if (what.empty() && number->real)
      chip.*number->real = real;
    else if (what.empty())
      chip.*number->count = unsigned(whole);
  } else if (space >= 0) {
    if (space == int(Space::GM))
      return failKey(key, "global memory has no size here");
    what = parseSize(value, chip.spaceBytes[space]);
    if (what.empty())
      what = checkSize(chip.spaceBytes[space]);
  } else if (input >= 0) {
    CubeShape cube;
    cube.input = ElemType(input);
    what = parseCube(value, cube);
    if (what.empty())
      what = checkCube(cube);
    chip.cubes.push_back(cube);
  } else {
    DmaPath path;
    path.from = Space(from);
    path.to = Space(to);
    what = parsePath(value, path);
    if (what.empty())
      what = checkPath(path);
    chip.dmaPaths.push_back(path);
  }
  return what.empty() || failKey(key, what);
}

bool Parser::parseText(std::string_view text) {
  if (text.size() > kMaxChipDescriptionBytes) {
    error = "the description is " + std::to_string(text.size()) +
            " bytes, over the 1 MiB limit";
    return false;
  }
  if (text.substr(0, 3) == "\xEF\xBB\xBF")
    text.remove_prefix(3);
  bool sawVersion = false;
  while (!text.empty()) {
    size_t end = std::min(text.find('\n'), text.size());
    std::string_view raw = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    ++line;
    if (raw.size() > kMaxChipLineBytes) {
      error = "line " + std::to_string(line) + ": longer than 4096 bytes";
      return false;
    }
    std::string_view content = trim(raw.substr(0, raw.find('#')));
    if (!content.empty() && content.back() == '\r')
      content = trim(content.substr(0, content.size() - 1));
    if (content.empty())
      continue;
    if (!sawVersion) {
      if (!parseVersion(content))
        return false;
      sawVersion = true;
      continue;
    }
    size_t equals = content.find('=');
    if (equals == std::string_view::npos || equals == 0) {
      error = "line " + std::to_string(line) +
              ": expected 'key = value', not " + quoteInput(content);
      return false;
    }
    if (!parseKey(trim(content.substr(0, equals)),
                  trim(content.substr(equals + 1))))
      return false;
  }
  line = std::max(line, 1u);
  if (!sawVersion) {
    error = "line " + std::to_string(line) +
            " (end of file): expected the version line '" + kVersionWord + " " +
            std::to_string(kChipFormatVersion) + "'";
    return false;
  }
  Where where{&lines, line};
  std::vector<std::string> required = {"name"};
  for (const NumberKey &number : kNumberKeys)
    required.push_back(number.key);
  for (int space = 1; space < kSpaceCount; ++space)
    required.push_back(std::string("buffer ") + kSpaceNames[space]);
  for (const std::string &key : required)
    if (!lines.count(key)) {
      error = where(key, "required key is missing");
      return false;
    }
  error = checkWhole(chip, where);
  return error.empty();
}

} // namespace

bool moec::npu::parseChipDescription(const std::string &text,
                                     ChipDescription &chip,
                                     std::string &error) {
  Parser parser;
  if (!parser.parseText(text)) {
    error = parser.error;
    return false;
  }
  chip = std::move(parser.chip);
  return true;
}

bool moec::npu::readChipDescription(const std::string &path,
                                    ChipDescription &chip, std::string &error) {
  // A FIFO or a device would block or never end: only regular files.
  std::error_code code;
  if (!std::filesystem::is_regular_file(path, code)) {
    error = path + (code ? ": cannot open: " + code.message()
                         : ": not a regular file");
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) {
    error = path + ": cannot open";
    return false;
  }
  std::string text(kMaxChipDescriptionBytes + 1, '\0');
  in.read(text.data(), text.size());
  if (in.bad() || (!in && !in.eof())) {
    error = path + ": cannot read";
    return false;
  }
  text.resize(in.gcount());
  if (!parseChipDescription(text, chip, error)) {
    error = path + ": " + error;
    return false;
  }
  return true;
}
