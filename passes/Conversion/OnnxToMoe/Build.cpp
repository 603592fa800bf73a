//===- Build.cpp - Building moe.router + moe.experts for a matched block --===//
//
// Expert weights become the stacked torch layout moe.experts takes,
// [E, N, K]: constants are stacked and transposed at compile time; weights
// held elsewhere (moe.weight) get onnx Transpose/Unsqueeze/Concat nodes,
// which convert-onnx-to-linalg lowers like any other node. MatMulNBits'
// packed codes are concatenated at compile time into one
// moe.packed_weight, byte for byte.
//
//===----------------------------------------------------------------------===//

#include "GraphMatch.h"
#include "Raising.h"

#include "dialects/moe/IR/MoeDialect.h"
#include "dialects/moe/IR/WeightFiles.h"
#include "moec/Support/WeightStore.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include "llvm/Support/Format.h"

#include <cstring>

using namespace mlir;

namespace moec::raise {

void replaceValue(OpBuilder &b, Value from, Value to) {
  for (OpOperand &use : llvm::make_early_inc_range(from.getUses())) {
    if (isa<onnx::NodeOp>(use.getOwner())) {
      use.set(to);
      continue;
    }
    b.setInsertionPoint(use.getOwner());
    use.set(castTo(b, to.getLoc(), to, from.getType()));
  }
}

/// Copies `parts`, each `blocks` row-major [rows, cols] matrices, into one
/// tensor of `type`, transposing each matrix when `swap`.
static DenseElementsAttr foldStack(ArrayRef<DenseElementsAttr> parts,
                                   int64_t blocks, int64_t rows, int64_t cols,
                                   bool swap, RankedTensorType type) {
  size_t bytes = (type.getElementTypeBitWidth() + 7) / 8;
  std::vector<char> out(type.getNumElements() * bytes);
  size_t o = 0;
  int64_t outRows = swap ? cols : rows, outCols = swap ? rows : cols;
  for (DenseElementsAttr part : parts) {
    ArrayRef<char> raw = part.getRawData();
    for (int64_t blk = 0; blk < blocks; ++blk)
      for (int64_t r = 0; r < outRows; ++r)
        for (int64_t c = 0; c < outCols; ++c, o += bytes) {
          int64_t src =
              blk * rows * cols + (swap ? c * cols + r : r * cols + c);
          std::memcpy(&out[o], raw.data() + (part.isSplat() ? 0 : src * bytes),
                      bytes);
        }
  }
  return DenseElementsAttr::getFromRawBuffer(type, out);
}

/// Stacks per-expert weights [K, N] / [N, K] (or biases [N]) into [E, N, K]
/// (biases [E, N]); with `stacked`, takes one stacked [E, K, N] / [E, N, K]
/// weight (or [E, N] bias) instead.
static Value stack(OpBuilder &b, Location loc, ArrayRef<Value> parts,
                   bool inputMajor, bool stacked) {
  auto partType = cast<RankedTensorType>(parts.front().getType());
  int64_t matrixRank = partType.getRank() - (stacked ? 1 : 0);
  bool swap = inputMajor && matrixRank == 2;
  if (stacked && !swap)
    return parts.front();
  ArrayRef<int64_t> shape = partType.getShape();
  int64_t blocks = stacked ? shape[0] : 1;
  int64_t rows = matrixRank == 1 ? 1 : shape[shape.size() - 2];
  int64_t cols = shape.back();
  SmallVector<int64_t> outShape = {
      stacked ? blocks : static_cast<int64_t>(parts.size())};
  if (matrixRank == 1)
    outShape.push_back(cols);
  else
    outShape.append({swap ? cols : rows, swap ? rows : cols});
  auto type = RankedTensorType::get(outShape, partType.getElementType());

  SmallVector<DenseElementsAttr> constants;
  for (Value part : parts)
    if (DenseElementsAttr attr = constantOf(part))
      constants.push_back(attr);
  if (constants.size() == parts.size())
    return arith::ConstantOp::create(
        b, loc, foldStack(constants, blocks, rows, cols, swap, type));

  if (stacked) {
    return createNode(
        b, loc, "Transpose", {parts.front()}, type,
        {b.getNamedAttr("perm", b.getDenseI64ArrayAttr({0, 2, 1}))});
  }
  SmallVector<Value> rowsOfE;
  for (Value part : parts) {
    Value v = part;
    SmallVector<int64_t> oneShape(outShape.begin() + 1, outShape.end());
    if (swap)
      v = createNode(b, loc, "Transpose", {v},
                     RankedTensorType::get(oneShape, type.getElementType()),
                     {b.getNamedAttr("perm", b.getDenseI64ArrayAttr({1, 0}))});
    oneShape.insert(oneShape.begin(), 1);
    rowsOfE.push_back(
        createNode(b, loc, "Unsqueeze", {v, i64Constant(b, loc, {0})},
                   RankedTensorType::get(oneShape, type.getElementType())));
  }
  return createNode(b, loc, "Concat", rowsOfE, type,
                    {b.getNamedAttr("axis", b.getI64IntegerAttr(0))});
}

/// `value` without its unit axis `axis`: a batched bias [E, 1, N] becomes
/// [E, N], a selection bias [1, E] becomes [E]. Constants are reshaped at
/// compile time.
static Value dropUnitAxis(OpBuilder &b, Location loc, Value value,
                          int64_t axis) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<int64_t> shape(type.getShape());
  shape.erase(shape.begin() + axis);
  auto newType = RankedTensorType::get(shape, type.getElementType());
  if (DenseElementsAttr attr = constantOf(value))
    return arith::ConstantOp::create(b, loc, attr.reshape(newType));
  return createNode(b, loc, "Reshape", {value, i64Constant(b, loc, shape)},
                    newType);
}

/// The bytes of a constant or a moe.weight; std::nullopt otherwise.
static std::optional<std::vector<uint8_t>> bytesOf(Value value) {
  return moe::getKnownBytes(value, value.getDefiningOp());
}

/// A new [E, ...] weight of `type` holding `bytes`: a store blob when any
/// part came from the store, else a constant.
static Value newWeight(OpBuilder &b, Location loc, RankedTensorType type,
                       std::vector<uint8_t> bytes, bool inStore,
                       StringRef name) {
  if (!inStore)
    return arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::getFromRawBuffer(
            type, ArrayRef<char>(reinterpret_cast<const char *>(bytes.data()),
                                 bytes.size())));
  std::optional<rt::DType> dtype = moe::getDType(type.getElementType());
  WeightStore &store =
      b.getContext()->getOrLoadDialect<moe::MoeDialect>()->getWeightStore();
  std::string key =
      store.addBlob(name, *dtype, type.getShape(), std::move(bytes));
  return moe::WeightOp::create(b, loc, type, key);
}

namespace {
/// One expert's block-quantized [N, K] weight, unpacked: a code per
/// element (row-major [N, K]), the scales' bytes [N, blocks] and a zero
/// point per block (empty: none).
struct QuantizedRows {
  int64_t n = 0, k = 0, block = 0;
  unsigned bits = 0;
  bool isSigned = false;
  Type scaleType;
  std::vector<int32_t> codes, zeroPoints;
  std::vector<uint8_t> scales;
  bool inStore = false;
};
} // namespace

/// The value of element `i` of a tensor of 4- or 8-bit integers stored as
/// `bytes` (4-bit: element 2j in the low nibble of byte j).
static int32_t integerAt(ArrayRef<uint8_t> bytes, int64_t i, unsigned bits,
                         bool isSigned) {
  int32_t v = bits == 8 ? bytes[i] : (bytes[i / 2] >> (i % 2 ? 4 : 0)) & 15;
  if (isSigned && v >= (1 << (bits - 1)))
    v -= 1 << bits;
  return v;
}

/// The integers of a 4- or 8-bit integer constant or moe.weight, one per
/// element.
static std::optional<std::vector<int32_t>>
integersOf(Value value, unsigned bits, bool isSigned) {
  std::vector<int32_t> values;
  if (DenseElementsAttr attr = constantOf(value)) {
    for (const APInt &v : attr.getValues<APInt>())
      values.push_back(int32_t(isSigned ? v.getSExtValue() : v.getZExtValue()));
    return values;
  }
  std::optional<std::vector<uint8_t>> bytes = bytesOf(value);
  if (!bytes)
    return std::nullopt;
  int64_t count = weightType(value).getNumElements();
  for (int64_t i = 0; i < count; ++i)
    values.push_back(integerAt(*bytes, i, bits, isSigned));
  return values;
}

/// A MatMulNBits node's weight: codes [N, blocks, block * bits / 8] as
/// stored, scales [N, blocks], zero points packed [N, ceil(blocks * bits /
/// 8)] (default 2^(bits-1)).
static FailureOr<QuantizedRows> readNBits(onnx::NodeOp node, Reason &reason) {
  QuantizedRows rows;
  RankedTensorType dataType = weightType(input(node, 1));
  RankedTensorType scaleType = weightType(input(node, 2));
  rows.bits = unsigned(intAttr(node, "bits", 4));
  rows.block = intAttr(node, "block_size", 0);
  rows.k = intAttr(node, "K", 0);
  if ((rows.bits != 4 && rows.bits != 8) || dataType.getRank() != 3 ||
      !dataType.getElementType().isUnsignedInteger(8)) {
    reason = "MatMulNBits with " + std::to_string(rows.bits) +
             " bits or codes other than uint8 [N, blocks, blob] is not "
             "supported (4 or 8 bits)";
    return failure();
  }
  rows.n = dataType.getDimSize(0);
  int64_t blocks = dataType.getDimSize(1);
  if (rows.block <= 0 || rows.k != blocks * rows.block ||
      dataType.getDimSize(2) != rows.block * rows.bits / 8) {
    reason = "MatMulNBits K = " + std::to_string(rows.k) +
             " is not a whole number of blocks of " +
             std::to_string(rows.block) + " (padded blocks are not supported)";
    return failure();
  }
  if (!scaleType || scaleType.getNumElements() != rows.n * blocks ||
      !isa<FloatType>(scaleType.getElementType())) {
    reason = "MatMulNBits scales are not [N, blocks] float initializers";
    return failure();
  }
  rows.scaleType = scaleType.getElementType();
  Value zeroPoints = input(node, 3);
  int64_t zeroBytesPerRow = (blocks * rows.bits + 7) / 8;
  std::optional<std::vector<uint8_t>> codes = bytesOf(input(node, 1));
  std::optional<std::vector<uint8_t>> scales = bytesOf(input(node, 2));
  std::optional<std::vector<uint8_t>> zeros;
  if (zeroPoints) {
    RankedTensorType zType = weightType(zeroPoints);
    if (!zType || !zType.getElementType().isUnsignedInteger(8) ||
        zType.getNumElements() != rows.n * zeroBytesPerRow) {
      reason = "MatMulNBits zero points other than packed uint8 "
               "[N, ceil(blocks * bits / 8)] are not supported";
      return failure();
    }
    zeros = bytesOf(zeroPoints);
  }
  if (!codes || !scales || (zeroPoints && !zeros)) {
    reason = "the MatMulNBits weights are not readable initializers";
    return failure();
  }
  rows.inStore = bool(input(node, 1).getDefiningOp<moe::WeightOp>());
  for (int64_t i = 0; i < rows.n * rows.k; ++i)
    rows.codes.push_back(integerAt(*codes, i, rows.bits, false));
  rows.scales = std::move(*scales);
  for (int64_t r = 0; r < rows.n; ++r)
    for (int64_t blk = 0; blk < blocks; ++blk)
      rows.zeroPoints.push_back(
          zeros ? integerAt(ArrayRef<uint8_t>(*zeros).slice(r * zeroBytesPerRow,
                                                            zeroBytesPerRow),
                            blk, rows.bits, false)
                : 1 << (rows.bits - 1));
  return rows;
}

/// A blocked DequantizeLinear's weight: 4- or 8-bit codes [N, K] blocked
/// along K (axis 1), or [K, N] blocked along K (axis 0, then transposed:
/// the same codes in the other order); zero points default to 0.
static FailureOr<QuantizedRows>
readDequantize(onnx::NodeOp node, bool inputMajor, Reason &reason) {
  QuantizedRows rows;
  RankedTensorType dataType = weightType(input(node, 0));
  RankedTensorType scaleType = weightType(input(node, 1));
  Value zeroPoints = input(node, 2);
  Type element = dataType ? dataType.getElementType() : Type();
  auto integer = dyn_cast_or_null<IntegerType>(element);
  if (!integer || (integer.getWidth() != 4 && integer.getWidth() != 8) ||
      !scaleType || !isa<FloatType>(scaleType.getElementType()) ||
      dataType.getRank() != 2 ||
      (zeroPoints && (!weightType(zeroPoints) ||
                      weightType(zeroPoints).getElementType() != element))) {
    reason = "blocked DequantizeLinear of other than 4- or 8-bit integer "
             "[N, K] / [K, N] initializers with float scales";
    return failure();
  }
  rows.bits = integer.getWidth();
  rows.isSigned = !integer.isUnsigned();
  rows.block = intAttr(node, "block_size", 0);
  int64_t axis = intAttr(node, "axis", 1);
  if (axis < 0)
    axis += 2;
  // The blocked axis must be K: dimension 0 of [K, N], 1 of [N, K].
  if (axis != (inputMajor ? 0 : 1)) {
    reason = "blocked DequantizeLinear whose blocks do not run along K";
    return failure();
  }
  rows.k = dataType.getDimSize(inputMajor ? 0 : 1);
  rows.n = dataType.getDimSize(inputMajor ? 1 : 0);
  int64_t blocks = llvm::divideCeil(rows.k, rows.block);
  rows.scaleType = scaleType.getElementType();
  std::optional<std::vector<int32_t>> codes =
      integersOf(input(node, 0), rows.bits, rows.isSigned);
  std::optional<std::vector<uint8_t>> scales = bytesOf(input(node, 1));
  std::optional<std::vector<int32_t>> zeros =
      zeroPoints ? integersOf(zeroPoints, rows.bits, rows.isSigned)
                 : std::nullopt;
  if (!codes || !scales || (zeroPoints && !zeros)) {
    reason = "the DequantizeLinear weights are not readable initializers";
    return failure();
  }
  rows.inStore = bool(input(node, 0).getDefiningOp<moe::WeightOp>());
  int64_t width = int64_t(rows.scaleType.getIntOrFloatBitWidth() / 8);
  rows.scales.resize(scales->size());
  for (int64_t r = 0; r < rows.n; ++r) {
    for (int64_t kk = 0; kk < rows.k; ++kk)
      rows.codes.push_back(
          (*codes)[inputMajor ? kk * rows.n + r : r * rows.k + kk]);
    for (int64_t blk = 0; blk < blocks; ++blk) {
      int64_t at = inputMajor ? blk * rows.n + r : r * blocks + blk;
      std::memcpy(&rows.scales[(r * blocks + blk) * width],
                  scales->data() + at * width, width);
      if (zeros)
        rows.zeroPoints.push_back((*zeros)[at]);
    }
  }
  return rows;
}

/// The block-quantized weights of all experts as one moe.packed_weight
/// [E, N, K], read without dequantizing: codes packed as moe.packed wants
/// (two per byte, low nibble first; MatMulNBits' bytes and [N, K]
/// DequantizeLinear int4 bytes come out as they were stored), scales
/// [E, N, blocks], zero points one byte per block.
static FailureOr<Value> stackPacked(OpBuilder &b, Location loc,
                                    ArrayRef<const Projection *> parts,
                                    Reason &reason) {
  SmallVector<QuantizedRows> experts;
  for (const Projection *p : parts) {
    onnx::NodeOp node = p->quantized;
    FailureOr<QuantizedRows> rows =
        node.getOpType() == "MatMulNBits"
            ? readNBits(node, reason)
            : readDequantize(node, p->inputMajor, reason);
    if (failed(rows))
      return failure();
    const QuantizedRows &first = experts.empty() ? *rows : experts.front();
    if (rows->n != first.n || rows->k != first.k ||
        rows->block != first.block || rows->bits != first.bits ||
        rows->isSigned != first.isSigned ||
        rows->scaleType != first.scaleType ||
        rows->zeroPoints.empty() != first.zeroPoints.empty()) {
      reason = "the experts' quantized weights differ in shape, bits, "
               "block size or zero points";
      return failure();
    }
    experts.push_back(std::move(*rows));
  }
  const QuantizedRows &first = experts.front();
  int64_t e = int64_t(experts.size()), n = first.n, k = first.k;
  int64_t blocks = llvm::divideCeil(k, first.block);
  unsigned bits = first.bits;
  bool hasZeros = !first.zeroPoints.empty();
  int64_t rowBytes = (k * bits + 7) / 8;
  std::vector<uint8_t> codes(size_t(e * n * rowBytes), 0), scales, zeros;
  bool inStore = false;
  for (auto [x, rows] : llvm::enumerate(experts)) {
    inStore |= rows.inStore;
    for (int64_t r = 0; r < n; ++r)
      for (int64_t kk = 0; kk < k; ++kk) {
        uint8_t v = uint8_t(rows.codes[r * k + kk]) & (bits == 8 ? 0xFF : 0xF);
        uint8_t &byte = codes[(int64_t(x) * n + r) * rowBytes + kk * bits / 8];
        byte |= bits == 8 ? v : uint8_t(v << (kk % 2 ? 4 : 0));
      }
    llvm::append_range(scales, rows.scales);
    for (int32_t z : rows.zeroPoints)
      zeros.push_back(uint8_t(z));
  }
  MLIRContext *ctx = b.getContext();
  // Signed codes and zero points are stored as i8, unsigned ones as ui8.
  Type codeType =
      first.isSigned ? b.getI8Type() : b.getIntegerType(8, /*isSigned=*/false);
  Type zeroType = codeType;
  Value data =
      newWeight(b, loc, RankedTensorType::get({e, n, rowBytes}, codeType),
                std::move(codes), inStore, "quantized_codes");
  Value scaleValue =
      newWeight(b, loc, RankedTensorType::get({e, n, blocks}, first.scaleType),
                std::move(scales), inStore, "quantized_scales");
  Value zeroValue;
  if (hasZeros)
    zeroValue =
        newWeight(b, loc, RankedTensorType::get({e, n, blocks}, zeroType),
                  std::move(zeros), inStore, "quantized_zero_points");
  moe::PackedFormat format = bits == 4
                                 ? (first.isSigned ? moe::PackedFormat::Sint4
                                                   : moe::PackedFormat::Uint4)
                                 : (first.isSigned ? moe::PackedFormat::Sint8
                                                   : moe::PackedFormat::Uint8);
  auto packing = moe::PackingAttr::get(
      ctx, format, {1, 1, first.block}, first.scaleType,
      hasZeros ? zeroType : Type(), moe::PackingOrder::LowFirst);
  auto type = moe::PackedType::get(
      ctx, RankedTensorType::get({e, n, k}, first.scaleType), packing);
  return moe::PackedWeightOp::create(b, loc, type, data, scaleValue, zeroValue)
      .getResult();
}

namespace {
/// The stacked weights of one projection across experts.
struct StackedProjection {
  Value weight, bias;
};
} // namespace

/// The projections of all experts stacked; nothing (null values) when the
/// experts have no such projection.
static FailureOr<StackedProjection>
stackProjection(OpBuilder &b, Location loc, const ExpertsMatch &match,
                ArrayRef<const Projection *> parts, Reason &reason) {
  StackedProjection s;
  if (parts.empty())
    return s;
  SmallVector<Value> weights, biases;
  for (const Projection *p : parts) {
    weights.push_back(p->weight);
    if (p->bias)
      biases.push_back(p->bias);
  }
  if (parts.front()->quantized) {
    FailureOr<Value> packed = stackPacked(b, loc, parts, reason);
    if (failed(packed))
      return failure();
    s.weight = *packed;
  } else {
    s.weight = stack(b, loc, weights, parts.front()->inputMajor, match.stacked);
  }
  if (!biases.empty()) {
    s.bias = stack(b, loc, biases, false, match.stacked);
    if (cast<RankedTensorType>(s.bias.getType()).getRank() == 3)
      s.bias = dropUnitAxis(b, loc, s.bias, 1);
  }
  return s;
}

/// Each expert's `member` projection, or nothing when the experts have
/// none.
static SmallVector<const Projection *>
projections(const ExpertsMatch &match,
            std::optional<Projection> ExpertFfn::*member) {
  SmallVector<const Projection *> parts;
  for (const ExpertFfn &ffn : match.experts)
    if (ffn.*member)
      parts.push_back(&*(ffn.*member));
  return parts;
}

/// Whether the per-expert projections agree in shape and bias presence.
static bool uniformShapes(const ExpertsMatch &match,
                          std::optional<Projection> ExpertFfn::*member) {
  const std::optional<Projection> &first = match.experts.front().*member;
  for (const ExpertFfn &ffn : match.experts) {
    const std::optional<Projection> &p = ffn.*member;
    if (p.has_value() != first.has_value())
      return false;
    if (p && (p->weight.getType() != first->weight.getType() ||
              p->inputMajor != first->inputMajor ||
              static_cast<bool>(p->bias) != static_cast<bool>(first->bias) ||
              (p->bias && p->bias.getType() != first->bias.getType())))
      return false;
  }
  return true;
}

std::string describeRaised(StringRef form, moe::RouterOp router,
                           moe::ExpertsOp experts) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "raised (" << form << " form): moe.router "
     << moe::stringifyRouterScoring(router.getScoring())
     << " top_k=" << router.getTopK() << " of "
     << router.getLogits().getType().getDimSize(1) << " experts";
  if (router.getNormalize())
    os << ", normalized";
  if (router.getSelectionBias())
    os << ", selection bias";
  if (moe::GroupLimitAttr groups = router.getGroupsAttr()) {
    os << ", groups " << groups.getNGroup() << "/" << groups.getTopkGroup()
       << " by " << moe::stringifyGroupScore(groups.getScore());
    if (FloatAttr fill = groups.getFill())
      os << " (dropped groups scored "
         << llvm::format("%g", fill.getValueAsDouble()) << ")";
  }
  if (FloatAttr scale = router.getScaleAttr())
    os << ", scale " << llvm::format("%g", scale.getValueAsDouble());
  os << "; moe.experts "
     << moe::stringifyActivationKind(experts.getActivation().getKind());
  if (moe::GateUpLayoutAttr layout = experts.getLayoutAttr())
    os << " (gate/up " << moe::stringifyGateUpLayout(layout.getValue()) << ")";
  if (experts.getDownBias())
    os << " with biases";
  if (auto packed = dyn_cast<moe::PackedType>(experts.getDown().getType()))
    os << ", " << packed.getPacking().getBits() << "-bit packed weights";
  return text;
}

FailureOr<std::string> buildRaisedMoe(OpBuilder &b, const RouterMatch &router,
                                      const ExpertsMatch &match,
                                      Reason &reason) {
  Location loc = router.logits.getLoc();
  for (auto member : {&ExpertFfn::gateUp, &ExpertFfn::gate, &ExpertFfn::up})
    if (!uniformShapes(match, member)) {
      reason = "the experts' weights differ in shape or layout";
      return failure();
    }
  for (const ExpertFfn &ffn : match.experts)
    if (ffn.down.weight.getType() !=
            match.experts.front().down.weight.getType() ||
        static_cast<bool>(ffn.down.bias) !=
            static_cast<bool>(match.experts.front().down.bias)) {
      reason = "the experts' down projections differ in shape";
      return failure();
    }
  b.setInsertionPoint(match.output.getDefiningOp());

  SmallVector<const Projection *> downs;
  for (const ExpertFfn &ffn : match.experts)
    downs.push_back(&ffn.down);
  FailureOr<StackedProjection> gateUp = stackProjection(
      b, loc, match, projections(match, &ExpertFfn::gateUp), reason);
  FailureOr<StackedProjection> gate = stackProjection(
      b, loc, match, projections(match, &ExpertFfn::gate), reason);
  FailureOr<StackedProjection> up = stackProjection(
      b, loc, match, projections(match, &ExpertFfn::up), reason);
  FailureOr<StackedProjection> downs_ =
      stackProjection(b, loc, match, downs, reason);
  if (failed(gateUp) || failed(gate) || failed(up) || failed(downs_))
    return failure();
  Value down = downs_->weight, downBias = downs_->bias;

  RankedTensorType downType =
      isa<moe::PackedType>(down.getType())
          ? cast<moe::PackedType>(down.getType()).getTensorType()
          : cast<RankedTensorType>(down.getType());
  Type element = downType.getElementType();
  int64_t hidden = downType.getDimSize(1);
  Value input = castTo(b, loc, match.input, tokensType(hidden, element));
  Value logits =
      castTo(b, loc, router.logits, tokensType(router.numExperts, element));
  Value selectionBias = router.selectionBias;
  if (selectionBias &&
      cast<RankedTensorType>(selectionBias.getType()).getRank() == 2)
    selectionBias = dropUnitAxis(b, loc, selectionBias, 0);
  auto routerOp = moe::RouterOp::create(
      b, loc, logits, router.k, router.scoring, selectionBias,
      router.normalize, router.scale, router.groups);
  const ExpertFfn &first = match.experts.front();
  auto layout = first.gateUp
                    ? moe::GateUpLayoutAttr::get(b.getContext(), first.layout)
                    : moe::GateUpLayoutAttr();
  auto experts = moe::ExpertsOp::create(
      b, loc, input.getType(), input, routerOp.getWeights(), routerOp.getIds(),
      gateUp->weight, gateUp->bias, gate->weight, gate->bias, up->weight,
      up->bias, down, downBias, first.activation, layout);
  SmallVector<Operation *> built = {routerOp, experts};
  for (Value w : {gateUp->weight, gate->weight, up->weight, down})
    if (auto packed = w ? w.getDefiningOp<moe::PackedWeightOp>() : nullptr)
      built.insert(built.begin(), packed);
  if (failed(verifyOrErase(built, reason)))
    return failure();
  replaceValue(b, match.output, experts.getOutput());

  return describeRaised(match.form, routerOp, experts);
}

} // namespace moec::raise
