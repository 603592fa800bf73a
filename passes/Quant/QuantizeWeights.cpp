//===- QuantizeWeights.cpp - Round-to-nearest expert weights --------------===//
//
// Quantizes each float [E, N, K] expert weight as E * N rows of K and
// replaces it by a moe.packed_weight of the codes, scales and zero points,
// written the way the float weight was (store blobs or constants). With a
// routing profile, AWQ scales (ActivationAware.h) are folded in first: the
// down projection's per expert, into the up projection's rows; gate/up's
// shared by the layer's experts, into their input.
//
//===----------------------------------------------------------------------===//

#include "passes/Quant/Passes.h"

#include "passes/Quant/ActivationAware.h"
#include "passes/Quant/PackWeights.h"
#include "passes/Quant/QuantPolicy.h"
#include "passes/Quant/QuantScheme.h"
#include "passes/Sparsity/ExpertLayers.h"
#include "passes/Sparsity/ExpertWeights.h"

#include "dialects/moe/IR/MoeOps.h"
#include "dialects/moe/IR/WeightFiles.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstring>

namespace moec {
#define GEN_PASS_DEF_MOEQUANTIZEWEIGHTS
#include "passes/Quant/Passes.h.inc"
} // namespace moec

using namespace mlir;
using namespace moec;

namespace {
/// A float [E, N, K] expert weight read as E * N rows of K (through
/// GPT-OSS's transpose), with the bytes it came from.
struct FloatRows {
  std::string role;
  OpOperand *operand = nullptr;
  WeightData data;
  std::vector<float> values;
  int64_t experts = 0, n = 0, k = 0;
  Type element;
  Location loc;
  /// Whether `values` differ from the stored weight (AWQ folded in).
  bool edited = false;

  /// Row `row` of expert `e`.
  float *row(int64_t e, int64_t row) {
    return values.data() + (e * n + row) * k;
  }
  llvm::ArrayRef<float> expert(int64_t e) const {
    return llvm::ArrayRef<float>(values).slice(e * n * k, n * k);
  }
  /// The experts `ids`, in that order.
  FloatRows subset(ArrayRef<int64_t> ids) const {
    FloatRows part = *this;
    part.experts = int64_t(ids.size());
    part.values.clear();
    for (int64_t e : ids)
      llvm::append_range(part.values, expert(e));
    return part;
  }
};
} // namespace

/// The rows of the float weight `operand` holds; std::nullopt when it is
/// absent or already packed.
static FailureOr<std::optional<FloatRows>>
readRows(OpOperand *operand, StringRef role, bool int4, Operation *user) {
  Value weight = operand->get();
  auto type = dyn_cast<RankedTensorType>(weight.getType());
  if (!type)
    return std::optional<FloatRows>();
  FloatRows rows{
      role.str(),     operand, {}, {}, 0, 0, 0, type.getElementType(),
      weight.getLoc()};
  rows.experts = type.getDimSize(0);
  rows.n = type.getDimSize(1);
  rows.k = type.getDimSize(2);
  if (int4 && rows.k % 2 != 0)
    return user->emitOpError("cannot pack ")
           << role << " weight " << type
           << " as int4: K must be even (two codes per byte)";
  // GPT-OSS stores [E, K, N] and the importer transposes: quantize the
  // transpose of the stored weight.
  Value source = weight;
  auto transpose = weight.getDefiningOp<linalg::TransposeOp>();
  bool transposed =
      transpose && transpose.getPermutation() == ArrayRef<int64_t>{0, 2, 1};
  if (transposed)
    source = transpose.getInput();
  FailureOr<WeightData> data = readWeight(source, user);
  if (failed(data))
    return failure();
  std::optional<std::vector<float>> values =
      readFloats(data->bytes(), type.getElementType());
  if (!values || int64_t(values->size()) != type.getNumElements())
    return user->emitOpError("cannot read the ")
           << role << " weight " << type << " as floats";
  if (transposed) {
    std::vector<float> stored = std::move(*values);
    values->assign(stored.size(), 0.0f);
    for (int64_t e = 0; e < rows.experts; ++e)
      for (int64_t kk = 0; kk < rows.k; ++kk)
        for (int64_t col = 0; col < rows.n; ++col)
          (*values)[(e * rows.n + col) * rows.k + kk] =
              stored[(e * rows.k + kk) * rows.n + col];
  }
  rows.data = std::move(*data);
  rows.values = std::move(*values);
  return std::optional<FloatRows>(std::move(rows));
}

/// The statistics of experts `ids` of `profile`, in that order.
static rt::LayerProfile sliceProfile(const rt::LayerProfile &profile,
                                     ArrayRef<int64_t> ids) {
  rt::LayerProfile part = profile;
  part.experts = int64_t(ids.size());
  part.routed.clear(), part.inputAbsSum.clear(), part.hiddenAbsSum.clear();
  for (int64_t e : ids) {
    part.routed.push_back(profile.routed[e]);
    auto slice = [&](const std::vector<double> &from, int64_t width,
                     std::vector<double> &to) {
      to.insert(to.end(), from.begin() + e * width,
                from.begin() + (e + 1) * width);
    };
    slice(profile.inputAbsSum, profile.hidden, part.inputAbsSum);
    slice(profile.hiddenAbsSum, profile.intermediate, part.hiddenAbsSum);
  }
  return part;
}

/// An elementwise `combine` of a [T, H] tensor with `other`, read through
/// `otherMap`.
static Value
elementwise(OpBuilder &b, Location loc, Value x, Value other,
            AffineMap otherMap,
            function_ref<Value(OpBuilder &, Location, Value, Value)> combine) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<Value> dynamicSizes;
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (type.isDynamicDim(d))
      dynamicSizes.push_back(tensor::DimOp::create(b, loc, x, d));
  Value init = tensor::EmptyOp::create(b, loc, type.getShape(),
                                       type.getElementType(), dynamicSizes);
  AffineMap identity = AffineMap::getMultiDimIdentityMap(2, b.getContext());
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, ValueRange{x, other}, ValueRange{init},
             ArrayRef<AffineMap>{identity, otherMap, identity},
             ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                           utils::IteratorType::parallel},
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               linalg::YieldOp::create(
                   nb, nloc, ValueRange{combine(nb, nloc, args[0], args[1])});
             })
      .getResult(0);
}

/// `x * inverse` (broadcast along the rows of a [T, H] tensor).
static Value scaleColumns(OpBuilder &b, Location loc, Value x,
                          ArrayRef<float> inverse) {
  auto vectorType =
      RankedTensorType::get({int64_t(inverse.size())}, b.getF32Type());
  Value factors = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(vectorType, inverse));
  AffineMap column = AffineMap::get(2, 0, getAffineDimExpr(1, b.getContext()));
  return elementwise(b, loc, x, factors, column,
                     [](OpBuilder &nb, Location nloc, Value l, Value r) {
                       return arith::MulFOp::create(nb, nloc, l, r).getResult();
                     });
}

/// a + c for two [T, H] tensors.
static Value addTensors(OpBuilder &b, Location loc, Value a, Value c) {
  return elementwise(b, loc, a, c,
                     AffineMap::getMultiDimIdentityMap(2, b.getContext()),
                     [](OpBuilder &nb, Location nloc, Value l, Value r) {
                       return arith::AddFOp::create(nb, nloc, l, r).getResult();
                     });
}

/// Errors on `module` for policy entries naming a layer or expert that
/// does not exist.
static LogicalResult checkPolicy(ModuleOp module, const QuantPolicy &policy,
                                 ArrayRef<MoeLayer> layers) {
  auto layerError = [&](int64_t layer) {
    return module.emitError("quantization policy names layer ")
           << layer << ", but the model has " << layers.size()
           << " MoE layers (numbered from 0)";
  };
  for (const auto &entry : policy.layers)
    if (entry.first >= int64_t(layers.size()))
      return layerError(entry.first);
  for (const auto &[layer, perExpert] : policy.experts) {
    if (layer >= int64_t(layers.size()))
      return layerError(layer);
    int64_t numExperts =
        cast<ShapedType>(
            moe::ExpertsOp(layers[layer].experts).getDown().getType())
            .getDimSize(0);
    for (const auto &entry : perExpert)
      if (entry.first >= numExperts)
        return module.emitError("quantization policy names expert ")
               << entry.first << " of layer " << layer << ", which has "
               << numExperts << " experts";
  }
  return success();
}

namespace {
struct MoeQuantizeWeightsPass
    : public moec::impl::MoeQuantizeWeightsBase<MoeQuantizeWeightsPass> {
  using Base::Base;

  /// `rows` as a moe.packed_weight of `choice`, or as a float weight for
  /// fp32 (the stored one when unchanged).
  Value pack(OpBuilder &b, FloatRows &rows, int64_t layer,
             const QuantChoice &choice) {
    int64_t experts = rows.experts, n = rows.n, k = rows.k;
    auto type = RankedTensorType::get({experts, n, k}, rows.element);
    Location loc = rows.loc;
    if (!choice) {
      Value stored = rows.operand->get();
      if (!rows.edited &&
          experts == cast<RankedTensorType>(stored.getType()).getDimSize(0))
        return stored;
      auto f32Type = RankedTensorType::get({experts, n, k}, b.getF32Type());
      return writeWeight(b, loc, rows.data, f32Type, toBytes(rows.values),
                         "fp32");
    }
    const QuantScheme &quant = *choice;
    QuantizedMatrix q;
    Value packed = packWeight(b, loc, rows.data, rows.values, experts, n, k,
                              rows.element, quant, q);
    if (report) {
      int64_t before = type.getNumElements() *
                       int64_t(rows.element.getIntOrFloatBitWidth() / 8);
      int64_t after = weightBytes(packed);
      reportLine("moe-quantize-weights",
                 llvm::formatv("layer {0} {1} {2}: {3} -> {4}, SQNR {5:f1} dB",
                               layer, rows.role, quant.str(),
                               formatBytes(before), formatBytes(after),
                               q.sqnrDb()));
    }
    return packed;
  }

  /// Folds AWQ scales from `profile` into `weights` (the layer's float
  /// gate_up, gate, up and down rows); returns the inverse scales the
  /// experts' input must be multiplied by (empty when gate/up keep theirs).
  std::vector<float> foldAwqScales(moe::ExpertsOp experts, int64_t layer,
                                   const rt::LayerProfile &profile,
                                   SmallVector<FloatRows> &weights,
                                   const QuantScheme &quant) {
    FloatRows *down = nullptr, *up = nullptr;
    SmallVector<FloatRows *> inputSide;
    for (FloatRows &rows : weights) {
      if (rows.role == "down")
        down = &rows;
      else
        inputSide.push_back(&rows);
      if (rows.role == "up" || rows.role == "gate_up")
        up = &rows;
    }
    int64_t numExperts = profile.experts, hidden = profile.hidden,
            inter = profile.intermediate;
    SmallVector<int64_t> rare;
    for (int64_t e = 0; e < numExperts; ++e)
      if (profile.routed[e] < awqMinTokens)
        rare.push_back(e);
    auto enough = [&](int64_t e) { return profile.routed[e] >= awqMinTokens; };

    // Down: per expert, folded into the up rows when the activation is
    // linear in up for positive scales (gated without beta or limit, ReLU,
    // identity).
    moe::ActivationAttr act = experts.getActivation();
    moe::ActivationKind kind = act.getKind();
    bool linearInUp = kind == moe::ActivationKind::SiluGated ||
                      kind == moe::ActivationKind::Relu ||
                      kind == moe::ActivationKind::Identity ||
                      (kind == moe::ActivationKind::Swiglu && !act.getLimit() &&
                       act.getBeta().isZero());
    bool upBias = experts.getUpBias() || experts.getGateUpBias();
    std::string downNote;
    if (down && up && linearInUp && !upBias && down->k == inter) {
      double loss = 0, rtnLoss = 0, alphaSum = 0;
      int64_t folded = 0;
      for (int64_t e = 0; e < numExperts; ++e) {
        if (!enough(e))
          continue;
        std::vector<double> magnitude(inter);
        for (int64_t j = 0; j < inter; ++j)
          magnitude[j] =
              profile.hiddenAbsSum[e * inter + j] / double(profile.routed[e]);
        AwqMatrix matrix{down->expert(e), down->n, magnitude, 1.0};
        AwqScales s = searchAwqScales(matrix, magnitude, quant);
        loss += s.loss, rtnLoss += s.rtnLoss, alphaSum += s.alpha, ++folded;
        for (int64_t r = 0; r < down->n; ++r)
          for (int64_t j = 0; j < inter; ++j)
            down->row(e, r)[j] *= s.scales[j];
        moe::GateUpLayoutAttr layout = experts.getLayoutAttr();
        for (int64_t j = 0; j < inter; ++j) {
          int64_t upRow = up->role == "up" ? j
                          : layout.getValue() == moe::GateUpLayout::Interleaved
                              ? 2 * j + 1
                              : inter + j;
          float *row = up->row(e, upRow);
          for (int64_t kk = 0; kk < up->k; ++kk)
            row[kk] /= s.scales[j];
        }
      }
      down->edited = up->edited = folded > 0;
      downNote = llvm::formatv("down: {0} experts, mean alpha {1:f2}, error "
                               "x{2:f2} of RTN",
                               folded, folded ? alphaSum / folded : 0.0,
                               rtnLoss > 0 ? loss / rtnLoss : 1.0);
    } else if (down) {
      downNote = "down: RTN (the activation is not linear in up, or up has "
                 "a bias)";
    }

    // Gate/up: one set of scales for all experts, folded into the input.
    std::vector<float> inverse;
    std::string inputNote;
    Type inputElement = experts.getInput().getType().getElementType();
    if (!inputSide.empty() && inputSide.front()->k == hidden &&
        inputElement.isF32() && int64_t(rare.size()) < numExperts) {
      std::vector<double> layerMagnitude(hidden, 0.0);
      double tokens = 0;
      std::vector<std::vector<double>> magnitudes;
      SmallVector<AwqMatrix> matrices;
      for (int64_t e = 0; e < numExperts; ++e) {
        if (!enough(e))
          continue;
        tokens += double(profile.routed[e]);
        for (int64_t kk = 0; kk < hidden; ++kk)
          layerMagnitude[kk] += profile.inputAbsSum[e * hidden + kk];
      }
      for (double &m : layerMagnitude)
        m /= tokens;
      for (int64_t e = 0; e < numExperts; ++e) {
        if (!enough(e))
          continue;
        std::vector<double> &m = magnitudes.emplace_back(hidden);
        for (int64_t kk = 0; kk < hidden; ++kk)
          m[kk] =
              profile.inputAbsSum[e * hidden + kk] / double(profile.routed[e]);
      }
      size_t next = 0;
      for (int64_t e = 0; e < numExperts; ++e) {
        if (!enough(e))
          continue;
        for (FloatRows *rows : inputSide)
          matrices.push_back({rows->expert(e), rows->n, magnitudes[next],
                              double(profile.routed[e])});
        ++next;
      }
      AwqScales s = searchAwqScales(matrices, layerMagnitude, quant);
      for (FloatRows *rows : inputSide)
        rows->edited = true;
      for (FloatRows *rows : inputSide)
        for (int64_t r = 0; r < rows->experts * rows->n; ++r)
          for (int64_t kk = 0; kk < hidden; ++kk)
            rows->values[r * hidden + kk] *= s.scales[kk];
      if (s.alpha != 0.0)
        for (float scale : s.scales)
          inverse.push_back(1.0f / scale);
      inputNote =
          llvm::formatv("gate/up: alpha {0:f2}, error x{1:f2} of RTN", s.alpha,
                        s.rtnLoss > 0 ? s.loss / s.rtnLoss : 1.0);
    } else if (!inputSide.empty()) {
      inputNote = "gate/up: RTN (no expert has enough tokens, or the input "
                  "is not f32)";
    }
    if (report) {
      std::string rareNote;
      for (int64_t e : rare)
        rareNote += (rareNote.empty() ? "" : ", ") + std::to_string(e);
      reportLine("moe-quantize-weights",
                 llvm::formatv("layer {0} awq: {1}; {2}; rarely routed "
                               "(< {3} tokens, RTN): {4}",
                               layer, inputNote, downNote, awqMinTokens,
                               rare.empty() ? "none" : rareNote));
    }
    return inverse;
  }

  /// Quantizes the float `weights` of `experts` with `choice` (AWQ first
  /// with `profile`), into the operands of `target`: `experts` itself, or
  /// a part of it that holds the same weights' experts.
  void quantizeInto(OpBuilder &b, moe::ExpertsOp experts, moe::ExpertsOp target,
                    int64_t layer, SmallVector<FloatRows> &weights,
                    const QuantChoice &choice,
                    const rt::LayerProfile *profile) {
    std::vector<float> inverseInputScales;
    if (profile && choice)
      inverseInputScales =
          foldAwqScales(experts, layer, *profile, weights, *choice);
    for (FloatRows &rows : weights)
      target->getOpOperand(rows.operand->getOperandNumber())
          .set(pack(b, rows, layer, choice));
    if (!inverseInputScales.empty())
      target.getInputMutable().assign(scaleColumns(
          b, target.getLoc(), target.getInput(), inverseInputScales));
  }

  /// Replaces `experts` by one moe.experts per group of experts sharing a
  /// choice, each seeing only its experts' choices (moe.remap_experts), and
  /// sums their outputs; returns the bytes of the parts' weights.
  FailureOr<int64_t> splitByChoice(OpBuilder &b, moe::ExpertsOp experts,
                                   int64_t layer,
                                   SmallVector<FloatRows> &weights,
                                   ArrayRef<QuantChoice> choices,
                                   const rt::LayerProfile *profile) {
    std::vector<std::pair<QuantChoice, SmallVector<int64_t>>> groups;
    for (auto [e, choice] : llvm::enumerate(choices)) {
      std::string name = choiceName(choice);
      auto it = llvm::find_if(groups, [&](const auto &group) {
        return choiceName(group.first) == name;
      });
      if (it == groups.end())
        groups.push_back({choice, {}}), it = std::prev(groups.end());
      it->second.push_back(int64_t(e));
    }
    Location loc = experts.getLoc();
    Value total;
    int64_t bytes = 0;
    SmallVector<std::string> notes;
    for (auto &[choice, ids] : groups) {
      SmallVector<int32_t> map(choices.size(), -1);
      for (auto [i, e] : llvm::enumerate(ids))
        map[e] = int32_t(i);
      auto remap = moe::RemapExpertsOp::create(
          b, loc, experts.getRoutingWeights().getType(),
          experts.getExpertIds().getType(), experts.getRoutingWeights(),
          experts.getExpertIds(), b.getDenseI32ArrayAttr(map));
      // A copy of the op on the group's weights and biases.
      auto part = cast<moe::ExpertsOp>(b.clone(*experts));
      part.getRoutingWeightsMutable().assign(remap.getNewWeights());
      part.getExpertIdsMutable().assign(remap.getNewIds());
      for (MutableOperandRange range :
           {part.getGateUpBiasMutable(), part.getGateBiasMutable(),
            part.getUpBiasMutable(), part.getDownBiasMutable()}) {
        if (range.empty())
          continue;
        FailureOr<Value> sliced =
            gatherWeight(b, range[0].get(), 0, ids, experts);
        if (failed(sliced))
          return failure();
        range[0].set(*sliced);
      }
      SmallVector<FloatRows> partWeights;
      for (const FloatRows &rows : weights)
        partWeights.push_back(rows.subset(ids));
      std::optional<rt::LayerProfile> partProfile;
      if (profile)
        partProfile = sliceProfile(*profile, ids);
      quantizeInto(b, experts, part, layer, partWeights, choice,
                   partProfile ? &*partProfile : nullptr);
      // The part was cloned before its new operands were made.
      part->moveBefore(experts);
      bytes += expertBytes(part);
      Value out = part.getOutput();
      total = total ? addTensors(b, loc, total, out) : out;
      notes.push_back(
          choiceName(choice) + " for experts " +
          llvm::join(
              llvm::map_range(ids, [](int64_t e) { return std::to_string(e); }),
              ","));
    }
    if (report)
      reportLine("moe-quantize-weights",
                 "layer " + Twine(layer) +
                     " mixed precision: " + llvm::join(notes, "; "));
    experts.getOutput().replaceAllUsesWith(total);
    experts.erase();
    return bytes;
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<QuantChoice> parsed =
        parseSchemeOption(module, "moe-quantize-weights", scheme);
    if (failed(parsed))
      return signalPassFailure();
    QuantChoice fallback = *parsed;
    SmallVector<MoeLayer> layers = collectMoeLayers(module);
    std::optional<QuantPolicy> quantPolicy;
    std::optional<rt::RoutingProfile> hotProfile;
    if (!policy.empty()) {
      std::string error;
      quantPolicy = QuantPolicy::load(policy, error);
      if (!quantPolicy) {
        module.emitError(error);
        return signalPassFailure();
      }
      if (failed(checkPolicy(module, *quantPolicy, layers)))
        return signalPassFailure();
      if (quantPolicy->hot) {
        FailureOr<rt::RoutingProfile> loaded =
            loadRoutingProfile(quantPolicy->hot->profile, module, layers);
        if (failed(loaded))
          return signalPassFailure();
        hotProfile = std::move(*loaded);
      }
    }
    std::optional<rt::RoutingProfile> profile;
    if (!awqProfile.empty()) {
      FailureOr<rt::RoutingProfile> loaded =
          loadRoutingProfile(awqProfile, module, layers);
      if (failed(loaded))
        return signalPassFailure();
      profile = std::move(*loaded);
    }
    int64_t saved = 0;
    for (const MoeLayer &layer : layers) {
      moe::ExpertsOp experts = layer.experts;
      OpBuilder b(experts);
      int64_t before = expertBytes(experts);
      SmallVector<FloatRows> weights;
      // Without a policy, the fallback; else the policy's choices.
      int64_t numExperts =
          cast<ShapedType>(experts.getDown().getType()).getDimSize(0);
      std::vector<QuantChoice> choices(numExperts, fallback);
      if (quantPolicy)
        choices = quantPolicy->choicesFor(
            layer.index, numExperts,
            hotProfile ? &hotProfile->layers[layer.index].routed : nullptr,
            fallback);
      bool anyQuantized = llvm::any_of(
          choices, [](const QuantChoice &choice) { return bool(choice); });
      bool int4 = llvm::any_of(choices, [](const QuantChoice &choice) {
        return choice && choice->bits == 4;
      });
      size_t roles = 0;
      auto add = [&](MutableOperandRange range, StringRef role) -> bool {
        if (range.empty())
          return true;
        ++roles;
        FailureOr<std::optional<FloatRows>> rows =
            readRows(&range[0], role, int4, experts);
        if (failed(rows))
          return false;
        if (*rows)
          weights.push_back(std::move(**rows));
        return true;
      };
      if (!anyQuantized)
        continue;
      if (!add(experts.getGateUpMutable(), "gate_up") ||
          !add(experts.getGateMutable(), "gate") ||
          !add(experts.getUpMutable(), "up") ||
          !add(experts.getDownMutable(), "down"))
        return signalPassFailure();
      const rt::LayerProfile *layerProfile =
          profile ? &profile->layers[layer.index] : nullptr;
      bool uniform = llvm::all_of(choices, [&](const QuantChoice &choice) {
        return choiceName(choice) == choiceName(choices.front());
      });
      if (uniform) {
        quantizeInto(b, experts, experts, layer.index, weights, choices.front(),
                     layerProfile);
        saved += before - expertBytes(experts);
        continue;
      }
      if (weights.size() != roles) {
        experts.emitOpError("mixed precision needs float expert weights "
                            "(this layer's are already quantized)");
        return signalPassFailure();
      }
      FailureOr<int64_t> after = splitByChoice(b, experts, layer.index, weights,
                                               choices, layerProfile);
      if (failed(after))
        return signalPassFailure();
      saved += before - *after;
    }
    if (report && saved > 0)
      reportLine("moe-quantize-weights",
                 "expert weights " + formatBytes(saved) + " smaller");
  }
};
} // namespace
