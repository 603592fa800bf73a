//===- Lowering.h - Lowering one entry point to the NPU ---------*- C++ -*-===//
//
// ProgramLowering writes one npu.program: an entry point at one static
// token count. Every tensor lives in global memory (a workspace segment, an
// input, an output or a packed weight); each op becomes a phase of
// commands on every core, which ends at a barrier_all. The op lowerings
// (LowerMatmul.cpp, LowerRouting.cpp, LowerVector.cpp) share this state.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_TRANSFORMS_LOWERING_H
#define MOEC_TARGETS_NPU_TRANSFORMS_LOWERING_H

#include "Transforms/StreamBuilder.h"
#include "dialects/moe/IR/MoeAttrs.h"
#include "machine/ChipDescription.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace moec::npu {

/// A matrix in global memory: `rows` x `cols` elements, row-major, rows
/// `rowBytes` apart, at `address` (segment << 40 | offset).
struct GmMatrix {
  uint64_t address = 0;
  int64_t rows = 0, cols = 0;
  ElemType elem = ElemType::F32;
  /// Bytes between rows when they are not packed (a view of columns).
  int64_t stride = 0;
  int64_t rowBytes() const { return cols * elemTypeBytes(elem); }
  int64_t rowStride() const { return stride ? stride : rowBytes(); }
  uint64_t bytes() const { return uint64_t(rows) * rowStride(); }
};

/// A weight packed for the cube: per group (expert) and per block of
/// `blockN` output rows, one unit of the block's rows over all of k, in
/// chunks of `blockK` inputs; each chunk is blockN x (its k rounded up to
/// the cube's k) elements in the cube's B fractal tiles, zero padded.
struct PackedMatrix {
  uint64_t address = 0;
  int64_t groups = 0, n = 0, k = 0;
  int64_t blockN = 0, blockK = 0, cubeN = 16, cubeK = 16;
  ElemType elem = ElemType::F16;
  int64_t elemBytes() const { return elemTypeBytes(elem); }
  int64_t paddedK() const { return (k + cubeK - 1) / cubeK * cubeK; }
  int64_t nBlocks() const { return (n + blockN - 1) / blockN; }
  int64_t kBlocks() const { return (k + blockK - 1) / blockK; }
  int64_t unitBytes() const { return blockN * paddedK() * elemBytes(); }
  int64_t chunkOffset(int64_t kb) const {
    return blockN * kb * blockK * elemBytes();
  }
  int64_t chunkBytes(int64_t kb) const {
    int64_t cols = std::min(blockK, k - kb * blockK);
    return blockN * ((cols + cubeK - 1) / cubeK * cubeK) * elemBytes();
  }
  uint64_t bytes() const { return uint64_t(groups * nBlocks()) * unitBytes(); }
};

/// A quantized weight kept quantized: `values` holds its int8 or int4
/// elements in the chunks and fractal order of `layout` (two int4 a byte,
/// low nibble first); `scales` and `offsets` one f32 each per tile row (the
/// cube's k elements of one output row) in the same order, so that the
/// vector unit dequantizes a chunk as q * scale + offset, then rounds it to
/// the cube's type.
struct QuantizedMatrix {
  PackedMatrix layout;
  uint64_t values = 0, scales = 0, offsets = 0;
  unsigned bits = 8;
  bool isSigned = true;
  /// Bytes of chunk kb's values, and of its scales.
  int64_t valueBytes(int64_t kb) const {
    return layout.chunkBytes(kb) / layout.elemBytes() * bits / 8;
  }
  int64_t scaleBytes(int64_t kb) const {
    return layout.chunkBytes(kb) / layout.elemBytes() / layout.cubeK * 4;
  }
  /// Offsets of a unit's (group, n block) data in the three arrays.
  int64_t unitValueBytes() const {
    return layout.unitBytes() / layout.elemBytes() * bits / 8;
  }
  int64_t unitScaleBytes() const {
    return layout.unitBytes() / layout.elemBytes() / layout.cubeK * 4;
  }
};

/// A weight the programs read, packed once per entry point and shared by
/// its token-count buckets.
struct PackedWeight {
  std::string key;
  std::vector<uint8_t> bytes;
};

/// Packed weights of one entry point, by the value they were made from.
struct WeightTable {
  std::vector<PackedWeight> weights;
  llvm::DenseMap<mlir::Value, unsigned> byValue;
  /// The same, for weights placed as they are (f32 rows): a value may be
  /// both (tied embeddings: looked up as rows, multiplied on the cube).
  llvm::DenseMap<mlir::Value, unsigned> plainByValue;
  /// Arrays the lowering generates (RoPE tables, index rows), by key.
  llvm::StringMap<unsigned> byKey;
};

class ProgramLowering {
public:
  ProgramLowering(const ChipDescription &chip, ElemType cubeType,
                  int64_t tokens, mlir::ModuleOp module, mlir::Location loc,
                  llvm::StringRef entry, unsigned inputCount,
                  WeightTable &weights);

  const ChipDescription &chip;
  /// The cube's input type for float matmuls (f16 or bf16).
  ElemType cubeType;
  /// The program's static token count.
  int64_t tokens;
  mlir::Location loc;
  unsigned inputCount;
  WeightTable &weights;

  ProgramOp getProgram() { return program; }
  unsigned coreCount() const { return unsigned(cores.size()); }
  StreamBuilder &core(unsigned i) { return *cores[i]; }

  /// A new segment; returns its index.
  uint32_t addSegment(llvm::StringRef kind, uint64_t bytes,
                      llvm::StringRef name);
  /// Workspace for a rows x cols matrix, 64-byte aligned.
  GmMatrix allocate(int64_t rows, int64_t cols, ElemType elem);
  /// Sets the workspace segment's size; call once every phase is written.
  void finish();

  /// Ends a phase: every core waits for every other.
  void barrier();
  /// Phases ended so far.
  size_t barrierCount() const { return phases.size(); }
  /// Replaces the BARRIER_ALL that ended the last phase by a drain of each
  /// core's own pipes, so that the next op's commands join the phase (an op
  /// that reads nothing the last phase wrote) without waiting for the
  /// other cores.
  void dropLastBarrier();
  /// The op the next phases lower (their label in the image).
  std::string phaseLabel;

  /// The pipe the chip uses for a copy from `from` to `to` (lower case),
  /// or an error on the program.
  mlir::FailureOr<std::string> engine(Space from, Space to);

  /// Splits `count` items over the cores: core `i` takes [begin, end).
  std::pair<int64_t, int64_t> share(int64_t count, unsigned i) const;

  /// Emits an error at the lowered op's location.
  mlir::InFlightDiagnostic emitError() { return mlir::emitError(loc); }

  /// The chip's scratchpad size of `space`.
  uint64_t bufferBytes(Space space) const {
    return chip.spaceBytes[int(space)];
  }

private:
  ProgramOp program;
  std::vector<std::unique_ptr<StreamBuilder>> cores;
  uint64_t workspaceBytes = 0;
  unsigned segmentCount = 0;
  std::vector<std::string> phases;
  SegmentOp workspace;
};

/// The engines that bring rows from GM into UB and store them back, for
/// the vector phases; an error on the program when the chip lacks a path.
struct UbEngines {
  std::string in, out;
  static mlir::FailureOr<UbEngines> get(ProgramLowering &lowering);
};

/// `bytes` rounded up to a multiple of 64 (buffers in a scratchpad).
inline int64_t align64(int64_t bytes) { return (bytes + 63) / 64 * 64; }

const char *elemName(ElemType type);
const char *spaceLower(Space space);

// Op lowerings, one phase each; each writes its result's matrix.

/// out[rows, n] = rows[rows, k] * W[group]^T (+ bias) per group of rows:
/// group g owns rows offsets[g] .. offsets[g + 1]. `offsets` is an int32
/// array in global memory, or null for one group of all rows.
/// A gated activation in a grouped matmul's epilogue: the weight is packed
/// in gate/up blocks of 2 * `half` rows (Packing.h, RowOrder), and `out`
/// is the activation's [rows, width].
struct FusedActivation {
  moe::ActivationKind kind = moe::ActivationKind::SiluGated;
  double alpha = 1.0, beta = 0.0;
  std::optional<double> limit;
  int64_t half = 0;
};

/// Int8 rows times int8 weights on the i8 cube (--act=int8): the rows are
/// q_x with a scale per row (`rowScales`, [1, M]) and, when the weight has
/// zero points, the sum of each row's q_x (`rowSums`); the weight is q_w
/// with one scale per output row (`columnScales`, [groups, n]) and
/// `corrections` [groups, n] (-zero point, when there is one). A tile's
/// int32 sums become (acc + correction * rowSum) * columnScale * rowScale.
struct Int8Epilogue {
  GmMatrix rowScales, columnScales;
  std::optional<GmMatrix> rowSums, corrections;
};

/// Without `offsets`, the rows the run time counts (the last rows of a
/// prompt for the LM head), as each core computes them; null: all.
using RowsAtRunTime = std::function<Val(StreamBuilder &, ScopedRegisters &)>;

/// With `quantized`, `weight` is its layout and the chunks are dequantized
/// on the way to L1. With `activation`, the units' outputs go through it.
/// With `int8`, the rows and the weight are int8 (Int8Epilogue).
mlir::LogicalResult
lowerGroupedMatmul(ProgramLowering &lowering, const GmMatrix &rows,
                   const PackedMatrix &weight, const GmMatrix *offsets,
                   const GmMatrix *bias, const GmMatrix &out,
                   const QuantizedMatrix *quantized = nullptr,
                   const FusedActivation *activation = nullptr,
                   const Int8Epilogue *int8 = nullptr,
                   const RowsAtRunTime &runtimeRows = nullptr);

/// A float matrix in the cube's input type (a phase of vector casts).
/// `split` writes [high, high, low] with x = high + low, both in that type:
/// times a weight packed as [high; low; high] (Packing.h), the cube's three
/// products carry nearly f32 precision (for the router's logits, where a
/// rounding could change which experts a token picks).
mlir::FailureOr<GmMatrix> castForCube(ProgramLowering &lowering,
                                      const GmMatrix &input,
                                      bool split = false);

} // namespace moec::npu

#endif // MOEC_TARGETS_NPU_TRANSFORMS_LOWERING_H
