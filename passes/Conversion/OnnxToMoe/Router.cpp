//===- Router.cpp - Matching the routing subgraph around a TopK -----------===//
//
// Recognises, around one TopK:
//
//   logits = MatMul(x, Wr[H, E]) (+ bias)            the router projection
//   scores = Softmax(logits) | Sigmoid(logits) | logits
//   select = scores (+ e_score_correction_bias)      DeepSeek-V3
//            masked to the topk_group best groups    DeepSeek group limit
//   values, ids = TopK(select, k)
//   weights = values | GatherElements(scores, ids)   (unbiased scores)
//             | Softmax(values)                      GPT-OSS
//             (/ ReduceSum(weights) (+ eps))         norm_topk_prob
//             (* scale)                              routed_scaling_factor
//
//===----------------------------------------------------------------------===//

#include "GraphMatch.h"
#include "Raising.h"

using namespace mlir;

namespace moec::raise {

/// Whether `node` is a Softmax over the last axis of a rank-`rank` tensor.
static bool isLastAxisSoftmax(onnx::NodeOp node, int64_t rank) {
  return node && isAxisAttr(node, -1, rank, /*fallback=*/-1);
}

/// Matches the router projection; sets hidden, logits and numExperts.
static LogicalResult matchProjection(Value logits, RouterMatch &m) {
  Value value = skipCasts(logits);
  if (onnx::NodeOp reshape = nodeOf(value, "Reshape")) {
    std::optional<SmallVector<int64_t>> shape = constantInts(input(reshape, 1));
    if (!shape || shape->size() != 2)
      return failure();
    value = skipCasts(reshape.getInputs()[0]);
  }
  if (onnx::NodeOp add = nodeOf(value, "Add")) {
    for (Value operand : add.getInputs()) {
      RankedTensorType type = weightType(operand);
      if (type && type.getRank() == 1) {
        value = otherOperand(add, operand);
        break;
      }
    }
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

/// Matches DeepSeek's group mask: ScatterElements of the indices of the
/// topk_group best group scores, expanded to [T, E].
static FailureOr<moe::GroupLimitAttr>
matchGroupMask(Value cond, Value select, RouterMatch &m, Reason &reason) {
  MLIRContext *ctx = cond.getContext();
  reason = "the TopK input is masked by something other than a group-limit "
           "mask (ScatterElements of the top groups' indices, expanded to "
           "every expert of a group)";
  Value value = skipCasts(cond);
  onnx::NodeOp reshape = nodeOf(value, "Reshape");
  onnx::NodeOp expand = reshape ? nodeOf(reshape.getInputs()[0], "Expand")
                                : onnx::NodeOp();
  onnx::NodeOp unsqueeze =
      expand ? nodeOf(expand.getInputs()[0], "Unsqueeze") : onnx::NodeOp();
  onnx::NodeOp scatter =
      unsqueeze ? nodeOf(unsqueeze.getInputs()[0], "ScatterElements")
                : onnx::NodeOp();
  if (!scatter || !isSingleAxis(input(unsqueeze, 1), 2, 3) ||
      !isAxisAttr(scatter, 1, 2, 0))
    return failure();
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
        constantInt(input(top2, 1)) != 2)
      return failure();
    score = moe::GroupScore::SumTop2;
    grouped = top2.getInputs()[0];
    inner.push_back(top2);
  } else if (onnx::NodeOp max = nodeOf(groupScores, "ReduceMax")) {
    score = moe::GroupScore::Max;
    grouped = max.getInputs()[0];
  } else {
    reason = "the group scores are neither the sum of each group's top two "
             "nor its maximum";
    return failure();
  }
  onnx::NodeOp split = nodeOf(grouped, "Reshape");
  std::optional<SmallVector<int64_t>> shape =
      split ? constantInts(input(split, 1)) : std::nullopt;
  if (!split || split.getInputs()[0] != select || !shape ||
      shape->size() != 3 || (*shape)[1] <= 0 ||
      (*shape)[1] * (*shape)[2] != m.numExperts || !topkGroup) {
    reason = "the group scores are not computed from the selection scores "
             "split into equal groups of experts";
    return failure();
  }
  m.innerTopKs.append(inner);
  return moe::GroupLimitAttr::get(ctx, (*shape)[1], *topkGroup, score);
}

/// Follows the routing weights through renormalisation and scaling.
static void matchWeightPostprocessing(RouterMatch &m) {
  for (onnx::NodeOp div : usersOf(m.weights, "Div")) {
    if (div.getInputs()[0] != m.weights)
      continue;
    Value total = div.getInputs()[1];
    if (onnx::NodeOp add = nodeOf(total, "Add"))
      for (Value operand : add.getInputs())
        if (constantFloat(operand) && *constantFloat(operand) < 1e-6)
          total = otherOperand(add, operand);
    onnx::NodeOp sum = nodeOf(total, "ReduceSum");
    if (sum && sum.getInputs()[0] == m.weights &&
        isSingleAxis(input(sum, 1), -1, 2) && intAttr(sum, "keepdims", 1)) {
      m.normalize = true;
      m.weights = div.getResult(0);
      break;
    }
  }
  for (onnx::NodeOp mul : usersOf(m.weights, "Mul")) {
    std::optional<double> factor =
        constantFloat(otherOperand(mul, m.weights));
    if (factor) {
      m.scale = *factor;
      m.weights = mul.getResult(0);
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
  Value select = topK.getInputs()[0];
  Value mask;
  if (onnx::NodeOp where = nodeOf(select, "Where")) {
    if (constantFloat(where.getInputs()[2]) != 0.0) {
      reason = "the TopK input is a Where whose masked value is not 0";
      return failure();
    }
    mask = where.getInputs()[0];
    select = where.getInputs()[1];
  }
  Value scores = select;
  if (onnx::NodeOp add = nodeOf(select, "Add")) {
    for (Value operand : add.getInputs()) {
      Value other = otherOperand(add, operand);
      RankedTensorType type = weightType(operand);
      if (type && type.getRank() == 1 &&
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
  if (failed(matchProjection(logits, m))) {
    reason = "the TopK input is not a router projection (MatMul by a "
             "constant [hidden, experts] weight, optionally through "
             "Softmax or Sigmoid)";
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
    FailureOr<moe::GroupLimitAttr> groups =
        matchGroupMask(mask, select, m, reason);
    if (failed(groups))
      return failure();
    m.groups = *groups;
  }

  // Routing weights: the TopK values, or the unbiased scores they select.
  if (m.selectionBias || m.groups) {
    for (onnx::NodeOp gather : usersOf(m.ids, "GatherElements"))
      if (gather.getInputs()[0] == scores && isAxisAttr(gather, 1, 2, 0))
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
    SmallVector<onnx::NodeOp> softmaxes = usersOf(m.weights, "Softmax");
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
