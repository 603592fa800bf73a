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

/// The bytes of a constant or a moe.weight; std::nullopt otherwise.
static std::optional<std::vector<uint8_t>> bytesOf(Value value) {
  if (DenseElementsAttr attr = constantOf(value))
    return moe::getConstantBytes(attr);
  if (auto weight = value.getDefiningOp<moe::WeightOp>()) {
    FailureOr<WeightView> view = moe::lookupWeight(weight, weight);
    if (succeeded(view))
      return std::vector<uint8_t>(view->bytes.begin(), view->bytes.end());
  }
  return std::nullopt;
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

/// The MatMulNBits weights of all experts as one moe.packed_weight
/// [E, N, K]: the codes' bytes one expert after another, unchanged; the
/// scales as [E, N, blocks]; the zero points unpacked to one byte per block
/// (ORT's default 2^(bits-1) where absent).
static FailureOr<Value> stackPacked(OpBuilder &b, Location loc,
                                    ArrayRef<const Projection *> parts,
                                    Reason &reason) {
  onnx::NodeOp first = parts.front()->nbits;
  RankedTensorType dataType = weightType(input(first, 1));
  RankedTensorType scaleType = weightType(input(first, 2));
  int64_t bits = intAttr(first, "bits", 4);
  int64_t block = intAttr(first, "block_size", 0), k = intAttr(first, "K", 0);
  for (const Projection *p : parts)
    if (intAttr(p->nbits, "bits", 4) != bits ||
        intAttr(p->nbits, "block_size", 0) != block ||
        intAttr(p->nbits, "K", 0) != k) {
      reason = "the experts' MatMulNBits differ in bits, block size or K";
      return failure();
    }
  if (!scaleType) {
    reason = "the MatMulNBits scales are not an initializer";
    return failure();
  }
  if ((bits != 4 && bits != 8) || dataType.getRank() != 3 ||
      !dataType.getElementType().isUnsignedInteger(8)) {
    reason = "MatMulNBits with " + std::to_string(bits) +
             " bits or codes other than uint8 [N, blocks, blob] is not "
             "supported (4 or 8 bits)";
    return failure();
  }
  int64_t n = dataType.getDimSize(0), blocks = dataType.getDimSize(1);
  if (block <= 0 || k != blocks * block ||
      dataType.getDimSize(2) != block * bits / 8) {
    reason = "MatMulNBits K = " + std::to_string(k) +
             " is not a whole number of blocks of " + std::to_string(block) +
             " (padded blocks are not supported)";
    return failure();
  }
  if (scaleType.getNumElements() != n * blocks ||
      !isa<FloatType>(scaleType.getElementType())) {
    reason = "MatMulNBits scales are not [N, blocks] floats";
    return failure();
  }
  int64_t zeroBytesPerRow = (blocks * bits + 7) / 8;
  std::vector<uint8_t> codes, scales, zeros;
  bool inStore = false;
  for (const Projection *p : parts) {
    Value zeroPoints = input(p->nbits, 3);
    std::optional<std::vector<uint8_t>> c = bytesOf(p->weight);
    std::optional<std::vector<uint8_t>> s = bytesOf(input(p->nbits, 2));
    std::optional<std::vector<uint8_t>> z;
    if (zeroPoints) {
      RankedTensorType zType = weightType(zeroPoints);
      if (!zType || !zType.getElementType().isUnsignedInteger(8) ||
          zType.getNumElements() != n * zeroBytesPerRow) {
        reason = "MatMulNBits zero points other than packed uint8 "
                 "[N, ceil(blocks * bits / 8)] are not supported";
        return failure();
      }
      z = bytesOf(zeroPoints);
    }
    if (!c || !s || (zeroPoints && !z)) {
      reason = "the MatMulNBits weights are not readable initializers";
      return failure();
    }
    inStore |= bool(p->weight.getDefiningOp<moe::WeightOp>());
    llvm::append_range(codes, *c);
    llvm::append_range(scales, *s);
    for (int64_t row = 0; row < n; ++row)
      for (int64_t blk = 0; blk < blocks; ++blk) {
        uint8_t zero = uint8_t(1u << (bits - 1));
        if (z) {
          uint8_t byte = (*z)[row * zeroBytesPerRow + blk * bits / 8];
          zero = bits == 8 ? byte : (blk % 2 ? byte >> 4 : byte & 15);
        }
        zeros.push_back(zero);
      }
  }
  int64_t e = int64_t(parts.size());
  MLIRContext *ctx = b.getContext();
  Type u8 = b.getIntegerType(8, /*isSigned=*/false);
  Type scaleElement = scaleType.getElementType();
  Value data =
      newWeight(b, loc, RankedTensorType::get({e, n, k * bits / 8}, u8),
                std::move(codes), inStore, "matmul_nbits_codes");
  Value scaleValue =
      newWeight(b, loc, RankedTensorType::get({e, n, blocks}, scaleElement),
                std::move(scales), inStore, "matmul_nbits_scales");
  Value zeroValue =
      newWeight(b, loc, RankedTensorType::get({e, n, blocks}, u8),
                std::move(zeros), inStore, "matmul_nbits_zero_points");
  auto packing = moe::PackingAttr::get(
      ctx, bits == 4 ? moe::PackedFormat::Uint4 : moe::PackedFormat::Uint8,
      {1, 1, block}, scaleElement, u8, moe::PackingOrder::LowFirst);
  auto type = moe::PackedType::get(
      ctx, RankedTensorType::get({e, n, k}, scaleElement), packing);
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
  if (parts.front()->nbits) {
    FailureOr<Value> packed = stackPacked(b, loc, parts, reason);
    if (failed(packed))
      return failure();
    s.weight = *packed;
  } else {
    s.weight = stack(b, loc, weights, parts.front()->inputMajor, match.stacked);
  }
  if (!biases.empty())
    s.bias = stack(b, loc, biases, false, match.stacked);
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
  if (moe::GroupLimitAttr groups = router.getGroupsAttr())
    os << ", groups " << groups.getNGroup() << "/" << groups.getTopkGroup()
       << " by " << moe::stringifyGroupScore(groups.getScore());
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
  auto routerOp = moe::RouterOp::create(
      b, loc, logits, router.k, router.scoring, router.selectionBias,
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
