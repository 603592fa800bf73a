//===- Memory.cpp - Bounds, alignment and race checks ---------------------===//
//
// Every access a command makes goes through resolveRegion (is it inside its
// space or segment, aligned, writable) and trackRegion (does it overlap an
// access of another pipe still in flight: a missing flag).
//
//===----------------------------------------------------------------------===//

#include "sim/SimState.h"

#include <algorithm>

using namespace moec::npu;
using namespace moec::npu::sim;

const char *sim::pipeLabel(Pipe pipe) {
  static const char *const kLabels[kPipeCount] = {"S",    "M",    "V",
                                                  "MTE1", "MTE2", "MTE3"};
  return unsigned(pipe) < kPipeCount ? kLabels[unsigned(pipe)] : "?";
}

const char *sim::spaceLabel(Space space) {
  static const char *const kLabels[kSpaceCount] = {"GM",  "L1",  "L0A",
                                                   "L0B", "L0C", "UB"};
  return unsigned(space) < kSpaceCount ? kLabels[unsigned(space)] : "?";
}

/// "GM segment 2 'x'" or "UB".
static std::string spaceText(const Machine &m, Space space, int64_t address) {
  if (space != Space::GM)
    return spaceLabel(space);
  uint64_t segment = uint64_t(address) >> kSegmentShift;
  std::string text = "GM segment " + std::to_string(segment);
  if (segment < m.program.segments.size() &&
      !m.program.segments[segment].name.empty())
    text += " '" + m.program.segments[segment].name + "'";
  return text;
}

std::string sim::describeAddress(const Machine &m, Space space,
                                 int64_t address) {
  int64_t offset =
      space == Space::GM ? int64_t(address & kOffsetMask) : address;
  return spaceText(m, space, address) + "[" + std::to_string(offset) + "]";
}

static std::string describeRegion(const Region &r) {
  std::string text = std::to_string(r.rows) + " row" +
                     (r.rows == 1 ? "" : "s") + " of " +
                     std::to_string(r.rowBytes) + " bytes";
  if (r.rows > 1)
    text += " " + std::to_string(r.stride) + " apart";
  return text;
}

bool sim::resolveRegion(Machine &m, Core &core, const Region &r, uint8_t *&base,
                        std::string &what) {
  base = nullptr;
  if (r.rows < 0 || r.rowBytes < 0) {
    what = "negative size: " + describeRegion(r);
    return false;
  }
  if (r.rows == 0 || r.rowBytes == 0)
    return true;
  // The lowest and highest byte over all rows, in 128 bits: strides and
  // addresses are whatever the registers hold.
  __int128 last = __int128(r.rows - 1) * r.stride;
  __int128 low = std::min<__int128>(0, last);
  __int128 high = std::max<__int128>(0, last) + r.rowBytes;
  if (r.elemBytes > 1 &&
      (uint64_t(r.address) % r.elemBytes != 0 ||
       (r.rows > 1 && uint64_t(r.stride) % r.elemBytes != 0))) {
    what = "unaligned access: elements of " + std::to_string(r.elemBytes) +
           " bytes at " + describeAddress(m, r.space, r.address) + " (" +
           describeRegion(r) + ")";
    return false;
  }
  uint8_t *data;
  uint64_t size;
  int64_t offset;
  if (r.space == Space::GM) {
    uint64_t segment = uint64_t(r.address) >> kSegmentShift;
    if (r.address < 0 || segment >= m.program.segments.size()) {
      what = "GM address " + std::to_string(r.address) + " names segment " +
             std::to_string(segment) + ", but the program has " +
             std::to_string(m.program.segments.size());
      return false;
    }
    offset = int64_t(r.address & kOffsetMask);
    // A state segment is as large as the buffer bound to it.
    size = m.program.segments[segment].kind == SegmentKind::State
               ? m.segments[segment].bytes
               : m.program.segments[segment].bytes;
    data = m.segments[segment].data;
    if (r.write && !m.segments[segment].writable) {
      what = "write to read-only " + spaceText(m, r.space, r.address);
      return false;
    }
  } else {
    offset = r.address;
    size = core.memoryBytes[int(r.space)];
    data = core.memory[int(r.space)].get();
  }
  if (offset + low < 0 || offset + high > __int128(size)) {
    what = spaceText(m, r.space, r.address) +
           " access out of range: " + describeRegion(r) + " from " +
           std::to_string(offset) + " (" + std::to_string(size) + " bytes)";
    return false;
  }
  base = data + offset;
  return true;
}

/// The race message for an access of `r` on `pipe` at `start` overlapping
/// `block`, an access by `otherOp` on `otherPipe` until `otherEnd`.
static std::string raceMessage(const Machine &m, const Region &r, Pipe pipe,
                               Opcode opcode, uint64_t start,
                               int64_t blockAddress, bool otherWrites,
                               uint8_t otherOp, uint8_t otherPipe,
                               uint64_t otherEnd) {
  int64_t offset =
      r.space == Space::GM ? int64_t(blockAddress & kOffsetMask) : blockAddress;
  return std::string("race: ") + opcodeName(opcode) + " on " + pipeLabel(pipe) +
         " at cycle " + std::to_string(start) +
         (r.write ? " writes " : " reads ") +
         spaceText(m, r.space, blockAddress) + "[" + std::to_string(offset) +
         ".." + std::to_string(offset + kBlockBytes - 1) + "] " +
         (otherWrites ? "written" : "read") + " by " +
         opcodeName(Opcode(otherOp)) + " on " + pipeLabel(Pipe(otherPipe)) +
         " until cycle " + std::to_string(otherEnd) +
         " (missing SET_FLAG/WAIT_FLAG)";
}

/// Checks and records the blocks of bytes [from, to) of `table`, a page of
/// blocks at a time.
static bool trackBytes(const Machine &m, BlockTable &table, const Region &r,
                       int64_t addressBase, uint64_t from, uint64_t to,
                       uint8_t pipe, uint8_t op, Span span, std::string &what) {
  uint64_t index = from / kBlockBytes, end = (to - 1) / kBlockBytes + 1;
  while (index < end) {
    uint64_t count;
    BlockState *blocks = table.run(index, count);
    count = std::min(count, end - index);
    for (uint64_t i = 0; i < count; ++i) {
      BlockState &b = blocks[i];
      auto race = [&](bool otherWrites, uint8_t otherOp, uint8_t otherPipe,
                      uint64_t otherEnd) {
        what = raceMessage(m, r, Pipe(pipe), Opcode(op), span.start,
                           addressBase + int64_t((index + i) * kBlockBytes),
                           otherWrites, otherOp, otherPipe, otherEnd);
        return false;
      };
      // Read after write, and write after write.
      if (b.writePipe != pipe && b.writeEnd > span.start)
        return race(true, b.writeOp, b.writePipe, b.writeEnd);
      if (r.write) {
        // Write after read: the latest read by another pipe.
        bool first = b.readPipe != pipe;
        uint64_t readEnd = first ? b.readEnd : b.otherReadEnd;
        if (readEnd > span.start)
          return race(false, first ? b.readOp : b.otherReadOp,
                      first ? b.readPipe : b.otherReadPipe, readEnd);
        b.writeEnd = span.end;
        b.writePipe = pipe;
        b.writeOp = op;
      } else if (pipe == b.readPipe) {
        b.readEnd = std::max(b.readEnd, span.end);
      } else if (span.end > b.readEnd) {
        b.otherReadEnd = b.readEnd;
        b.otherReadPipe = b.readPipe;
        b.otherReadOp = b.readOp;
        b.readEnd = span.end;
        b.readPipe = pipe;
        b.readOp = op;
      } else if (span.end > b.otherReadEnd) {
        b.otherReadEnd = span.end;
        b.otherReadPipe = pipe;
        b.otherReadOp = op;
      }
    }
    index += count;
  }
  return true;
}

bool sim::trackRegion(Machine &m, Core &core, const Region &r, Pipe pipe,
                      Opcode opcode, Span span, std::string &what) {
  if (r.rows <= 0 || r.rowBytes <= 0)
    return true;
  BlockTable *table;
  int64_t offset, addressBase;
  if (r.space == Space::GM) {
    uint64_t segment = uint64_t(r.address) >> kSegmentShift;
    SegmentKind kind = m.program.segments[segment].kind;
    if (kind != SegmentKind::Workspace && kind != SegmentKind::Output &&
        kind != SegmentKind::State && kind != SegmentKind::Call)
      return true;
    table = &core.gmHazards[segment];
    offset = int64_t(r.address & kOffsetMask);
    addressBase = int64_t(segment << kSegmentShift);
  } else {
    table = &core.hazards[int(r.space)];
    offset = r.address;
    addressBase = 0;
  }
  uint8_t p = uint8_t(pipe), op = uint8_t(opcode);
  // Contiguous rows are one range of blocks.
  if (r.rows == 1 || r.stride == r.rowBytes)
    return trackBytes(m, *table, r, addressBase, uint64_t(offset),
                      uint64_t(offset + r.rows * r.rowBytes), p, op, span,
                      what);
  for (int64_t row = 0; row < r.rows; ++row) {
    int64_t from = offset + row * r.stride;
    if (!trackBytes(m, *table, r, addressBase, uint64_t(from),
                    uint64_t(from + r.rowBytes), p, op, span, what))
      return false;
  }
  return true;
}
