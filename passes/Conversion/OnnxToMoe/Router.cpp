//===- Router.cpp - Matching the routing subgraph around a TopK -----------===//
//
// Recognises, around one TopK:
//
//   logits = MatMul(x, Wr[H, E]) (+ bias)            the router projection
//            | Gemm(x, Wr, bias) (transB either way)
//   scores = Softmax(logits) | Sigmoid(logits) | logits
//   select = scores (+ e_score_correction_bias)      DeepSeek-V3
//            masked to the topk_group best groups    DeepSeek group limit
//            (Where(m, c, fill) or Where(Not(m), fill, c); the fill value
//            is kept: 0.0 and -inf select differently)
//   values, ids = TopK(select, k)
//   weights = values | GatherElements(scores, ids)   (unbiased scores)
//             | Softmax(values)                      GPT-OSS
//             (/ ReduceSum(weights) (+ eps))         norm_topk_prob
//             (* scale)                              routed_scaling_factor
//
// No-op Casts and Identities, and Reshapes of a [T, E] value to [-1, E],
// are looked through everywhere.
//
//===----------------------------------------------------------------------===//

#include "GraphMatch.h"
#include "Raising.h"

#include <cmath>

using namespace mlir;

namespace moec::raise {

/// Whether `node` is a Softmax over the last axis of a rank-`rank` tensor.
static bool isLastAxisSoftmax(onnx::NodeOp node, int64_t rank) {
  return node && isAxisAttr(node, -1, rank, /*fallback=*/-1);
}

namespace {
/// Looks through no-op Casts and Identities and through Reshapes to a
/// constant [rows, cols] shape, remembering each `cols` so that the router
/// can check they all keep the expert axis.
struct Peeler {
  SmallVector<int64_t> columns;

  /// A Flatten to [T, everything else]: keeps the expert axis.
  static constexpr int64_t kFlattened = INT64_MIN;

  Value operator()(Value value) {
    while (true) {
      value = skipCasts(value);
      if (onnx::NodeOp flatten = nodeOf(value, "Flatten")) {
        if (intAttr(flatten, "axis", 1) != 1)
          return value;
        columns.push_back(kFlattened);
        value = flatten.getInputs()[0];
        continue;
      }
      onnx::NodeOp reshape = nodeOf(value, "Reshape");
      std::optional<SmallVector<int64_t>> shape =
          reshape ? constantInts(input(reshape, 1)) : std::nullopt;
      if (!shape || shape->size() != 2 || intAttr(reshape, "allowzero", 0))
        return value;
      columns.push_back((*shape)[1]);
      value = reshape.getInputs()[0];
    }
  }
};
} // namespace

/// Whether `value` is a bias over the experts: [E] or [1, E].
static bool isExpertVector(Value value) {
  RankedTensorType type = weightType(value);
  return type && (type.getRank() == 1 ||
                  (type.getRank() == 2 && type.getDimSize(0) == 1));
}

/// Matches the router projection; sets hidden, logits and numExperts.
static LogicalResult matchProjection(Value logits, Peeler &peel,
                                     RouterMatch &m) {
  Value value = peel(logits);
  if (onnx::NodeOp add = nodeOf(value, "Add")) {
    for (Value operand : add.getInputs()) {
      if (isExpertVector(operand)) {
        value = peel(otherOperand(add, operand));
        break;
      }
    }
  }
  if (onnx::NodeOp gemm = nodeOf(value, "Gemm")) {
    // Y = x W (+ C), with W [H, E] or, transB, [E, H].
    RankedTensorType wType = weightType(input(gemm, 1));
    Value bias = input(gemm, 2);
    if (!wType || wType.getRank() != 2 || intAttr(gemm, "transA", 0) != 0 ||
        floatAttr(gemm, "alpha", 1.0) != 1.0 ||
        (bias && (floatAttr(gemm, "beta", 1.0) != 1.0 || !isExpertVector(bias))))
      return failure();
    m.hidden = gemm.getInputs()[0];
    m.logits = logits;
    m.numExperts = wType.getDimSize(intAttr(gemm, "transB", 0) ? 0 : 1);
    return success();
  }
  onnx::NodeOp matmul = nodeOf(value, "MatMul");
  RankedTensorType wType = matmul ? weightType(input(matmul, 1)) : nullptr;
  if (!wType || wType.getRank() != 2)
    return failure();
  m.hidden = matmul.getInputs()[0];
  m.logits = logits;
  m.numExperts = wType.getDimSize(1);
  return success();
}

/// Whether `value` is all ones (or all zeros), also when broadcast by Expand.
static bool isBroadcastFill(Value value, bool one) {
  value = skipAnyCasts(value);
  if (onnx::NodeOp expand = nodeOf(value, "Expand"))
    value = expand.getInputs()[0];
  return isFilledWith(value, one);
}

/// The group count G of a [tokens, G, E / G] shape, constant or a Concat
/// whose token extent is computed at run time.
static std::optional<int64_t> groupCount(Value shape, int64_t numExperts) {
  SmallVector<std::optional<int64_t>> dims;
  if (std::optional<SmallVector<int64_t>> ints = constantInts(shape)) {
    dims.assign(ints->begin(), ints->end());
  } else if (onnx::NodeOp concat = nodeOf(shape, "Concat")) {
    for (Value part : concat.getInputs()) {
      std::optional<SmallVector<int64_t>> ints = constantInts(part);
      if (ints && ints->size() != 1)
        return std::nullopt;
      dims.push_back(ints ? std::optional<int64_t>(ints->front())
                          : std::nullopt);
    }
  }
  if (dims.size() != 3 || !dims[1] || !dims[2] || *dims[1] <= 0 ||
      numExperts % *dims[1] != 0 ||
      (*dims[2] != -1 && *dims[1] * *dims[2] != numExperts))
    return std::nullopt;
  return *dims[1];
}

/// Matches DeepSeek's group mask: ScatterElements of the indices of the
/// topk_group best group scores into [T, G], either ones into zeros (the
/// kept groups, HF) or zeros into ones (the dropped groups, DeepSeek's own
/// inference code), unsqueezed to [T, G, 1] and, when the mask applies to
/// the [T, E] scores rather than their [T, G, E / G] view, expanded and
/// reshaped to [T, E]. `keepsWhereTrue` says which the Where needs.
static FailureOr<moe::GroupLimitAttr>
matchGroupMask(Value cond, Value select, Value viewShape, bool keepsWhereTrue,
               RouterMatch &m, Reason &reason) {
  bool onGroupedView = static_cast<bool>(viewShape);
  MLIRContext *ctx = cond.getContext();
  reason = "the TopK input is masked by something other than a group-limit "
           "mask (ScatterElements of the top groups' indices, expanded to "
           "every expert of a group)";
  Value value = skipAnyCasts(cond);
  if (!onGroupedView) {
    onnx::NodeOp reshape = nodeOf(value, "Reshape");
    onnx::NodeOp expand = reshape ? nodeOf(reshape.getInputs()[0], "Expand")
                                  : onnx::NodeOp();
    if (!expand)
      return failure();
    value = skipAnyCasts(expand.getInputs()[0]);
  } else if (onnx::NodeOp expand = nodeOf(value, "Expand")) {
    value = skipAnyCasts(expand.getInputs()[0]);
  }
  onnx::NodeOp unsqueeze = nodeOf(value, "Unsqueeze");
  onnx::NodeOp scatter =
      unsqueeze ? nodeOf(skipAnyCasts(unsqueeze.getInputs()[0]),
                         "ScatterElements")
                : onnx::NodeOp();
  if (!scatter || !isSingleAxis(input(unsqueeze, 1), 2, 3) ||
      !isAxisAttr(scatter, 1, 2, 0) ||
      stringAttr(scatter, "reduction", "none") != "none")
    return failure();
  Value base = scatter.getInputs()[0], written = scatter.getInputs()[2];
  bool marksKept =
      isBroadcastFill(base, false) && isBroadcastFill(written, true);
  bool marksDropped =
      isBroadcastFill(base, true) && isBroadcastFill(written, false);
  if (!marksKept && !marksDropped)
    return failure();
  if (marksKept != keepsWhereTrue) {
    reason = "the group mask keeps the dropped groups' scores and masks the "
             "kept ones";
    return failure();
  }
  onnx::NodeOp groupTopK = nodeOf(scatter.getInputs()[1], "TopK");
  if (!groupTopK || groupTopK.getResult(1) != scatter.getInputs()[1])
    return failure();
  std::optional<int64_t> topkGroup = constantInt(input(groupTopK, 1));
  Value groupScores = groupTopK.getInputs()[0];

  moe::GroupScore score;
  Value grouped;
  SmallVector<onnx::NodeOp> inner = {groupTopK};
  if (onnx::NodeOp sum = nodeOf(groupScores, "ReduceSum")) {
    onnx::NodeOp top2 = nodeOf(sum.getInputs()[0], "TopK");
    if (!top2 || top2.getResult(0) != sum.getInputs()[0] ||
        constantInt(input(top2, 1)) != 2 ||
        !isSingleAxis(input(sum, 1), -1, 3) || intAttr(sum, "keepdims", 1) ||
        !isAxisAttr(top2, -1, 3, -1))
      return failure();
    score = moe::GroupScore::SumTop2;
    grouped = top2.getInputs()[0];
    inner.push_back(top2);
  } else if (onnx::NodeOp max = nodeOf(groupScores, "ReduceMax")) {
    std::optional<SmallVector<int64_t>> axes =
        input(max, 1) ? constantInts(input(max, 1)) : intsAttr(max, "axes");
    if (!axes || axes->size() != 1 || (axes->front() != -1 && axes->front() != 2) ||
        intAttr(max, "keepdims", 1))
      return failure();
    score = moe::GroupScore::Max;
    grouped = max.getInputs()[0];
  } else {
    reason = "the group scores are neither the sum of each group's top two "
             "nor its maximum";
    return failure();
  }
  onnx::NodeOp split = nodeOf(grouped, "Reshape");
  std::optional<int64_t> numGroups =
      split ? groupCount(input(split, 1), m.numExperts) : std::nullopt;
  if (!split || skipCasts(split.getInputs()[0]) != select || !numGroups ||
      !topkGroup ||
      (viewShape && groupCount(viewShape, m.numExperts) != numGroups)) {
    reason = "the group scores are not computed from the selection scores "
             "split into equal groups of experts";
    return failure();
  }
  m.innerTopKs.append(inner);
  FloatAttr fill;
  if (m.groupFill)
    fill = FloatAttr::get(Float64Type::get(ctx), *m.groupFill);
  return moe::GroupLimitAttr::get(ctx, *numGroups, *topkGroup, score, fill);
}

/// `value` through its only user while that is an Identity or a Cast to
/// the same type.
static Value throughCasts(Value value) {
  while (value.hasOneUse() && (isNode(*value.user_begin(), "Cast") ||
                               isNode(*value.user_begin(), "Identity"))) {
    Value next = value.user_begin()->getResult(0);
    if (skipCasts(next) != skipCasts(value))
      break;
    value = next;
  }
  return value;
}

/// Follows the routing weights through renormalisation and scaling.
static void matchWeightPostprocessing(RouterMatch &m) {
  m.weights = throughCasts(m.weights);
  for (onnx::NodeOp div : usersOf(m.weights, "Div")) {
    if (div.getInputs()[0] != m.weights)
      continue;
    Value total = div.getInputs()[1];
    // An epsilon guarding the division, as moe.router's 1e-20 does: tiny
    // and non-negative, or it changes the weights.
    if (onnx::NodeOp add = nodeOf(total, "Add"))
      for (Value operand : add.getInputs())
        if (std::optional<double> eps = constantFloat(operand);
            eps && *eps >= 0.0 && *eps <= 1e-6)
          total = otherOperand(add, operand);
    onnx::NodeOp sum = nodeOf(total, "ReduceSum");
    if (sum && sum.getInputs()[0] == m.weights &&
        isSingleAxis(input(sum, 1), -1, 2) && intAttr(sum, "keepdims", 1)) {
      m.normalize = true;
      m.weights = throughCasts(div.getResult(0));
      break;
    }
  }
  for (onnx::NodeOp mul : usersOf(m.weights, "Mul")) {
    std::optional<double> factor =
        constantFloat(otherOperand(mul, m.weights));
    if (factor) {
      m.scale = *factor;
      m.weights = throughCasts(mul.getResult(0));
      break;
    }
  }
}

FailureOr<RouterMatch> matchRouter(onnx::NodeOp topK, Reason &reason) {
  RouterMatch m;
  m.topK = topK;
  if (topK.getNumResults() != 2 || !input(topK, 1)) {
    reason = "TopK does not have the values and indices outputs";
    return failure();
  }
  m.ids = topK.getResult(1);
  if (intAttr(topK, "largest", 1) == 0) {
    reason = "TopK selects the smallest values (largest = 0), not the top-k";
    return failure();
  }
  std::optional<int64_t> k = constantInt(input(topK, 1));
  if (!k || *k <= 0) {
    reason = "TopK's k is not a positive constant";
    return failure();
  }
  m.k = *k;

  // Peel the selection input back to the logits.
  Peeler peel;
  Value select = peel(topK.getInputs()[0]);
  Value mask;
  bool maskKeepsWhereTrue = true;
  onnx::NodeOp groupedView;
  if (onnx::NodeOp where = nodeOf(select, "Where")) {
    // Where(m, c, fill) or, written the other way round, Where(m', fill, c)
    // with m' = Not(m); Nots and Casts on the condition flip or keep it.
    Value cond = where.getInputs()[0];
    bool keepsWhereTrue = true;
    while (true) {
      cond = skipAnyCasts(cond);
      onnx::NodeOp negation = nodeOf(cond, "Not");
      if (!negation)
        break;
      cond = negation.getInputs()[0];
      keepsWhereTrue = !keepsWhereTrue;
    }
    std::optional<double> ifTrue = constantFloat(where.getInputs()[1]);
    std::optional<double> ifFalse = constantFloat(where.getInputs()[2]);
    if (ifTrue.has_value() == ifFalse.has_value()) {
      reason = "the TopK input is a Where that does not mask the selection "
               "scores with one constant";
      return failure();
    }
    if (ifTrue)
      keepsWhereTrue = !keepsWhereTrue;
    double fill = ifTrue ? *ifTrue : *ifFalse;
    if (std::isnan(fill) || fill == INFINITY) {
      reason = "the TopK input's mask fills the dropped groups with NaN or "
               "+inf";
      return failure();
    }
    // -inf makes the dropped experts ineligible, the group limit's default.
    if (fill != -INFINITY)
      m.groupFill = fill;
    mask = cond;
    maskKeepsWhereTrue = keepsWhereTrue;
    select = peel(where.getInputs()[ifTrue ? 2 : 1]);
    // The mask may apply to the [T, G, E / G] view of the scores that the
    // group scores are computed from (masked, then flattened back).
    if (onnx::NodeOp view = nodeOf(select, "Reshape")) {
      std::optional<SmallVector<int64_t>> ints = constantInts(input(view, 1));
      onnx::NodeOp concat = nodeOf(input(view, 1), "Concat");
      if ((ints && ints->size() == 3) ||
          (concat && concat.getInputs().size() == 3)) {
        groupedView = view;
        select = peel(view.getInputs()[0]);
      }
    }
  }
  Value scores = select;
  if (onnx::NodeOp add = nodeOf(select, "Add")) {
    for (Value operand : add.getInputs()) {
      Value other = peel(otherOperand(add, operand));
      if (isExpertVector(operand) &&
          (nodeOf(other, "Sigmoid") || nodeOf(other, "Softmax"))) {
        m.selectionBias = operand;
        scores = other;
        break;
      }
    }
  }
  Value logits = scores;
  std::optional<moe::RouterScoring> scoring;
  if (onnx::NodeOp softmax = nodeOf(scores, "Softmax")) {
    if (!isLastAxisSoftmax(softmax, 2)) {
      reason = "the router Softmax is not over the expert axis";
      return failure();
    }
    scoring = moe::RouterScoring::Softmax;
    logits = softmax.getInputs()[0];
  } else if (onnx::NodeOp sigmoid = nodeOf(scores, "Sigmoid")) {
    scoring = moe::RouterScoring::Sigmoid;
    logits = sigmoid.getInputs()[0];
  }
  if (failed(matchProjection(logits, peel, m))) {
    reason = "the TopK input is not a router projection (MatMul or Gemm by "
             "a constant [hidden, experts] weight, optionally through "
             "Softmax or Sigmoid)";
    return failure();
  }
  for (int64_t cols : peel.columns)
    if (cols != m.numExperts && cols != Peeler::kFlattened) {
      reason = "a Reshape between the router projection and the TopK "
               "does not keep the expert axis";
      return failure();
    }
  int64_t rank = 2;
  if (auto type = dyn_cast<RankedTensorType>(logits.getType()))
    rank = type.getRank();
  if (!isAxisAttr(topK, -1, rank, /*fallback=*/-1)) {
    reason = "TopK axis " + std::to_string(intAttr(topK, "axis", -1)) +
             " is not the expert axis (the last axis of [tokens, experts])";
    return failure();
  }
  if (m.k > m.numExperts) {
    reason = "TopK's k = " + std::to_string(m.k) + " exceeds the " +
             std::to_string(m.numExperts) + " experts";
    return failure();
  }
  if (mask) {
    FailureOr<moe::GroupLimitAttr> groups = matchGroupMask(
        mask, select, groupedView ? input(groupedView, 1) : Value(),
        maskKeepsWhereTrue, m, reason);
    if (failed(groups))
      return failure();
    m.groups = *groups;
  }

  // Routing weights: the TopK values, or the unbiased scores they select.
  if (m.selectionBias || m.groups) {
    for (onnx::NodeOp gather : usersOf(m.ids, "GatherElements"))
      if (peel(gather.getInputs()[0]) == scores && isAxisAttr(gather, 1, 2, 0))
        m.weights = gather.getResult(0);
    if (!m.weights) {
      reason = "the routing weights are not gathered from the unbiased "
               "scores (GatherElements of the scores by the TopK indices)";
      return failure();
    }
  } else {
    m.weights = topK.getResult(0);
  }
  if (scoring) {
    m.scoring = *scoring;
  } else {
    SmallVector<onnx::NodeOp> softmaxes =
        usersOf(throughCasts(m.weights), "Softmax");
    if (softmaxes.size() != 1 || !isLastAxisSoftmax(softmaxes.front(), 2)) {
      reason = "TopK over raw router logits, but the selected values are "
               "not softmax-normalised";
      return failure();
    }
    m.scoring = moe::RouterScoring::SoftmaxAfterTopK;
    m.weights = softmaxes.front().getResult(0);
  }
  matchWeightPostprocessing(m);
  return m;
}

} // namespace moec::raise
