//===- CommandStream.h - The NPU's binary command stream --------*- C++ -*-===//
//
// The contract between the NPU target's code generation and the chip (here,
// its simulator): a program is one command stream per AI core plus the
// global-memory segments it addresses. The compiler writes it with
// ProgramWriter, the binary embeds it, the simulator decodes and runs it.
// docs/npu.md, "The command stream", is the prose form of this header.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_MACHINE_COMMANDSTREAM_H
#define MOEC_TARGETS_NPU_MACHINE_COMMANDSTREAM_H

#include "machine/ChipDescription.h"

#include <cstdint>
#include <string>
#include <vector>

namespace moec::npu {

/// The command stream format version; a program of another version is
/// refused with a message naming both.
constexpr uint32_t kStreamFormatVersion = 2;
constexpr char kStreamMagic[8] = {'M', 'O', 'E', 'C', 'N', 'P', 'U', 0};

/// Global-memory addresses carry their segment in bits 40..55 and the byte
/// offset in it in bits 0..39.
constexpr unsigned kSegmentShift = 40;
constexpr uint64_t kOffsetMask = (uint64_t(1) << kSegmentShift) - 1;
constexpr uint64_t gmAddress(uint32_t segment, uint64_t offset) {
  return (uint64_t(segment) << kSegmentShift) | offset;
}

/// What the host binds to a segment before a run.
enum class SegmentKind : uint8_t {
  /// Zero-initialised scratch the program owns.
  Workspace = 0,
  /// A model input, copied in by the host.
  Input = 1,
  /// A model output, copied out after the run.
  Output = 2,
  /// A weight, mapped read-only from the weights file or the binary.
  Weight = 3,
  /// A state input the program updates in place (a KV cache, a position):
  /// the host binds the runtime's buffer itself, and its size is the
  /// binding's (a cache as long as the binary's --ctx-size); `bytes` is the
  /// least the program needs.
  State = 4,
  /// The call's extents, which the host writes before each run: one int64
  /// per dynamic dimension of the entry's inputs, in their order (the
  /// call's token count, a cache's context).
  Call = 5,
};

struct Segment {
  SegmentKind kind = SegmentKind::Workspace;
  uint64_t bytes = 0;
  /// The input, output or weight it holds (empty for a workspace).
  std::string name;
};

/// 32 scalar registers per core; R0 reads as 0 and ignores writes.
constexpr unsigned kRegisterCount = 32;
/// Flags (events) per ordered pipe pair.
constexpr unsigned kEventCount = 8;
/// Operands per command.
constexpr unsigned kOperandCount = 8;

/// Opcodes. Every operand's value is `arg[i] + R[reg[i]]` (reg 0: arg[i]);
/// below, "v1" is operand 1's value. Where a command names a register or a
/// pipe by arg0/arg1 ("R[arg0]", "pipe `arg0`"), that arg is the number
/// itself and its reg is ignored. Byte addresses are in the space the
/// command names; every access is bounds-checked, and an element of N
/// bytes must be at an address that is a multiple of N.
enum class Opcode : uint16_t {
  // --- Scalar unit (pipe S): 1 cycle each, except S_LOAD from GM. ---
  /// R[arg0] = v1.
  S_MOV = 1,
  /// R[arg0] = v1 op v2 (64-bit, wrapping; S_DIV floors and refuses 0).
  S_ADD = 2,
  S_SUB = 3,
  S_MUL = 4,
  S_DIV = 5,
  S_MIN = 6,
  S_MAX = 7,
  /// R[arg0] = v1 < v2 ? v3 : v4.
  S_SELECT = 8,
  /// R[arg0] = the int32 at space `dtype`, address v1, sign-extended.
  S_LOAD = 9,
  /// int32 at space `dtype`, address v1 = v2.
  S_STORE = 10,
  /// Runs the commands up to the matching LOOP_END v1 times with R[arg0]
  /// = 0, 1, ...; v1 <= 0 skips them. Loops nest (at most 16 deep).
  LOOP_BEGIN = 11,
  LOOP_END = 12,

  // --- Synchronisation. ---
  /// On pipe `arg0` (src): once src's earlier commands complete, raises
  /// event v2 from src to pipe `arg1` (dst).
  SET_FLAG = 20,
  /// On pipe `arg1` (dst): dst waits until event v2 from pipe `arg0` is
  /// raised, and lowers it. Each SET_FLAG is consumed by one WAIT_FLAG.
  WAIT_FLAG = 21,
  /// Every pipe of the core completes its commands, then every core waits
  /// for every other core to reach its BARRIER_ALL (same count on each;
  /// cores with an empty stream take no part).
  BARRIER_ALL = 22,

  // --- DMA (the pipe is the chip's engine for the path). ---
  /// dtype = (to space << 4) | from space. v0 = to address, v1 = from
  /// address; v2 rows of v3 bytes; row r from v1 + r * v4 to v0 + r * v5.
  /// flags bit 0, to GM only: add the rows (f32) to the destination, an
  /// atomic add as Ascend's MTE3 does (it reads and writes the bytes).
  DMA_COPY = 30,
  /// Copies rows chosen by an index list: dtype as DMA_COPY; v0 = to
  /// address, v1 = from base, v2 = UB address of v3 int32 indices; each row
  /// is v4 bytes; row r is from v1 + (idx / v6) * v5 (idx < 0: zeros) to
  /// v0 + r * v7. v6 > 0.
  DMA_GATHER = 31,
  /// ND to fractal: a v2 x v3 matrix of `flags & 15`-typed elements
  /// (ElemType), rows v4 bytes apart from v1, into v5 x v6 fractal tiles at
  /// v0; dtype is the path as DMA_COPY. Elements past the matrix are zero
  /// (whole tiles are written). The tile shape must be positive. flags bit
  /// 4: transposed, the v3 x v2 transpose is written (a [keys, d] block of
  /// values as the cube's B operand [d, keys]); the time is the same.
  DMA_ND_TO_FRACTAL = 32,
  /// Fractal to ND: a v2 x v3 matrix of 32-bit accumulators in v5 x v6
  /// fractal tiles at v1 into rows v4 bytes apart at v0; dtype is the
  /// path. flags bit 0: add (f32) to the destination instead of writing.
  /// Only the matrix's elements are copied; the tile padding is not.
  DMA_FRACTAL_TO_ND = 33,

  // --- Cube (pipe M). ---
  /// C (L0C, v0) {=, +=} A (L0A, v1) * B (L0B, v2)^T with m = v3, k = v4,
  /// n = v5 on the cube shape of input type `dtype` (ElemType); flags bit
  /// 0: accumulate into C. Cycles: ceil(m/cm) * ceil(k/ck) * ceil(n/cn).
  /// The cube computes whole tiles: m, k and n rounded up to the shape,
  /// every element of the A and B tiles read as it is (the compiler
  /// zero-pads) and every element of the C tiles written. f16/bf16: each
  /// output sums its products in k order, rounding product and sum to f32
  /// one at a time (no fused multiply-add); i8: int32 sums that wrap.
  MMAD = 40,

  // --- Vector unit (pipe V), on UB. dtype is the element type. ---
  // Elementwise commands run v4 rows of v3 elements: dst v0 + r * v5,
  // src0 v1 + r * v6, src1 v2 + r * v7. flags bit 0: src1 is one element
  // per row (a broadcast scalar at v2 + r * v7); bit 1 (which wins over
  // bit 0): src1 is an immediate, the low 32 bits of arg[2] (no register)
  // read as an f32, or as an i32 for an i32 command. f32/f16/bf16 compute
  // in f32 and round the result to dtype (V_MAX/V_MIN as fmaxf/fminf:
  // a NaN operand loses); i32 has V_ADD, V_SUB, V_MUL (wrapping), V_MAX,
  // V_MIN and V_DUP only; i8 and u8 have none of them.
  V_ADD = 50,
  V_SUB = 51,
  V_MUL = 52,
  V_DIV = 53,
  V_MAX = 54,
  V_MIN = 55,
  /// Unary: dst = f(src0); src1 unused.
  V_EXP = 56,
  V_NEG = 57,
  V_ABS = 58,
  V_SQRT = 59,
  V_LOG = 60,
  /// dst = src1 (broadcast as flags say): a fill when bit 1 is set.
  V_DUP = 61,
  /// dst[r] (one element) = sum or max of row r of src0 (v3 elements),
  /// in f32 in order from the first element (an empty row: 0 or -inf).
  V_REDUCE_SUM = 62,
  V_REDUCE_MAX = 63,
  /// Conversion: src0 of type `flags >> 4` to dst of type `dtype`,
  /// round-to-nearest-even, once (i32 to f16/bf16 too); to I8 and U8:
  /// rounded to nearest even, then saturated; to I32: truncated toward
  /// zero, then saturated; NaN to an integer type: 0.
  V_CAST = 64,
  /// Unpacks bytes (src0, (v3 + 1) / 2 bytes per row) into v3 elements of
  /// `dtype` (any type), low nibble first; flags bit 2: nibbles are
  /// signed.
  V_UNPACK_INT4 = 65,
  /// Per row r < v4 of v3 f32 scores at v1 + r * v6: the v5 (<= v3)
  /// largest, descending (ties: the lower index first; NaN below every
  /// number), their values to v0 (f32) and their indices to v2 (i32), v5
  /// per row, rows packed. dtype is unused.
  V_TOPK = 66,
};

/// Fractal layout: an R x C matrix in tr x tc tiles is stored tile by
/// tile, tile (i, j) (rows tr*i.., columns tc*j..) at byte
/// (i * ceil(C / tc) + j) * tr * tc * elementBytes, row-major inside the
/// tile, padded with zeros. The cube reads A as cm x ck tiles, B as cn x ck
/// tiles and writes C as cm x cn tiles of its cube shape (CubeShape).

/// One encoded command: 80 bytes, little-endian: u16 opcode, u8 dtype,
/// u8 flags, u32 0, u8 reg[8], i64 arg[8].
struct Command {
  Opcode opcode = Opcode::S_MOV;
  uint8_t dtype = 0;
  uint8_t flags = 0;
  uint8_t reg[kOperandCount] = {};
  int64_t arg[kOperandCount] = {};
};
constexpr size_t kCommandBytes = 80;

struct Program {
  std::vector<Segment> segments;
  /// One command stream per core; a core may have none.
  std::vector<std::vector<Command>> cores;
};

/// The file: magic[8], u32 version, u32 core count, u32 segment count,
/// u32 0; per segment: u8 kind, u8[7] 0, u64 bytes, u32 name length, name
/// bytes, zeros up to a multiple of 8 bytes; per core: u64 command count,
/// then that core's commands. Reserved and padding bytes must be 0 and
/// nothing may follow the last core, so a decoded program encodes back to
/// the same bytes.
std::string encodeProgram(const Program &program);
/// Decodes and validates (opcodes, registers, spaces, loop nesting, sizes);
/// on failure returns false with a message naming the core and command.
bool decodeProgram(const uint8_t *data, size_t size, Program &program,
                   std::string &error);
/// The checks decodeProgram makes, for a program built in code: at most
/// 65536 segments of at most 2^40 bytes with names of at most 4096 bytes;
/// per core at most 2^28 commands; known opcodes; register indices (reg[i],
/// and arg0 where it names a register) below 32; spaces, element types and
/// pipes known; literal events below 8; LOOP_BEGIN/LOOP_END balanced and at
/// most 16 deep. The simulator relies on these.
bool validateProgram(const Program &program, std::string &error);

const char *opcodeName(Opcode opcode);

} // namespace moec::npu

#endif // MOEC_TARGETS_NPU_MACHINE_COMMANDSTREAM_H
