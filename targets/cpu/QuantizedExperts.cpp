//===- QuantizedExperts.cpp - grouped matmul on packed integer weights ----===//
//
// Grouped matmuls whose weight is packed int4 or int8 with K-groups
// (block [1, 1, G]) read the packed bytes as they are stored and dequantize
// in registers; no dequantized copy exists. Two kernels:
//
// * float rows: 16 codes are widened to f32 lanes and scaled in one fused
//   multiply-add, w = q * s - z * s, then multiplied into the rows. An int4
//   byte holds elements 2j (low nibble) and 2j + 1 (high nibble), so the
//   rows are first copied with each 32-element chunk's even elements ahead
//   of its odd ones: the low and the high nibbles of 16 bytes then meet 16
//   contiguous floats each.
// * int8 rows (moec.int8_activations) on AVX-512 VNNI: each row is
//   quantized once, x = sx * xq, and stored as xq + 128 (unsigned); the
//   signed codes multiply it four bytes at a time (vpdpbusd) into i32
//   lanes, which are scaled per group in f32. The +128 adds 128 * sum(q) per
//   group, a per-column constant computed at compile time and subtracted at
//   the end: out = sx * (sum_g s_g * dot_g - 128 * sum_g s_g * sum_g q).
//   On AVX2 the same kernels take 32-byte loads and signed rows: vpsignb
//   moves x's sign onto the codes, vpmaddubsw multiplies |x| by them into
//   i16 pairs and vpmaddwd sums those into i32 lanes; no correction. On
//   aarch64 sdot multiplies signed rows by the codes 16 bytes at a time;
//   other ISAs (RVV, LSX) widen the bytes and multiply on vector
//   operations, with the same lanes.
//
// Unsigned codes whose zero points are all 2^(bits-1) (ONNX Runtime's
// default for QMoE and MatMulNBits) are read as signed codes minus that
// offset, so they take the symmetric (and VNNI) paths.
//
// Parallel iterations are (expert, 256-column tile) pairs, tile-major, as
// for fp32; within one, blocks of rows x 4 columns keep independent
// accumulators so the loads of several weight rows are in flight at once,
// and software prefetches fetch the next block's rows (4 short streams the
// hardware prefetcher does not pick up in time). A single row (decode) on
// the int8-rows kernel takes its block's 4 columns a quarter of the tile
// apart instead: 4 long streams side by side (one stream per core reads
// 33 GB/s on two Zen 5 cores, 4 streams 64), the prefetches 4 columns
// ahead in each.
// Where a kernel does not apply (other layouts, K not a multiple of the
// chunk), the scalar lowering in Experts.cpp computes the same values.
//
//===----------------------------------------------------------------------===//

#include "targets/cpu/GroupedMatmul.h"
#include "targets/cpu/InlineAsm.h"

#include "targets/cpu/RegisterTile.h"

#include "dialects/moe/IR/MoeDialect.h"
#include "dialects/moe/IR/WeightFiles.h"
#include "moec/Support/WeightStore.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cmath>
#include <cstring>

using namespace mlir;
using namespace moec;

/// Output columns of one parallel iteration. At decode one row streams a
/// whole tile's codes (128-256 KiB of int4 at OLMoE's shape); 256 beat 64
/// there (0.85 against 1.0 ms for the layer in int4-g128), with prefill
/// unchanged.
static constexpr int64_t kTileColumns = 256;
/// Columns one block of the kernel works on at once.
static constexpr int64_t kBlockColumns = 4;

namespace {
/// A packed [E, N, K] integer weight the kernels read.
struct PackedOperand {
  moe::PackedWeightOp op;
  unsigned bits = 0;
  bool signedCodes = false;
  /// Unsigned codes whose zero points are all this one value (ONNX
  /// Runtime's default 2^(bits-1) of QMoE and MatMulNBits): the kernels
  /// read them as the signed codes `code - codeOffset`, with no zero points.
  int32_t codeOffset = 0;
  int64_t experts = 0, n = 0, k = 0, group = 0, groups = 0;
  /// Signless views of the codes and zero points, as tensors.
  Value codes, zeroPoints;
  bool unsignedZeroPoints = false;

  /// Whether the codes are signed values as the kernels read them.
  bool readsSigned() const { return signedCodes || codeOffset != 0; }

  /// The int8-rows kernel's dot product and the bytes one step of it
  /// takes: 64 (AVX-512 VNNI vpdpbusd), 32 (AVX2 vpmaddubsw + vpmaddwd),
  /// 16 (aarch64 sdot), 4 per f32 lane of the target (generic).
  Int8Dot dot = Int8Dot::None;
  int64_t dotWidth = 0;
  /// Whether rows are stored unsigned, xq + 128 (vpdpbusd's u8 x s8).
  bool vnni() const { return dot == Int8Dot::Vpdpbusd; }
  /// K elements one load of `dotWidth` code bytes holds.
  int64_t loadElements() const { return bits == 4 ? 2 * dotWidth : dotWidth; }
  /// i32 (and f32) lanes of an accumulator.
  int64_t lanes() const { return dotWidth / 4; }
};

/// The kernel's view of a block: rows [row0, row0 + rows) and the
/// kBlockColumns columns col0 + c * columnStride of expert e (a null stride
/// is 1).
struct KernelBlock {
  Value e, row0, col0;
  int64_t rows;
  Value columnStride = {};
};
} // namespace

static bool isSignedFormat(moe::PackedFormat format) {
  return format == moe::PackedFormat::Sint4 ||
         format == moe::PackedFormat::Sint8;
}

/// The one value all of `zeroPoints` (u8, known at compile time) hold.
static std::optional<int32_t> uniformZeroPoint(Value zeroPoints,
                                               Operation *user) {
  std::optional<std::vector<uint8_t>> bytes =
      moe::getKnownBytes(zeroPoints, user);
  if (!bytes || bytes->empty() ||
      llvm::any_of(*bytes, [&](uint8_t z) { return z != bytes->front(); }))
    return std::nullopt;
  return int32_t(bytes->front());
}

/// The packed operand of `op` when a kernel with `chunk`-element steps
/// can read it, else std::nullopt.
static std::optional<PackedOperand> matchPacked(LoopBuilder &b,
                                                moe::GroupedMatmulOp op) {
  auto type = dyn_cast<moe::PackedType>(op.getWeight().getType());
  auto packed = op.getWeight().getDefiningOp<moe::PackedWeightOp>();
  if (!type || !packed)
    return std::nullopt;
  moe::PackingAttr packing = type.getPacking();
  ArrayRef<int64_t> block = packing.getBlock();
  if (!packing.isIntegerFormat() ||
      (packing.getBits() != 4 && packing.getBits() != 8) ||
      packing.getOrder() != moe::PackingOrder::LowFirst || block[0] != 1 ||
      block[1] != 1)
    return std::nullopt;
  auto f32 = [](Value v) {
    return !v || cast<RankedTensorType>(v.getType()).getElementType().isF32();
  };
  if (!f32(op.getRows()) || !f32(op.getBias()) || !f32(op.getOutput()))
    return std::nullopt;
  PackedOperand operand;
  operand.op = packed;
  operand.bits = packing.getBits();
  operand.signedCodes = isSignedFormat(packing.getFormat());
  RankedTensorType logical = type.getTensorType();
  operand.experts = logical.getDimSize(0);
  operand.n = logical.getDimSize(1);
  operand.k = logical.getDimSize(2);
  operand.group = block[2];
  operand.groups = llvm::divideCeil(operand.k, operand.group);
  operand.codes = signlessWeight(b, packed.getData());
  if (!operand.codes)
    return std::nullopt;
  if (Value zeroPoints = packed.getZeroPoints()) {
    auto zeroType = cast<RankedTensorType>(zeroPoints.getType());
    if (!zeroType.getElementType().isInteger(8))
      return std::nullopt;
    operand.unsignedZeroPoints = zeroType.getElementType().isUnsignedInteger();
    // ORT's default zero point, 2^(bits-1) everywhere: signed codes with an
    // offset (the VNNI kernel then applies).
    std::optional<int32_t> uniform = uniformZeroPoint(zeroPoints, packed);
    if (!operand.signedCodes && operand.unsignedZeroPoints &&
        uniform == int32_t(1) << (operand.bits - 1)) {
      operand.codeOffset = *uniform;
      return operand;
    }
    operand.zeroPoints = signlessWeight(b, zeroPoints);
    if (!operand.zeroPoints)
      return std::nullopt;
  }
  return operand;
}

/// Position of element k of a row in the chunk-wise even/odd order of an
/// int4 kernel: within each `chunk`, even elements first.
static Value permutedColumn(LoopBuilder &b, Value k, int64_t chunk) {
  Value base = arith::MulIOp::create(
      b, arith::DivUIOp::create(b, k, b.index(chunk)), b.index(chunk));
  Value within = arith::RemUIOp::create(b, k, b.index(chunk));
  Value half = arith::DivUIOp::create(b, within, b.index(2));
  Value odd = arith::RemUIOp::create(b, within, b.index(2));
  Value offset = arith::MulIOp::create(b, odd, b.index(chunk / 2));
  return arith::AddIOp::create(b, base, arith::AddIOp::create(b, half, offset));
}

/// The rows the float kernel multiplies: int4 weights want each chunk's
/// even elements first; int8 activations are quantized and dequantized
/// (x = sx * round(x / sx)). Null when the rows can be read as they are.
static Value prepareFloatRows(LoopBuilder &b, Value rows, int64_t k,
                              unsigned bits, bool int8Activations,
                              int64_t chunk) {
  if (bits == 8)
    return int8Activations ? dequantizedInt8Rows(b, rows, k) : Value();
  Type f32 = b.getF32Type();
  Value numRows = b.dim(rows, 0);
  Value prepared =
      b.alloc(RankedTensorType::get({ShapedType::kDynamic, k}, f32), {numRows});
  b.parallelLoop(b.index(0), numRows, [&](Value m) {
    Value scale = int8Activations ? int8RowScale(b, rows, m, k) : Value();
    b.forLoop(b.index(0), b.index(k), [&](Value kk) {
      Value x = b.load(rows, {m, kk});
      if (scale)
        x = arith::MulFOp::create(b, quantizeToInt8(b, x, scale), scale);
      b.store(x, prepared, {m, permutedColumn(b, kk, chunk)});
    });
  });
  return prepared;
}

/// Int8 rows for the int8-rows kernel: xq as bytes (VNNI: xq + 128,
/// unsigned), int4 rows in chunks of one load in even/odd order; `scales`
/// gets each row's sx.
static Value prepareInt8Rows(LoopBuilder &b, const PackedOperand &w, Value rows,
                             Value &scales) {
  int64_t k = w.k;
  Type f32 = b.getF32Type();
  Value numRows = b.dim(rows, 0);
  Value prepared =
      b.alloc(RankedTensorType::get({ShapedType::kDynamic, k}, b.getI8Type()),
              {numRows});
  scales =
      b.alloc(RankedTensorType::get({ShapedType::kDynamic}, f32), {numRows});
  b.parallelLoop(b.index(0), numRows, [&](Value m) {
    Value scale = int8RowScale(b, rows, m, k);
    b.store(scale, scales, {m});
    b.forLoop(b.index(0), b.index(k), [&](Value kk) {
      Value q = quantizeToInt8(b, b.load(rows, {m, kk}), scale);
      Value byte =
          w.vnni() ? Value(arith::FPToUIOp::create(
                         b, b.getI8Type(),
                         arith::AddFOp::create(b, q, b.floatConst(f32, 128.0))))
                   // Through i32 (q is rounded and within +-127, so the
                   // byte is the same): qemu 7.2's RVV asserts on the
                   // narrowing vfncvt.rtz LLVM makes of f32 -> i8.
                   : Value(arith::TruncIOp::create(
                         b, b.getI8Type(),
                         arith::FPToSIOp::create(b, b.getI32Type(), q)));
      Value to = w.bits == 4 ? permutedColumn(b, kk, w.loadElements()) : kk;
      b.store(byte, prepared, {m, to});
    });
  });
  return prepared;
}

/// A block's scalar `value` splat to `lanes` f32 lanes.
static Value splat(LoopBuilder &b, Value value, int64_t lanes = 16) {
  return vector::BroadcastOp::create(
      b, VectorType::get({lanes}, b.getF32Type()), value);
}

/// The scale and the zero offset (-z * s) of group g of column n, as f32.
static std::pair<Value, Value> groupScale(LoopBuilder &b,
                                          const PackedOperand &w, Value scales,
                                          Value zeroPoints, Value e, Value n,
                                          Value g) {
  Type f32 = b.getF32Type();
  Value scale = b.toFloat(b.load(scales, {e, n, g}), f32);
  if (!zeroPoints)
    return {scale, b.floatConst(f32, 0.0)};
  Value zero = b.load(zeroPoints, {e, n, g});
  zero = w.unsignedZeroPoints ? Value(arith::UIToFPOp::create(b, f32, zero))
                              : Value(arith::SIToFPOp::create(b, f32, zero));
  return {scale,
          arith::NegFOp::create(b, arith::MulFOp::create(b, zero, scale))};
}

/// 16 codes of column `n` from byte `byte` on as f32 lanes: one vector for
/// int8, the low and the high nibbles for int4.
static SmallVector<Value> loadCodes(LoopBuilder &b, const PackedOperand &w,
                                    Value codes, Value e, Value n, Value byte) {
  auto bytesType = VectorType::get({16}, b.getI8Type());
  auto wideType = VectorType::get({16}, b.getI32Type());
  auto floatType = VectorType::get({16}, b.getF32Type());
  Value raw = vector::LoadOp::create(b, bytesType, codes, {e, n, byte});
  auto constant = [&](int64_t v) {
    return arith::ConstantOp::create(
        b, wideType, DenseElementsAttr::get(wideType, int32_t(v)));
  };
  auto offset = [&](Value v) -> Value {
    return w.codeOffset ? arith::SubIOp::create(b, v, constant(w.codeOffset))
                        : v;
  };
  if (w.bits == 8) {
    Value wide = w.signedCodes
                     ? Value(arith::ExtSIOp::create(b, wideType, raw))
                     : offset(arith::ExtUIOp::create(b, wideType, raw));
    return {arith::SIToFPOp::create(b, floatType, wide)};
  }
  Value wide = arith::ExtUIOp::create(b, wideType, raw);
  Value lo = arith::AndIOp::create(b, wide, constant(15));
  Value hi = arith::ShRUIOp::create(b, wide, constant(4));
  if (w.signedCodes) {
    // A two's-complement nibble v is (v ^ 8) - 8.
    lo = arith::SubIOp::create(b, arith::XOrIOp::create(b, lo, constant(8)),
                               constant(8));
    hi = arith::SubIOp::create(b, arith::XOrIOp::create(b, hi, constant(8)),
                               constant(8));
  }
  return {arith::SIToFPOp::create(b, floatType, offset(lo)),
          arith::SIToFPOp::create(b, floatType, offset(hi))};
}

/// Prefetches the element at `at` of column `n + ahead` (clamped to the
/// last) of w's codes or scales, [E, N, X] buffers.
static void prefetchColumnAhead(LoopBuilder &b, const PackedOperand &w,
                                Value buffer, Value e, Value n, int64_t ahead,
                                Value at) {
  Value column = arith::MinUIOp::create(
      b, arith::AddIOp::create(b, n, b.index(ahead)), b.index(w.n - 1));
  memref::PrefetchOp::create(b, buffer, ValueRange{e, column, at},
                             /*isWrite=*/false, /*localityHint=*/3,
                             /*isDataCache=*/true);
}

/// Columns ahead whose codes a block prefetches: the next block's. A
/// block's columns are separate rows of the packed weight, 4 short streams
/// that the hardware prefetcher does not pick up in time.
static constexpr int64_t kBlockPrefetchColumns = kBlockColumns;

/// Sum of a vector's lanes.
static Value laneSum(LoopBuilder &b, Value vector) {
  return vector::ReductionOp::create(b, vector::CombiningKind::ADD, vector,
                                     arith::FastMathFlags::reassoc);
}

/// The float-rows kernel on one block: out[r, c] = bias + sum_k x * w.
static void emitFloatBlock(LoopBuilder &b, const PackedOperand &w,
                           const KernelBlock &block, Value rows, Value codes,
                           Value scales, Value zeroPoints, Value bias,
                           Value output) {
  int64_t chunk = w.bits == 4 ? 32 : 16;
  int64_t parts = w.bits == 4 ? 2 : 1;
  int64_t accumulators = block.rows * kBlockColumns * parts;
  auto floatType = VectorType::get({16}, b.getF32Type());
  Value zero = arith::ConstantOp::create(
      b, floatType, DenseElementsAttr::get(floatType, 0.0f));
  SmallVector<Value> columns, rowIndex;
  for (int64_t c = 0; c < kBlockColumns; ++c)
    columns.push_back(arith::AddIOp::create(b, block.col0, b.index(c)));
  for (int64_t r = 0; r < block.rows; ++r)
    rowIndex.push_back(arith::AddIOp::create(b, block.row0, b.index(r)));

  auto groups = scf::ForOp::create(b, b.index(0), b.index(w.groups), b.index(1),
                                   SmallVector<Value>(accumulators, zero));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(groups.getBody());
    Value g = groups.getInductionVar();
    SmallVector<Value> scale, offset;
    for (Value n : columns) {
      auto [s, z] = groupScale(b, w, scales, zeroPoints, block.e, n, g);
      scale.push_back(splat(b, s));
      offset.push_back(splat(b, z));
    }
    Value first = arith::MulIOp::create(b, g, b.index(w.group / chunk));
    Value last = arith::MinUIOp::create(
        b, arith::AddIOp::create(b, first, b.index(w.group / chunk)),
        b.index(w.k / chunk));
    auto chunks = scf::ForOp::create(b, first, last, b.index(1),
                                     groups.getRegionIterArgs());
    {
      OpBuilder::InsertionGuard inner(b);
      b.setInsertionPointToStart(chunks.getBody());
      Value ch = chunks.getInductionVar();
      Value k0 = arith::MulIOp::create(b, ch, b.index(chunk));
      Value byte = arith::MulIOp::create(b, ch, b.index(16));
      SmallVector<Value> x;
      for (Value row : rowIndex)
        for (int64_t p = 0; p < parts; ++p)
          x.push_back(vector::LoadOp::create(
              b, floatType, rows,
              {row, arith::AddIOp::create(b, k0, b.index(16 * p))}));
      SmallVector<Value> next(chunks.getRegionIterArgs());
      for (auto [c, n] : llvm::enumerate(columns)) {
        prefetchColumnAhead(b, w, codes, block.e, n, kBlockPrefetchColumns,
                            byte);
        SmallVector<Value> codesOf = loadCodes(b, w, codes, block.e, n, byte);
        for (auto [p, q] : llvm::enumerate(codesOf)) {
          Value weight = vector::FMAOp::create(b, q, scale[c], offset[c]);
          for (int64_t r = 0; r < block.rows; ++r) {
            int64_t at = (r * kBlockColumns + c) * parts + p;
            next[at] =
                vector::FMAOp::create(b, x[r * parts + p], weight, next[at]);
          }
        }
      }
      scf::YieldOp::create(b, next);
    }
    scf::YieldOp::create(b, chunks.getResults());
  }
  for (int64_t r = 0; r < block.rows; ++r)
    for (int64_t c = 0; c < kBlockColumns; ++c) {
      Value sum = groups.getResult((r * kBlockColumns + c) * parts);
      if (parts == 2)
        sum = arith::AddFOp::create(
            b, sum, groups.getResult((r * kBlockColumns + c) * parts + 1));
      Value value = laneSum(b, sum);
      if (bias)
        value = arith::AddFOp::create(b, value,
                                      b.load(bias, {block.e, columns[c]}));
      b.store(value, output, {rowIndex[r], columns[c]});
    }
}

/// One instruction (InlineAsm.h).
static Value asmOp(LoopBuilder &b, Type type, StringRef text,
                   StringRef constraints, ValueRange operands) {
  return cpu::inlineAsm(b, b.getLoc(), type, text, constraints, operands);
}

/// acc + the 4-byte dot products of the rows' bytes `x` with the signed
/// codes `q`, into i32 lanes: lane i sums bytes 4i .. 4i + 3. AVX-512
/// VNNI: vpdpbusd on 64 bytes (x holds xq + 128, unsigned). aarch64: sdot
/// on 16 bytes. Generic: the bytes widened to i32, multiplied, and each
/// lane's four products added. AVX2: vpmaddubsw + vpmaddwd on 32 bytes,
/// with x's sign moved onto the codes (|xq| <= 127, so the i16 pair sums
/// cannot saturate: 2 * 127 * 128 < 2^15).
static Value dotBytes(LoopBuilder &b, const PackedOperand &w, Value acc,
                      Value x, Value q) {
  if (w.dot == Int8Dot::Vpdpbusd)
    return asmOp(b, acc.getType(), "vpdpbusd $3, $2, $0", "=v,0,v,v",
                 {acc, x, q});
  if (w.dot == Int8Dot::Sdot)
    return asmOp(b, acc.getType(), "sdot $0.4s, $2.16b, $3.16b", "=w,0,w,w",
                 {acc, x, q});
  if (w.dot == Int8Dot::Generic) {
    auto wide = VectorType::get({w.dotWidth}, b.getI32Type());
    Value products =
        arith::MulIOp::create(b, arith::ExtSIOp::create(b, wide, x),
                              arith::ExtSIOp::create(b, wide, q));
    Value sum = acc;
    for (int64_t part = 0; part < 4; ++part) {
      SmallVector<int64_t> lanes;
      for (int64_t lane = 0; lane < w.lanes(); ++lane)
        lanes.push_back(4 * lane + part);
      sum = arith::AddIOp::create(
          b, sum, vector::ShuffleOp::create(b, products, products, lanes));
    }
    return sum;
  }
  Type bytes = x.getType();
  auto halves = VectorType::get({w.dotWidth / 2}, b.getI16Type());
  Value absX = asmOp(b, bytes, "vpsignb $2, $1, $0", "=v,v,v", {x, x});
  Value signedQ = asmOp(b, bytes, "vpsignb $2, $1, $0", "=v,v,v", {q, x});
  Value pairs =
      asmOp(b, halves, "vpmaddubsw $2, $1, $0", "=v,v,v", {absX, signedQ});
  Value ones = arith::ConstantOp::create(
      b, halves, DenseElementsAttr::get(halves, int16_t(1)));
  Value quads =
      asmOp(b, acc.getType(), "vpmaddwd $2, $1, $0", "=v,v,v", {pairs, ones});
  return arith::AddIOp::create(b, acc, quads);
}

/// The signed codes of one load of packed bytes as byte vectors:
/// the bytes themselves for int8; the low and the high nibbles for int4,
/// each as ((v & 15) ^ 8) - 8.
static SmallVector<Value> signedCodeBytes(LoopBuilder &b,
                                          const PackedOperand &w, Value raw) {
  auto bytesType = cast<VectorType>(raw.getType());
  auto constant = [&](int8_t v) {
    return arith::ConstantOp::create(b, bytesType,
                                     DenseElementsAttr::get(bytesType, v));
  };
  // Unsigned codes with a uniform zero point z: code - z (for 8 bits and
  // z = 128, the wrap-around of i8 gives the same value).
  if (w.bits == 8)
    return {w.codeOffset
                ? arith::SubIOp::create(b, raw, constant(int8_t(w.codeOffset)))
                      .getResult()
                : raw};
  Value lo = arith::AndIOp::create(b, raw, constant(15));
  Value hi = arith::AndIOp::create(
      b, arith::ShRUIOp::create(b, raw, constant(4)), constant(15));
  SmallVector<Value> parts;
  for (Value nibble : {lo, hi})
    parts.push_back(
        w.codeOffset
            ? arith::SubIOp::create(b, nibble, constant(int8_t(w.codeOffset)))
                  .getResult()
            : arith::SubIOp::create(
                  b, arith::XOrIOp::create(b, nibble, constant(8)), constant(8))
                  .getResult());
  return parts;
}

/// The f32 scale of each i32 lane of a VNNI step starting at element `s0`
/// of column `n`: the group's, or, with several groups per 64-byte load,
/// the scale of the group each lane's elements belong to.
static Value laneScales(LoopBuilder &b, const PackedOperand &w, Value scales,
                        Value e, Value n, Value s0) {
  int64_t loadElements = w.loadElements(), lanes = w.lanes();
  Type f32 = b.getF32Type();
  Value g0 = arith::DivUIOp::create(b, s0, b.index(w.group));
  if (w.group >= loadElements)
    return splat(b, b.toFloat(b.load(scales, {e, n, g0}), f32), lanes);
  // The load's groups' scales are contiguous: one vector load, widened,
  // and each spread over its lanes by a shuffle.
  int64_t count = loadElements / w.group;
  Type stored = cast<MemRefType>(scales.getType()).getElementType();
  Value perGroup = vector::LoadOp::create(b, VectorType::get({count}, stored),
                                          scales, {e, n, g0});
  if (!stored.isF32())
    perGroup =
        arith::ExtFOp::create(b, VectorType::get({count}, f32), perGroup);
  SmallVector<int64_t> mask;
  for (int64_t lane = 0; lane < lanes; ++lane)
    mask.push_back(lane * (loadElements / lanes) / w.group);
  return vector::ShuffleOp::create(b, perGroup, perGroup, mask);
}

/// Elements one VNNI step covers with one i32 accumulator before it is
/// scaled: a whole group when groups span several 64-byte loads, else one
/// load whose lanes belong to several groups.
static int64_t int8Step(const PackedOperand &w) {
  return std::max(w.group, w.loadElements());
}

/// The end of an int8 dot product: out = sx * (sum - correction) + bias
/// (the correction of VNNI's + 128; none for AVX2).
static void storeInt8Result(LoopBuilder &b, Value sum, Value sx,
                            Value correction, Value bias, Value e, Value row,
                            Value n, Value output) {
  sum = laneSum(b, sum);
  if (correction)
    sum = arith::SubFOp::create(b, sum, b.load(correction, {e, n}));
  Value value = arith::MulFOp::create(b, sum, sx);
  if (bias)
    value = arith::AddFOp::create(b, value, b.load(bias, {e, n}));
  b.store(value, output, {row, n});
}

namespace {
/// The vector types of the int8-rows kernels: one dot product's bytes, its
/// i32 and f32 lanes, and zero accumulators.
struct DotVectors {
  VectorType bytes, ints, floats;
  Value zeroFloat, zeroInt;

  DotVectors(LoopBuilder &b, const PackedOperand &w)
      : bytes(VectorType::get({w.dotWidth}, b.getI8Type())),
        ints(VectorType::get({w.lanes()}, b.getI32Type())),
        floats(VectorType::get({w.lanes()}, b.getF32Type())) {
    zeroFloat = arith::ConstantOp::create(b, floats,
                                          DenseElementsAttr::get(floats, 0.0f));
    zeroInt = arith::ConstantOp::create(
        b, ints, DenseElementsAttr::get(ints, int32_t(0)));
  }
};
} // namespace

/// The int8-rows (VNNI) kernel on one block of several rows: the block's
/// columns share each load of the rows.
static void emitInt8Block(LoopBuilder &b, const PackedOperand &w,
                          const KernelBlock &block, Value rows, Value rowScales,
                          Value codes, Value scales, Value correction,
                          Value bias, Value output) {
  int64_t loadElements = w.loadElements();
  int64_t step = int8Step(w);
  DotVectors v(b, w);
  VectorType bytesType = v.bytes, floatType = v.floats;
  Value zeroFloat = v.zeroFloat, zeroInt = v.zeroInt;
  SmallVector<Value> columns, rowIndex;
  Value stride = block.columnStride ? block.columnStride : b.index(1);
  for (int64_t c = 0; c < kBlockColumns; ++c)
    columns.push_back(arith::AddIOp::create(
        b, block.col0, arith::MulIOp::create(b, stride, b.index(c))));
  for (int64_t r = 0; r < block.rows; ++r)
    rowIndex.push_back(arith::AddIOp::create(b, block.row0, b.index(r)));
  int64_t accumulators = block.rows * kBlockColumns;

  auto steps =
      scf::ForOp::create(b, b.index(0), b.index(w.k / step), b.index(1),
                         SmallVector<Value>(accumulators, zeroFloat));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(steps.getBody());
    Value s0 = arith::MulIOp::create(b, steps.getInductionVar(), b.index(step));
    auto loads = scf::ForOp::create(b, b.index(0), b.index(step / loadElements),
                                    b.index(1),
                                    SmallVector<Value>(accumulators, zeroInt));
    {
      OpBuilder::InsertionGuard inner(b);
      b.setInsertionPointToStart(loads.getBody());
      Value k0 = arith::AddIOp::create(
          b, s0,
          arith::MulIOp::create(b, loads.getInductionVar(),
                                b.index(loadElements)));
      Value byte =
          w.bits == 4 ? Value(arith::DivUIOp::create(b, k0, b.index(2))) : k0;
      SmallVector<Value> x;
      for (Value row : rowIndex) {
        x.push_back(vector::LoadOp::create(b, bytesType, rows, {row, k0}));
        if (w.bits == 4)
          x.push_back(vector::LoadOp::create(
              b, bytesType, rows,
              {row, arith::AddIOp::create(b, k0, b.index(w.dotWidth))}));
      }
      SmallVector<Value> next(loads.getRegionIterArgs());
      for (auto [c, n] : llvm::enumerate(columns)) {
        prefetchColumnAhead(b, w, codes, block.e, n, kBlockPrefetchColumns,
                            byte);
        SmallVector<Value> parts = signedCodeBytes(
            b, w,
            vector::LoadOp::create(b, bytesType, codes, {block.e, n, byte}));
        for (int64_t r = 0; r < block.rows; ++r) {
          int64_t at = r * kBlockColumns + c;
          for (auto [p, part] : llvm::enumerate(parts))
            next[at] = dotBytes(b, w, next[at], x[r * parts.size() + p], part);
        }
      }
      scf::YieldOp::create(b, next);
    }
    SmallVector<Value> columnScales;
    for (Value n : columns)
      columnScales.push_back(laneScales(b, w, scales, block.e, n, s0));
    SmallVector<Value> next;
    for (int64_t r = 0; r < block.rows; ++r)
      for (int64_t c = 0; c < kBlockColumns; ++c) {
        int64_t at = r * kBlockColumns + c;
        Value products =
            arith::SIToFPOp::create(b, floatType, loads.getResult(at));
        next.push_back(vector::FMAOp::create(b, products, columnScales[c],
                                             steps.getRegionIterArgs()[at]));
      }
    scf::YieldOp::create(b, next);
  }
  for (int64_t r = 0; r < block.rows; ++r) {
    Value sx = b.load(rowScales, {rowIndex[r]});
    for (int64_t c = 0; c < kBlockColumns; ++c)
      storeInt8Result(b, steps.getResult(r * kBlockColumns + c), sx, correction,
                      bias, block.e, rowIndex[r], columns[c], output);
  }
}

/// 128 * sum_g s_g * sum_{k in g} q_k for each column of a symmetric packed
/// weight known at compile time, as a new f32 [E, N] weight in the store;
/// null when the bytes are not at hand.
static Value offsetCorrection(LoopBuilder &b, PackedOperand w) {
  std::optional<std::vector<uint8_t>> codes =
      moe::getKnownBytes(w.op.getData(), w.op);
  std::optional<std::vector<uint8_t>> scaleBytes =
      moe::getKnownBytes(w.op.getScales(), w.op);
  Type scaleType =
      cast<RankedTensorType>(w.op.getScales().getType()).getElementType();
  if (!codes || !scaleBytes || (!scaleType.isF32() && !scaleType.isF16()))
    return Value();
  int64_t columns = w.experts * w.n;
  int64_t rowBytes = w.k * w.bits / 8;
  std::vector<float> correction(columns);
  for (int64_t col = 0; col < columns; ++col) {
    double total = 0.0;
    for (int64_t g = 0; g < w.groups; ++g) {
      int64_t sum = 0;
      for (int64_t kk = g * w.group; kk < std::min(w.k, (g + 1) * w.group);
           ++kk) {
        uint8_t byte = (*codes)[col * rowBytes + kk * w.bits / 8];
        int nibble = (byte >> (kk % 2 ? 4 : 0)) & 15;
        int q = w.codeOffset ? (w.bits == 8 ? int(byte) : nibble) - w.codeOffset
                : w.bits == 8 ? int(int8_t(byte))
                              : (nibble ^ 8) - 8;
        sum += q;
      }
      float scale;
      size_t at = size_t(col * w.groups + g);
      if (scaleType.isF32()) {
        std::memcpy(&scale, scaleBytes->data() + 4 * at, 4);
      } else {
        uint16_t bits;
        std::memcpy(&bits, scaleBytes->data() + 2 * at, 2);
        llvm::APFloat half(llvm::APFloat::IEEEhalf(), llvm::APInt(16, bits));
        scale = half.convertToFloat();
      }
      total += double(scale) * double(sum);
    }
    correction[col] = float(128.0 * total);
  }
  std::vector<uint8_t> bytes(correction.size() * sizeof(float));
  std::memcpy(bytes.data(), correction.data(), bytes.size());
  SmallVector<int64_t> shape = {w.experts, w.n};
  WeightStore &store =
      b.getContext()->getOrLoadDialect<moe::MoeDialect>()->getWeightStore();
  std::string key = store.addBlob("int8_offset_correction", rt::DType::F32,
                                  shape, std::move(bytes));
  return moe::WeightOp::create(b, RankedTensorType::get(shape, b.getF32Type()),
                               key);
}

FailureOr<bool> cpu::lowerQuantizedGroupedMatmul(RewriterBase &rewriter,
                                                 moe::GroupedMatmulOp op,
                                                 const TileShape &shape) {
  if (shape.lanes == 0)
    return false;
  bool int8Activations = op->hasAttr("moec.int8_activations");
  LoopBuilder b(op);
  std::optional<PackedOperand> w = matchPacked(b, op);
  if (!w)
    return false;
  int64_t floatChunk = w->bits == 4 ? 32 : 16;
  if (w->n % kBlockColumns != 0 || w->k % floatChunk != 0 ||
      w->group % floatChunk != 0) {
    // Drop the signless views made for the kernel; the scalar path makes
    // its own.
    for (Value view : {w->codes, w->zeroPoints})
      if (view && view.use_empty() && view != w->op.getData() &&
          view != w->op.getZeroPoints())
        view.getDefiningOp()->erase();
    return false;
  }
  // The int8-rows kernel: symmetric codes, whole loads, groups that cover
  // whole loads or whole lanes of one; VNNI also needs the codes at hand
  // for its correction.
  w->dot = shape.int8Dot;
  w->dotWidth = w->dot == Int8Dot::Vpdpbusd     ? 64
                : w->dot == Int8Dot::Vpmaddubsw ? 32
                : w->dot == Int8Dot::Sdot       ? 16
                : w->dot == Int8Dot::Generic    ? 4 * shape.lanes
                                                : 0;
  int64_t loadElements = w->loadElements();
  bool intDot = int8Activations && w->dotWidth != 0 && !w->zeroPoints &&
                w->readsSigned() && w->k % loadElements == 0 &&
                (w->group % loadElements == 0 ||
                 (loadElements % w->group == 0 &&
                  w->group % (loadElements / w->lanes()) == 0));
  Value correction = intDot && w->vnni() ? offsetCorrection(b, *w) : Value();
  intDot = intDot && (correction || !w->vnni());

  Value rows = b.read(op.getRows());
  Value offsets = b.read(op.getOffsets());
  Value bias = op.getBias() ? b.read(op.getBias()) : Value();
  Value codes = b.read(w->codes);
  Value scales = b.read(w->op.getScales());
  Value zeroPoints = w->zeroPoints ? b.read(w->zeroPoints) : Value();
  Value corrections = correction ? b.read(correction) : Value();
  Value rowScales;
  Value prepared = intDot ? prepareInt8Rows(b, *w, rows, rowScales)
                          : prepareFloatRows(b, rows, w->k, w->bits,
                                             int8Activations, floatChunk);
  if (!prepared)
    prepared = rows;
  Value numRows = b.dim(rows, 0);
  Value output = b.alloc(op.getOutput().getType(), {numRows});
  int64_t tiles = llvm::divideCeil(w->n, kTileColumns);
  int64_t numExperts = w->experts;
  Value n = b.index(w->n);
  TileShape rowBlocks = shape;
  // int4's second nibble vector per load leaves registers for 3 rows x 4
  // columns (4 rows spilled: OLMoE's int4-g32 prefill, 3 rows 5% faster).
  rowBlocks.rows = intDot ? (w->bits == 4 ? 3 : 4) : 2;

  b.parallelLoop(b.index(0), b.index(numExperts * tiles), [&](Value task) {
    GroupedMatmulTask at = groupedMatmulTask(b, task, numExperts, offsets);
    Value e = at.expert, tile = at.tile, lo = at.lo, hi = at.hi;
    Value col0 = arith::MulIOp::create(b, tile, b.index(kTileColumns));
    Value col1 = arith::MinUIOp::create(
        b, arith::AddIOp::create(b, col0, b.index(kTileColumns)), n);
    forEachRowBlock(b, rowBlocks, lo, hi, [&](int64_t count, Value row0) {
      if (intDot && count == 1) {
        // One row (decode): the block's columns are kBlockColumns parts
        // of the tile apart, as many streams side by side.
        Value part = arith::DivUIOp::create(
            b, arith::SubIOp::create(b, col1, col0), b.index(kBlockColumns));
        b.forLoop(b.index(0), part, [&](Value i) {
          KernelBlock block{e, row0, arith::AddIOp::create(b, col0, i), 1,
                            part};
          emitInt8Block(b, *w, block, prepared, rowScales, codes, scales,
                        corrections, bias, output);
        });
        return;
      }
      auto columnsLoop =
          scf::ForOp::create(b, col0, col1, b.index(kBlockColumns));
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(columnsLoop.getBody()->getTerminator());
      KernelBlock block{e, row0, columnsLoop.getInductionVar(), count};
      if (intDot)
        emitInt8Block(b, *w, block, prepared, rowScales, codes, scales,
                      corrections, bias, output);
      else
        emitFloatBlock(b, *w, block, prepared, codes, scales, zeroPoints, bias,
                       output);
    });
  });
  zeroUnroutedRows(b, offsets, numExperts, output);
  rewriter.replaceOp(op, b.result(output));
  return true;
}
