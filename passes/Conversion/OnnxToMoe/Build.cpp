//===- Build.cpp - Building moe.router + moe.experts for a matched block --===//
//
// Expert weights become the stacked torch layout moe.experts takes,
// [E, N, K]: constants are stacked and transposed at compile time; weights
// held elsewhere (moe.weight) get onnx Transpose/Unsqueeze/Concat nodes,
// which convert-onnx-to-linalg lowers like any other node.
//
//===----------------------------------------------------------------------===//

#include "GraphMatch.h"
#include "Raising.h"

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

namespace {
/// The stacked weights of one projection across experts.
struct StackedProjection {
  Value weight, bias;
};
} // namespace

static std::optional<StackedProjection>
stackProjection(OpBuilder &b, Location loc, const ExpertsMatch &match,
                std::optional<Projection> ExpertFfn::*member) {
  if (!(match.experts.front().*member))
    return std::nullopt;
  SmallVector<Value> weights, biases;
  for (const ExpertFfn &ffn : match.experts) {
    weights.push_back((ffn.*member)->weight);
    if ((ffn.*member)->bias)
      biases.push_back((ffn.*member)->bias);
  }
  StackedProjection s;
  s.weight = stack(b, loc, weights, (match.experts.front().*member)->inputMajor,
                   match.stacked);
  if (!biases.empty())
    s.bias = stack(b, loc, biases, false, match.stacked);
  return s;
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

  std::optional<StackedProjection> gateUp =
      stackProjection(b, loc, match, &ExpertFfn::gateUp);
  std::optional<StackedProjection> gate =
      stackProjection(b, loc, match, &ExpertFfn::gate);
  std::optional<StackedProjection> up =
      stackProjection(b, loc, match, &ExpertFfn::up);
  SmallVector<Value> downWeights, downBiases;
  for (const ExpertFfn &ffn : match.experts) {
    downWeights.push_back(ffn.down.weight);
    if (ffn.down.bias)
      downBiases.push_back(ffn.down.bias);
  }
  Value down = stack(b, loc, downWeights, match.experts.front().down.inputMajor,
                     match.stacked);
  Value downBias = downBiases.empty()
                       ? Value()
                       : stack(b, loc, downBiases, false, match.stacked);

  auto downType = cast<RankedTensorType>(down.getType());
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
      gateUp ? gateUp->weight : Value(), gateUp ? gateUp->bias : Value(),
      gate ? gate->weight : Value(), gate ? gate->bias : Value(),
      up ? up->weight : Value(), up ? up->bias : Value(), down, downBias,
      first.activation, layout);
  if (failed(verifyOrErase({routerOp, experts}, reason)))
    return failure();
  replaceValue(b, match.output, experts.getOutput());

  return describeRaised(match.form, routerOp, experts);
}

} // namespace moec::raise
