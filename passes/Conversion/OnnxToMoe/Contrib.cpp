//===- Contrib.cpp - Raising com.microsoft.MoE and QMoE -------------------===//
//
// The onnxruntime-genai builders emit one contrib node per MoE layer. Its
// router_probs input holds logits (softmax, top-k and the optional
// renormalisation happen inside), fc1 holds gate and up interleaved
// (swiglu_fusion=1), concatenated (2) or gate only with up in fc3 (0), and
// QMoE's weights are packed bytes [E, N, K * bits / 8] with block scales,
// which become !moe.packed values without being unpacked.
//
//===----------------------------------------------------------------------===//

#include "GraphMatch.h"
#include "Raising.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;

namespace moec::raise {

namespace {
/// Input positions of MoE and QMoE (QMoE adds scales after each weight).
struct ContribLayout {
  unsigned fc1, fc1Bias, fc2, fc2Bias, fc3, fc3Bias;
  unsigned fc1Scales = 0, fc2Scales = 0, fc3Scales = 0;
  unsigned fc1Zp = 0, fc2Zp = 0, fc3Zp = 0, routerWeights = 0;
};
constexpr ContribLayout kMoe = {2, 3, 4, 5, 6, 7};
constexpr ContribLayout kQMoe = {2, 4, 5, 7, 8, 10, 3, 6, 9, 11, 12, 13, 14};
} // namespace

/// Builds the !moe.packed weight for QMoE bytes `data` [E, N, K*bits/8].
static FailureOr<Value> packedWeight(OpBuilder &b, Location loc, Value data,
                                     Value scales, Value zeroPoints,
                                     int64_t bits, int64_t blockSize,
                                     Reason &reason) {
  RankedTensorType dataType = weightType(data);
  RankedTensorType scaleType = weightType(scales);
  if (!dataType || dataType.getRank() != 3 ||
      !dataType.getElementType().isUnsignedInteger(8) || !scaleType) {
    reason = "QMoE weights must be uint8 initializers [E, N, K*bits/8] with "
             "initializer scales";
    return failure();
  }
  int64_t k = dataType.getDimSize(2) * 8 / bits;
  int64_t block = blockSize > 0 ? blockSize : k;
  if (k % block != 0) {
    reason = "QMoE block_size " + std::to_string(block) +
             " does not divide K = " + std::to_string(k);
    return failure();
  }
  int64_t e = dataType.getDimSize(0), n = dataType.getDimSize(1);
  SmallVector<int64_t> scaleShape = {e, n, k / block};
  ArrayRef<int64_t> given = scaleType.getShape();
  bool perChannel = given == ArrayRef<int64_t>{e, n} && k / block == 1;
  if (given != ArrayRef<int64_t>(scaleShape) && !perChannel) {
    reason = "QMoE scales have the wrong shape for the weights and block size";
    return failure();
  }
  auto fullScales =
      RankedTensorType::get(scaleShape, scaleType.getElementType());
  if (perChannel)
    scales = createNode(b, loc, "Unsqueeze", {scales, i64Constant(b, loc, {2})},
                        fullScales);
  Type zpElement = b.getIntegerType(8, /*isSigned=*/false);
  auto zpType = RankedTensorType::get(scaleShape, zpElement);
  if (zeroPoints) {
    RankedTensorType zpGiven = weightType(zeroPoints);
    if (bits != 8 || !zpGiven || zpGiven.getShape() != ArrayRef(scaleShape) ||
        zpGiven.getElementType() != zpElement) {
      reason = "QMoE zero points other than uint8 [E, N, K/block] for 8-bit "
               "weights are not supported";
      return failure();
    }
  } else {
    // ORT's default zero point 2^(bits-1), as a splat: unsigned storage.
    zeroPoints = arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(zpType, APInt(8, uint64_t(1) << (bits - 1))));
  }
  MLIRContext *ctx = b.getContext();
  auto packing = moe::PackingAttr::get(
      ctx, bits == 4 ? moe::PackedFormat::Uint4 : moe::PackedFormat::Uint8,
      {1, 1, block}, scaleType.getElementType(), zpElement,
      moe::PackingOrder::LowFirst);
  auto logical = RankedTensorType::get({e, n, k}, scaleType.getElementType());
  auto type = moe::PackedType::get(ctx, logical, packing);
  return moe::PackedWeightOp::create(b, loc, type, data, scales, zeroPoints)
      .getResult();
}

FailureOr<std::string> raiseContribMoe(OpBuilder &b, onnx::NodeOp node,
                                       Reason &reason) {
  bool quantized = node.getOpType() == "QMoE";
  const ContribLayout &at = quantized ? kQMoe : kMoe;
  Location loc = node.getLoc();
  MLIRContext *ctx = b.getContext();

  if (node.getNumResults() != 1) {
    reason = "expects exactly one output";
    return failure();
  }
  if (intAttr(node, "use_sparse_mixer", 0) != 0) {
    reason = "use_sparse_mixer=1 (PhiMoE's sparse mixer routing) has no moe "
             "equivalent yet";
    return failure();
  }
  if (quantized) {
    StringRef quantType = stringAttr(node, "quant_type", "int");
    if (quantType != "int") {
      reason = "QMoE quant_type '" + quantType.str() +
               "' is not supported (int only)";
      return failure();
    }
    if (input(node, at.routerWeights)) {
      reason = "QMoE with separate router_weights is not supported";
      return failure();
    }
  }
  int64_t bits = intAttr(node, "expert_weight_bits", 4);
  if (quantized && bits != 4 && bits != 8) {
    reason = "QMoE expert_weight_bits " + std::to_string(bits) +
             " is not supported (4 or 8)";
    return failure();
  }

  // Activation and projections.
  StringRef activationType = stringAttr(node, "activation_type", "relu");
  int64_t fusion = intAttr(node, "swiglu_fusion", 0);
  moe::ActivationAttr activation;
  if (activationType == "swiglu") {
    std::optional<APFloat> limit;
    if (std::optional<double> l = optionalFloatAttr(node, "swiglu_limit"))
      limit = APFloat(*l);
    activation = moe::ActivationAttr::get(
                     ctx, moe::ActivationKind::Swiglu,
                     APFloat(floatAttr(node, "activation_alpha", 1.0)),
                     APFloat(floatAttr(node, "activation_beta", 0.0)), limit)
                     .getCanonical();
  } else if (activationType == "relu" || activationType == "gelu" ||
             activationType == "identity") {
    activation = moe::ActivationAttr::get(
        ctx, *moe::symbolizeActivationKind(activationType));
  } else {
    reason = "activation_type '" + activationType.str() +
             "' has no moe equivalent (ungated silu)";
    return failure();
  }
  if (activation.isGated() && (fusion < 0 || fusion > 2)) {
    reason = "swiglu_fusion " + std::to_string(fusion) + " is not 0, 1 or 2";
    return failure();
  }
  if (activation.isGated() && fusion == 0 && !input(node, at.fc3)) {
    reason = "separate SwiGLU projections (swiglu_fusion=0) need fc3";
    return failure();
  }

  Value x = input(node, 0), logits = input(node, 1);
  Value fc1 = input(node, at.fc1), fc2 = input(node, at.fc2);
  Value fc3 = input(node, at.fc3);
  RankedTensorType fc2Type = weightType(fc2);
  if (!x || !logits || !weightType(fc1) || !fc2Type || fc2Type.getRank() != 3 ||
      (fc3 && !weightType(fc3))) {
    reason = "the expert weights are not initializers";
    return failure();
  }
  if (auto xType = dyn_cast<RankedTensorType>(x.getType());
      xType && xType.getRank() != 2) {
    reason = "input of rank " + std::to_string(xType.getRank()) +
             " (only [tokens, hidden] is raised)";
    return failure();
  }

  b.setInsertionPoint(node);
  auto weight = [&](Value data, unsigned scalesAt,
                    unsigned zpAt) -> FailureOr<Value> {
    if (!data || !quantized)
      return data;
    return packedWeight(b, loc, data, input(node, scalesAt), input(node, zpAt),
                        bits, intAttr(node, "block_size", 0), reason);
  };
  FailureOr<Value> w1 = weight(fc1, at.fc1Scales, at.fc1Zp);
  FailureOr<Value> w2 = weight(fc2, at.fc2Scales, at.fc2Zp);
  FailureOr<Value> w3 = weight(fc3, at.fc3Scales, at.fc3Zp);
  if (failed(w1) || failed(w2) || failed(w3))
    return failure();

  int64_t numExperts = fc2Type.getDimSize(0);
  int64_t hidden = fc2Type.getDimSize(1);
  Type element = isa<moe::PackedType>(w2->getType())
                     ? cast<moe::PackedType>(w2->getType())
                           .getTensorType()
                           .getElementType()
                     : fc2Type.getElementType();
  Value input = castTo(b, loc, x, tokensType(hidden, element));
  Value routerLogits = castTo(b, loc, logits, tokensType(numExperts, element));
  bool normalize = intAttr(node, "normalize_routing_weights", 0) != 0;
  auto router =
      moe::RouterOp::create(b, loc, routerLogits, intAttr(node, "k", 1),
                            moe::RouterScoring::Softmax, Value(), normalize);
  Value fc1Bias = raise::input(node, at.fc1Bias);
  Value fc3Bias = raise::input(node, at.fc3Bias);
  Value gateUp, gateUpBias, gate, gateBias, up, upBias;
  moe::GateUpLayoutAttr layout;
  if (!activation.isGated()) {
    up = *w1, upBias = fc1Bias;
  } else if (fusion == 0) {
    gate = *w1, gateBias = fc1Bias, up = *w3, upBias = fc3Bias;
  } else {
    gateUp = *w1, gateUpBias = fc1Bias;
    layout = moe::GateUpLayoutAttr::get(
        ctx, fusion == 1 ? moe::GateUpLayout::Interleaved
                         : moe::GateUpLayout::Concatenated);
  }
  auto experts = moe::ExpertsOp::create(
      b, loc, input.getType(), input, router.getWeights(), router.getIds(),
      gateUp, gateUpBias, gate, gateBias, up, upBias, *w2,
      raise::input(node, at.fc2Bias), activation, layout);
  SmallVector<Operation *> built = {router, experts};
  for (Value w : {*w1, *w2, *w3})
    if (auto packed = w ? w.getDefiningOp<moe::PackedWeightOp>() : nullptr)
      built.insert(built.begin(), packed);
  if (failed(verifyOrErase(built, reason)))
    return failure();
  replaceValue(b, node.getResult(0), experts.getOutput());

  return describeRaised("contrib", router, experts);
}

} // namespace moec::raise
