//===- Forms.cpp - The three decomposed export forms of an MoE block ------===//
//
// From a matched router, finds the experts and the MoE block's output in:
//
//   gather: the TopK indices Gather rows of stacked [E, ...] weights, one
//           batched MatMul per projection, then Mul by the routing weights
//           and ReduceSum over the k choices;
//   loop:   one subgraph per expert e: Equal(ids, e) or a OneHot slice ->
//           NonZero -> Gather of its tokens -> FFN -> Mul by the GatherND-ed
//           routing weight -> ScatterND(add) into an accumulator;
//   dense:  every expert's FFN on every token, Mul by the expert's column of
//           the routing mask (Equal one-hots times the weights summed over
//           k, or a ScatterElements of the weights), summed with Add.
//
//===----------------------------------------------------------------------===//

#include "GraphMatch.h"
#include "Raising.h"

#include "llvm/ADT/SmallSet.h"

using namespace mlir;

namespace moec::raise {

FailureOr<ExpertsMatch> matchGatherForm(const RouterMatch &router,
                                        Reason &reason) {
  reason = "the gathered experts' outputs are not scaled by the routing "
           "weights and summed over the k choices (Mul by "
           "Unsqueeze(weights) then ReduceSum over axis 1)";
  for (onnx::NodeOp unsqueeze : usersOf(router.weights, "Unsqueeze")) {
    for (onnx::NodeOp mul : usersOf(unsqueeze.getResult(0), "Mul")) {
      SmallVector<onnx::NodeOp> sums = usersOf(mul.getResult(0), "ReduceSum");
      if (sums.size() != 1 || !isSingleAxis(input(sums[0], 1), 1, 3) ||
          intAttr(sums[0], "keepdims", 1) != 0)
        continue;
      Value y = otherOperand(mul, unsqueeze.getResult(0));
      if (onnx::NodeOp squeeze = nodeOf(y, "Squeeze"))
        y = squeeze.getInputs()[0];
      FailureOr<ExpertFfn> ffn = matchExpertFfn(y, router.ids, reason);
      if (failed(ffn))
        return failure();
      onnx::NodeOp broadcast = nodeOf(ffn->input, "Unsqueeze");
      if (!broadcast) {
        reason = "the gathered experts' input is not the tokens unsqueezed "
                 "to [T, 1, 1, H]";
        return failure();
      }
      ExpertsMatch match;
      match.form = "gather";
      match.output = sums[0].getResult(0);
      match.input = broadcast.getInputs()[0];
      match.stacked = true;
      match.experts.push_back(*ffn);
      return match;
    }
  }
  return failure();
}

namespace {
/// One expert's subgraph in the loop form.
struct LoopLink {
  int64_t expert;
  ExpertFfn ffn;
  onnx::NodeOp scatter;
};
} // namespace

/// The expert a NonZero selects, and which of its rows hold tokens: the row
/// order is [token, slot] after Equal(ids, e) and [slot, token] after a
/// OneHot permuted to [E, k, T].
static std::optional<std::pair<int64_t, int64_t>>
loopExpert(onnx::NodeOp nonZero, Value ids) {
  Value mask = nonZero.getInputs()[0];
  if (onnx::NodeOp equal = nodeOf(mask, "Equal")) {
    std::optional<int64_t> e = constantInt(otherOperand(equal, ids));
    if (e)
      return std::pair(*e, int64_t(0));
    return std::nullopt;
  }
  onnx::NodeOp gather = nodeOf(mask, "Gather");
  onnx::NodeOp transpose =
      gather ? nodeOf(gather.getInputs()[0], "Transpose") : onnx::NodeOp();
  onnx::NodeOp oneHot =
      transpose ? nodeOf(transpose.getInputs()[0], "OneHot") : onnx::NodeOp();
  if (!oneHot || oneHot.getInputs()[0] != ids ||
      intsAttr(transpose, "perm") != SmallVector<int64_t>{2, 1, 0} ||
      !isAxisAttr(gather, 0, 3, 0) ||
      constantInts(input(oneHot, 2)) != SmallVector<int64_t>{0, 1})
    return std::nullopt;
  std::optional<int64_t> e = constantInt(gather.getInputs()[1]);
  if (!e)
    return std::nullopt;
  return std::pair(*e, int64_t(1));
}

/// The NonZero row `row` gathered as a vector: Gather(nz, row, axis 0).
static bool isNonZeroRow(Value value, onnx::NodeOp nonZero, int64_t row) {
  onnx::NodeOp gather = nodeOf(value, "Gather");
  return gather && gather.getInputs()[0] == nonZero.getResult(0) &&
         isAxisAttr(gather, 0, 2, 0) &&
         constantInt(gather.getInputs()[1]) == row;
}

/// Matches one expert's link, starting at the GatherND of its weights.
static FailureOr<LoopLink> matchLoopLink(const RouterMatch &router,
                                         onnx::NodeOp gatherNd,
                                         Reason &reason) {
  reason = "a per-expert routing weight (GatherND) does not scale an "
           "expert's output that is ScatterND-added back to its tokens";
  onnx::NodeOp concat = nodeOf(gatherNd.getInputs()[1], "Concat");
  if (!concat || concat.getInputs().size() != 2)
    return failure();
  onnx::NodeOp tokCol = nodeOf(concat.getInputs()[0], "Unsqueeze");
  onnx::NodeOp slotCol = nodeOf(concat.getInputs()[1], "Unsqueeze");
  onnx::NodeOp tokGather =
      tokCol ? nodeOf(tokCol.getInputs()[0], "Gather") : onnx::NodeOp();
  onnx::NodeOp nonZero =
      tokGather ? nodeOf(tokGather.getInputs()[0], "NonZero") : onnx::NodeOp();
  if (!slotCol || !nonZero)
    return failure();
  std::optional<std::pair<int64_t, int64_t>> expert =
      loopExpert(nonZero, router.ids);
  if (!expert) {
    reason = "a NonZero does not select the tokens of one constant expert id "
             "(Equal(ids, e) or a slice of OneHot(ids))";
    return failure();
  }
  auto [e, tokenRow] = *expert;
  Value tokens = tokCol.getInputs()[0];
  if (!isNonZeroRow(tokens, nonZero, tokenRow) ||
      !isNonZeroRow(slotCol.getInputs()[0], nonZero, 1 - tokenRow)) {
    reason = "the routing weight of expert " + std::to_string(e) +
             " is not gathered at its (token, slot) pairs";
    return failure();
  }
  for (onnx::NodeOp unsqueeze : usersOf(gatherNd.getResult(0), "Unsqueeze"))
    for (onnx::NodeOp mul : usersOf(unsqueeze.getResult(0), "Mul"))
      for (onnx::NodeOp scatter : usersOf(mul.getResult(0), "ScatterND")) {
        onnx::NodeOp index = nodeOf(scatter.getInputs()[1], "Unsqueeze");
        if (stringAttr(scatter, "reduction", "none") != "add" || !index ||
            index.getInputs()[0] != tokens ||
            scatter.getInputs()[2] != mul.getResult(0))
          continue;
        FailureOr<ExpertFfn> ffn = matchExpertFfn(
            otherOperand(mul, unsqueeze.getResult(0)), Value(), reason);
        if (failed(ffn)) {
          reason = "expert " + std::to_string(e) + ": " + reason;
          return failure();
        }
        onnx::NodeOp rows = nodeOf(ffn->input, "Gather");
        if (!rows || rows.getInputs()[1] != tokens ||
            !isAxisAttr(rows, 0, 2, 0)) {
          reason = "expert " + std::to_string(e) +
                   " does not run on the rows of its selected tokens";
          return failure();
        }
        ffn->input = rows.getInputs()[0];
        return LoopLink{e, *ffn, scatter};
      }
  return failure();
}

/// Whether `value` is all zeros: a zero constant or ConstantOfShape of 0.
static bool isZeros(Value value) {
  if (std::optional<double> v = constantFloat(value))
    return *v == 0.0;
  onnx::NodeOp fill = nodeOf(value, "ConstantOfShape");
  if (!fill)
    return false;
  auto attr = fill->getAttrOfType<DenseElementsAttr>("value");
  return !attr || (attr.isSplat() && isa<FloatType>(attr.getElementType()) &&
                   attr.getSplatValue<APFloat>().isZero());
}

/// Checks that every expert 0..E-1 appears exactly once.
static LogicalResult checkAllExperts(ArrayRef<int64_t> found,
                                     int64_t numExperts, Reason &reason) {
  llvm::SmallSet<int64_t, 16> seen;
  for (int64_t e : found) {
    if (e < 0 || e >= numExperts || !seen.insert(e).second) {
      reason = "expert id " + std::to_string(e) +
               (e < 0 || e >= numExperts ? " is out of range"
                                         : " has two subgraphs");
      return failure();
    }
  }
  if (static_cast<int64_t>(found.size()) == numExperts)
    return success();
  std::string missing;
  for (int64_t e = 0; e < numExperts; ++e)
    if (!seen.contains(e))
      missing += (missing.empty() ? "" : ", ") + std::to_string(e);
  reason = "no subgraph for expert(s) " + missing + " of " +
           std::to_string(numExperts) +
           " (a trace that kept only the experts its example input hit?)";
  return failure();
}

/// Checks that all per-expert FFNs share one input and one activation.
static LogicalResult checkUniform(ArrayRef<ExpertFfn> ffns, Reason &reason) {
  for (const ExpertFfn &ffn : ffns) {
    if (ffn.input != ffns.front().input) {
      reason = "the experts do not all run on the same tokens";
      return failure();
    }
    if (ffn.activation != ffns.front().activation ||
        ffn.gateUp.has_value() != ffns.front().gateUp.has_value() ||
        ffn.layout != ffns.front().layout) {
      reason = "the experts do not all have the same FFN structure";
      return failure();
    }
  }
  return success();
}

/// Checks the per-expert FFNs found for experts `found`: every expert once,
/// all of one structure.
static LogicalResult checkPerExpert(ArrayRef<int64_t> found,
                                    ArrayRef<ExpertFfn> ffns,
                                    int64_t numExperts, Reason &reason) {
  return success(succeeded(checkAllExperts(found, numExperts, reason)) &&
                 succeeded(checkUniform(ffns, reason)));
}

/// The match of a per-expert form, its FFNs ordered by expert id.
static ExpertsMatch perExpertMatch(StringRef form, Value output,
                                   ArrayRef<int64_t> found,
                                   ArrayRef<ExpertFfn> ffns) {
  ExpertsMatch match;
  match.form = form;
  match.output = output;
  match.input = ffns.front().input;
  match.experts.resize(found.size());
  for (auto [e, ffn] : llvm::zip(found, ffns))
    match.experts[e] = ffn;
  return match;
}

FailureOr<ExpertsMatch> matchLoopForm(const RouterMatch &router,
                                      Reason &reason) {
  SmallVector<LoopLink> links;
  for (onnx::NodeOp gatherNd : usersOf(router.weights, "GatherND")) {
    FailureOr<LoopLink> link = matchLoopLink(router, gatherNd, reason);
    if (failed(link))
      return failure();
    links.push_back(*link);
  }
  if (links.empty()) {
    reason = "the routing weights are not gathered per expert (GatherND at "
             "the expert's (token, slot) pairs)";
    return failure();
  }
  // The ScatterND adds must chain from a zero accumulator through every
  // expert; the last one is the block's output.
  SmallVector<int64_t> found;
  SmallVector<ExpertFfn> ffns;
  Value acc;
  for (LoopLink &link : links)
    if (isZeros(link.scatter.getInputs()[0]))
      acc = link.scatter.getInputs()[0];
  for (size_t step = 0; acc && step < links.size(); ++step) {
    LoopLink *next = llvm::find_if(
        links, [&](LoopLink &l) { return l.scatter.getInputs()[0] == acc; });
    if (next == links.end())
      break;
    found.push_back(next->expert);
    ffns.push_back(next->ffn);
    acc = next->scatter.getResult(0);
  }
  if (found.size() != links.size()) {
    reason = "the experts' ScatterND adds do not form one chain from a zero "
             "accumulator";
    return failure();
  }
  if (failed(checkPerExpert(found, ffns, router.numExperts, reason)))
    return failure();
  return perExpertMatch("loop", acc, found, ffns);
}

/// The expert whose routing column `column` is, or nullopt.
static std::optional<int64_t> denseColumnExpert(const RouterMatch &router,
                                                Value column, Reason &reason) {
  // Equal(ids, e) as float, times the weights, summed over the k slots.
  if (onnx::NodeOp sum = nodeOf(column, "ReduceSum")) {
    if (!isSingleAxis(input(sum, 1), 1, 2) || intAttr(sum, "keepdims", 1) != 1)
      return std::nullopt;
    Value masked = sum.getInputs()[0];
    onnx::NodeOp mul = nodeOf(masked, "Mul");
    Value hit = mul ? otherOperand(mul, router.weights) : Value();
    bool weighted = static_cast<bool>(hit);
    if (!weighted)
      hit = masked;
    onnx::NodeOp equal = nodeOf(skipCasts(hit), "Equal");
    std::optional<int64_t> e =
        equal ? constantInt(otherOperand(equal, router.ids)) : std::nullopt;
    if (e && !weighted) {
      reason = "the mask of expert " + std::to_string(*e) +
               " is not multiplied by the routing weights";
      return std::nullopt;
    }
    return e;
  }
  // Column e of ScatterElements(zeros, ids, weights, axis 1).
  onnx::NodeOp gather = nodeOf(column, "Gather");
  onnx::NodeOp scatter = gather
                             ? nodeOf(gather.getInputs()[0], "ScatterElements")
                             : onnx::NodeOp();
  if (!scatter || !isAxisAttr(gather, 1, 2, 0) ||
      !isAxisAttr(scatter, 1, 2, 0) || scatter.getInputs()[1] != router.ids ||
      scatter.getInputs()[2] != router.weights ||
      !isZeros(scatter.getInputs()[0]))
    return std::nullopt;
  return constantInt(gather.getInputs()[1]);
}

/// The leaves of a tree of Add nodes.
static void addLeaves(Value value, SmallVectorImpl<Value> &leaves) {
  if (onnx::NodeOp add = nodeOf(value, "Add")) {
    addLeaves(add.getInputs()[0], leaves);
    addLeaves(add.getInputs()[1], leaves);
    return;
  }
  leaves.push_back(value);
}

FailureOr<ExpertsMatch> matchDenseForm(const RouterMatch &router,
                                       Reason &reason) {
  reason = "no expert output is multiplied by its column of a routing mask "
           "built from the TopK indices";
  // Candidate columns: ReduceSum(Mul(Cast(Equal(ids, e)), w)) or
  // Gather(ScatterElements(...), e).
  SmallVector<Value> columns;
  for (onnx::NodeOp equal : usersOf(router.ids, "Equal"))
    for (Operation *user : equal.getResult(0).getUsers())
      if (isNode(user, "Cast"))
        for (Operation *castUser : user->getResult(0).getUsers()) {
          if (isNode(castUser, "ReduceSum"))
            columns.push_back(castUser->getResult(0));
          if (isNode(castUser, "Mul"))
            for (onnx::NodeOp sum :
                 usersOf(castUser->getResult(0), "ReduceSum"))
              columns.push_back(sum.getResult(0));
        }
  for (onnx::NodeOp scatter : usersOf(router.ids, "ScatterElements"))
    for (onnx::NodeOp gather : usersOf(scatter.getResult(0), "Gather"))
      columns.push_back(gather.getResult(0));

  SmallVector<int64_t> found;
  SmallVector<ExpertFfn> ffns;
  SmallVector<Value> terms;
  for (Value column : columns) {
    Reason why;
    std::optional<int64_t> e = denseColumnExpert(router, column, why);
    if (!e) {
      if (!why.empty()) {
        reason = why;
        return failure();
      }
      continue;
    }
    for (onnx::NodeOp mul : usersOf(column, "Mul")) {
      FailureOr<ExpertFfn> ffn =
          matchExpertFfn(otherOperand(mul, column), Value(), reason);
      if (failed(ffn)) {
        reason = "expert " + std::to_string(*e) + ": " + reason;
        return failure();
      }
      found.push_back(*e);
      ffns.push_back(*ffn);
      terms.push_back(mul.getResult(0));
    }
  }
  if (terms.empty())
    return failure();
  if (failed(checkPerExpert(found, ffns, router.numExperts, reason)))
    return failure();

  // Climb the Add tree while it sums only expert terms.
  Value output = terms.front();
  while (true) {
    SmallVector<onnx::NodeOp> adds = usersOf(output, "Add");
    if (adds.size() != 1)
      break;
    SmallVector<Value> leaves;
    addLeaves(adds.front().getResult(0), leaves);
    if (!llvm::all_of(leaves,
                      [&](Value v) { return llvm::is_contained(terms, v); }))
      break;
    output = adds.front().getResult(0);
  }
  SmallVector<Value> leaves;
  addLeaves(output, leaves);
  if (leaves.size() != terms.size()) {
    reason = "the masked expert outputs are not summed into one value";
    return failure();
  }
  return perExpertMatch("dense", output, found, ffns);
}

} // namespace moec::raise
