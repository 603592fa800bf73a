//===- CommandStream.cpp - The NPU's binary command stream ----------------===//
//
// Encoding, decoding and validation. The decoder reads files a binary embeds
// and is fuzzed: it bounds every count by the bytes left before allocating
// and checks every field the simulator indexes with.
//
//===----------------------------------------------------------------------===//

#include "machine/CommandStream.h"

#include <cstring>

using namespace moec::npu;

static constexpr size_t kHeaderBytes = 24;
static constexpr size_t kSegmentFixedBytes = 20;
static constexpr uint64_t kMaxSegments = uint64_t(1) << 16;
static constexpr uint64_t kMaxSegmentBytes = uint64_t(1) << kSegmentShift;
static constexpr uint64_t kMaxNameBytes = 4096;
static constexpr uint64_t kMaxCommandsPerCore = uint64_t(1) << 28;
static constexpr unsigned kMaxLoopDepth = 16;

/// The opcode's name, or null for a value outside the enum.
static const char *knownName(Opcode opcode) {
  switch (opcode) {
#define MOEC_OPCODE(name)                                                      \
  case Opcode::name:                                                           \
    return #name;
    MOEC_OPCODE(S_MOV)
    MOEC_OPCODE(S_ADD)
    MOEC_OPCODE(S_SUB)
    MOEC_OPCODE(S_MUL)
    MOEC_OPCODE(S_DIV)
    MOEC_OPCODE(S_MIN)
    MOEC_OPCODE(S_MAX)
    MOEC_OPCODE(S_SELECT)
    MOEC_OPCODE(S_LOAD)
    MOEC_OPCODE(S_STORE)
    MOEC_OPCODE(LOOP_BEGIN)
    MOEC_OPCODE(LOOP_END)
    MOEC_OPCODE(SET_FLAG)
    MOEC_OPCODE(WAIT_FLAG)
    MOEC_OPCODE(BARRIER_ALL)
    MOEC_OPCODE(DMA_COPY)
    MOEC_OPCODE(DMA_GATHER)
    MOEC_OPCODE(DMA_ND_TO_FRACTAL)
    MOEC_OPCODE(DMA_FRACTAL_TO_ND)
    MOEC_OPCODE(MMAD)
    MOEC_OPCODE(V_ADD)
    MOEC_OPCODE(V_SUB)
    MOEC_OPCODE(V_MUL)
    MOEC_OPCODE(V_DIV)
    MOEC_OPCODE(V_MAX)
    MOEC_OPCODE(V_MIN)
    MOEC_OPCODE(V_EXP)
    MOEC_OPCODE(V_NEG)
    MOEC_OPCODE(V_ABS)
    MOEC_OPCODE(V_SQRT)
    MOEC_OPCODE(V_LOG)
    MOEC_OPCODE(V_DUP)
    MOEC_OPCODE(V_REDUCE_SUM)
    MOEC_OPCODE(V_REDUCE_MAX)
    MOEC_OPCODE(V_CAST)
    MOEC_OPCODE(V_UNPACK_INT4)
    MOEC_OPCODE(V_TOPK)
#undef MOEC_OPCODE
  }
  return nullptr;
}

const char *moec::npu::opcodeName(Opcode opcode) {
  const char *name = knownName(opcode);
  return name ? name : "?";
}

static bool isKnownOpcode(uint16_t value) {
  return knownName(Opcode(value)) != nullptr;
}

//===----------------------------------------------------------------------===//
// Validation
//===----------------------------------------------------------------------===//

static std::string where(size_t core, size_t index, const Command &command) {
  return "core " + std::to_string(core) + ", command " + std::to_string(index) +
         " (" + opcodeName(command.opcode) + "): ";
}

/// Whether arg0 names the register a command writes.
static bool writesRegister(Opcode opcode) {
  return (opcode >= Opcode::S_MOV && opcode <= Opcode::S_LOAD) ||
         opcode == Opcode::LOOP_BEGIN;
}

/// The fields of one command other than loop nesting; "" when valid.
static std::string checkCommand(const Command &command) {
  for (unsigned i = 0; i < kOperandCount; ++i)
    if (command.reg[i] >= kRegisterCount)
      return "register index " + std::to_string(command.reg[i]) + " of reg[" +
             std::to_string(i) + "] out of range (32 registers)";
  Opcode op = command.opcode;
  if (writesRegister(op) &&
      (command.arg[0] < 0 || command.arg[0] >= int64_t(kRegisterCount)))
    return "destination register " + std::to_string(command.arg[0]) +
           " (arg0) out of range (32 registers)";
  auto badSpace = [](unsigned space) { return space >= unsigned(kSpaceCount); };
  auto badType = [](unsigned type) { return type > unsigned(ElemType::U8); };
  switch (op) {
  case Opcode::S_LOAD:
  case Opcode::S_STORE:
    if (badSpace(command.dtype))
      return "space " + std::to_string(command.dtype) + " (dtype) unknown";
    break;
  case Opcode::SET_FLAG:
  case Opcode::WAIT_FLAG:
    for (unsigned i = 0; i < 2; ++i)
      if (command.arg[i] < 0 || command.arg[i] >= kPipeCount)
        return "pipe " + std::to_string(command.arg[i]) + " (arg" +
               std::to_string(i) + ") unknown (6 pipes)";
    if (command.reg[2] == 0 &&
        (command.arg[2] < 0 || command.arg[2] >= int64_t(kEventCount)))
      return "event " + std::to_string(command.arg[2]) +
             " out of range (8 events)";
    break;
  case Opcode::DMA_COPY:
  case Opcode::DMA_GATHER:
  case Opcode::DMA_ND_TO_FRACTAL:
  case Opcode::DMA_FRACTAL_TO_ND:
    if (badSpace(command.dtype >> 4) || badSpace(command.dtype & 15))
      return "dtype " + std::to_string(command.dtype) +
             " names an unknown space (to " +
             std::to_string(command.dtype >> 4) + ", from " +
             std::to_string(command.dtype & 15) + ")";
    if (op == Opcode::DMA_COPY && command.flags &&
        (command.flags != 1 || Space(command.dtype >> 4) != Space::GM))
      return "flags " + std::to_string(command.flags) +
             ": a copy adds (1) into GM only";
    if (op == Opcode::DMA_ND_TO_FRACTAL &&
        (badType(command.flags & 15) || (command.flags >> 4) > 1))
      return "element type " + std::to_string(command.flags & 15) +
             " and transpose bit " + std::to_string(command.flags >> 4) +
             " (flags) unknown";
    break;
  case Opcode::V_CAST:
    if (badType(command.flags >> 4))
      return "source element type " + std::to_string(command.flags >> 4) +
             " (flags >> 4) unknown";
    [[fallthrough]];
  default:
    if ((op == Opcode::MMAD || op >= Opcode::V_ADD) && badType(command.dtype))
      return "element type " + std::to_string(command.dtype) +
             " (dtype) unknown";
    break;
  }
  return "";
}

static bool validateCore(const std::vector<Command> &commands, size_t core,
                         std::string &error) {
  if (commands.size() > kMaxCommandsPerCore) {
    error = "core " + std::to_string(core) + ": " +
            std::to_string(commands.size()) +
            " commands, more than the 2^28 a core may have";
    return false;
  }
  size_t open[kMaxLoopDepth];
  unsigned depth = 0;
  for (size_t i = 0; i < commands.size(); ++i) {
    const Command &command = commands[i];
    if (!isKnownOpcode(uint16_t(command.opcode))) {
      error = "core " + std::to_string(core) + ", command " +
              std::to_string(i) + ": unknown opcode " +
              std::to_string(unsigned(command.opcode));
      return false;
    }
    std::string what = checkCommand(command);
    if (what.empty() && command.opcode == Opcode::LOOP_BEGIN) {
      if (depth == kMaxLoopDepth)
        what = "loops nested more than 16 deep";
      else
        open[depth++] = i;
    } else if (what.empty() && command.opcode == Opcode::LOOP_END) {
      if (depth == 0)
        what = "LOOP_END without a LOOP_BEGIN";
      else
        --depth;
    }
    if (!what.empty()) {
      error = where(core, i, command) + what;
      return false;
    }
  }
  if (depth != 0) {
    error = where(core, open[depth - 1], commands[open[depth - 1]]) +
            "LOOP_BEGIN without a LOOP_END";
    return false;
  }
  return true;
}

bool moec::npu::validateProgram(const Program &program, std::string &error) {
  if (program.segments.size() > kMaxSegments) {
    error = std::to_string(program.segments.size()) +
            " segments, more than the 65536 addresses can name";
    return false;
  }
  for (size_t i = 0; i < program.segments.size(); ++i) {
    const Segment &segment = program.segments[i];
    std::string what;
    if (unsigned(segment.kind) > unsigned(SegmentKind::Call))
      what = "kind " + std::to_string(unsigned(segment.kind)) + " unknown";
    else if (segment.bytes > kMaxSegmentBytes)
      what = std::to_string(segment.bytes) + " bytes, more than 2^40";
    else if (segment.name.size() > kMaxNameBytes)
      what = "name of " + std::to_string(segment.name.size()) +
             " bytes, more than 4096";
    if (!what.empty()) {
      error = "segment " + std::to_string(i) + ": " + what;
      return false;
    }
  }
  for (size_t core = 0; core < program.cores.size(); ++core)
    if (!validateCore(program.cores[core], core, error))
      return false;
  return true;
}

//===----------------------------------------------------------------------===//
// Encoding
//===----------------------------------------------------------------------===//

namespace {
/// Appends little-endian integers.
struct Writer {
  std::string &out;
  void bytes(const void *data, size_t size) {
    out.append(static_cast<const char *>(data), size);
  }
  template <typename T> void integer(T value) {
    uint8_t buffer[sizeof(T)];
    for (size_t i = 0; i < sizeof(T); ++i)
      buffer[i] = uint8_t(uint64_t(value) >> (8 * i));
    bytes(buffer, sizeof(T));
  }
  void zeros(size_t count) { out.append(count, '\0'); }
};

/// Reads little-endian integers, never past the end.
struct Reader {
  const uint8_t *data;
  size_t size, at = 0;
  size_t left() const { return size - at; }
  template <typename T> bool integer(T &value) {
    if (left() < sizeof(T))
      return false;
    uint64_t result = 0;
    for (size_t i = 0; i < sizeof(T); ++i)
      result |= uint64_t(data[at + i]) << (8 * i);
    value = T(result);
    at += sizeof(T);
    return true;
  }
  /// Skips `count` bytes that must be zero; false if they are not (or are
  /// not there).
  bool zeros(size_t count) {
    if (left() < count)
      return false;
    for (size_t i = 0; i < count; ++i)
      if (data[at + i] != 0)
        return false;
    at += count;
    return true;
  }
};
} // namespace

static size_t paddingTo8(size_t bytes) { return (8 - bytes % 8) % 8; }

std::string moec::npu::encodeProgram(const Program &program) {
  std::string out;
  size_t commands = 0;
  for (const std::vector<Command> &core : program.cores)
    commands += core.size();
  out.reserve(kHeaderBytes + program.segments.size() * 32 +
              program.cores.size() * 8 + commands * kCommandBytes);
  Writer w{out};
  w.bytes(kStreamMagic, sizeof(kStreamMagic));
  w.integer(kStreamFormatVersion);
  w.integer(uint32_t(program.cores.size()));
  w.integer(uint32_t(program.segments.size()));
  w.integer(uint32_t(0));
  for (const Segment &segment : program.segments) {
    w.integer(uint8_t(segment.kind));
    w.zeros(7);
    w.integer(segment.bytes);
    w.integer(uint32_t(segment.name.size()));
    w.bytes(segment.name.data(), segment.name.size());
    w.zeros(paddingTo8(kSegmentFixedBytes + segment.name.size()));
  }
  for (const std::vector<Command> &core : program.cores) {
    w.integer(uint64_t(core.size()));
    for (const Command &command : core) {
      w.integer(uint16_t(command.opcode));
      w.integer(command.dtype);
      w.integer(command.flags);
      w.integer(uint32_t(0));
      w.bytes(command.reg, kOperandCount);
      for (int64_t arg : command.arg)
        w.integer(arg);
    }
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Decoding
//===----------------------------------------------------------------------===//

static bool decodeSegments(Reader &r, uint32_t count, Program &program,
                           std::string &error) {
  // Each segment takes at least 24 bytes: bound the count before reserving.
  if (count > kMaxSegments || uint64_t(count) * 24 > r.left()) {
    error = "segment count " + std::to_string(count) +
            (count > kMaxSegments ? " is more than 65536"
                                  : " is more than the file holds");
    return false;
  }
  program.segments.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    Segment &segment = program.segments[i];
    std::string prefix = "segment " + std::to_string(i) + ": ";
    uint8_t kind = 0;
    uint32_t nameBytes = 0;
    if (!r.integer(kind) || !r.zeros(7) || !r.integer(segment.bytes) ||
        !r.integer(nameBytes)) {
      error = prefix + "truncated, or nonzero reserved bytes";
      return false;
    }
    if (kind > uint8_t(SegmentKind::Call)) {
      error = prefix + "kind " + std::to_string(kind) + " unknown";
      return false;
    }
    segment.kind = SegmentKind(kind);
    if (segment.bytes > kMaxSegmentBytes) {
      error = prefix + std::to_string(segment.bytes) + " bytes, more than 2^40";
      return false;
    }
    if (nameBytes > kMaxNameBytes || nameBytes > r.left()) {
      error = prefix + "name of " + std::to_string(nameBytes) + " bytes " +
              (nameBytes > kMaxNameBytes ? "is longer than 4096"
                                         : "runs past the end of the file");
      return false;
    }
    segment.name.assign(reinterpret_cast<const char *>(r.data + r.at),
                        nameBytes);
    r.at += nameBytes;
    if (!r.zeros(paddingTo8(kSegmentFixedBytes + nameBytes))) {
      error = prefix + "truncated, or nonzero padding after the name";
      return false;
    }
  }
  return true;
}

static bool decodeCore(Reader &r, size_t core, std::vector<Command> &commands,
                       std::string &error) {
  std::string prefix = "core " + std::to_string(core) + ": ";
  uint64_t count = 0;
  if (!r.integer(count)) {
    error = prefix + "truncated before its command count";
    return false;
  }
  if (count > kMaxCommandsPerCore) {
    error = prefix + std::to_string(count) +
            " commands, more than the 2^28 a core may have";
    return false;
  }
  if (count * kCommandBytes > r.left()) {
    error = prefix + std::to_string(count) + " commands (" +
            std::to_string(count * kCommandBytes) + " bytes) but " +
            std::to_string(r.left()) + " bytes are left";
    return false;
  }
  commands.resize(count);
  for (uint64_t i = 0; i < count; ++i) {
    Command &command = commands[i];
    uint16_t opcode = 0;
    r.integer(opcode);
    r.integer(command.dtype);
    r.integer(command.flags);
    if (!isKnownOpcode(opcode)) {
      error = prefix.substr(0, prefix.size() - 2) + ", command " +
              std::to_string(i) + ": unknown opcode " + std::to_string(opcode);
      return false;
    }
    command.opcode = Opcode(opcode);
    if (!r.zeros(4)) {
      error = where(core, i, command) + "nonzero reserved bytes";
      return false;
    }
    std::memcpy(command.reg, r.data + r.at, kOperandCount);
    r.at += kOperandCount;
    for (int64_t &arg : command.arg)
      r.integer(arg);
  }
  return true;
}

static bool decodeInto(const uint8_t *data, size_t size, Program &program,
                       std::string &error) {
  Reader r{data, data ? size : 0};
  if (r.left() < kHeaderBytes ||
      std::memcmp(data, kStreamMagic, sizeof(kStreamMagic)) != 0) {
    error = "not an NPU command stream (no 'MOECNPU' magic)";
    return false;
  }
  r.at = sizeof(kStreamMagic);
  uint32_t version = 0, cores = 0, segments = 0;
  r.integer(version);
  r.integer(cores);
  r.integer(segments);
  if (version != kStreamFormatVersion) {
    error = "command stream format version " + std::to_string(version) +
            ", but this build reads version " +
            std::to_string(kStreamFormatVersion);
    return false;
  }
  if (!r.zeros(4)) {
    error = "nonzero reserved bytes in the header";
    return false;
  }
  if (!decodeSegments(r, segments, program, error))
    return false;
  // Each core takes at least its 8-byte count.
  if (uint64_t(cores) * 8 > r.left()) {
    error =
        "core count " + std::to_string(cores) + " is more than the file holds";
    return false;
  }
  program.cores.resize(cores);
  for (uint32_t core = 0; core < cores; ++core)
    if (!decodeCore(r, core, program.cores[core], error))
      return false;
  if (r.left() != 0) {
    error = std::to_string(r.left()) + " bytes after the last core";
    return false;
  }
  return validateProgram(program, error);
}

bool moec::npu::decodeProgram(const uint8_t *data, size_t size,
                              Program &program, std::string &error) {
  program = Program();
  if (decodeInto(data, size, program, error))
    return true;
  program = Program();
  return false;
}
