//===- Summed.cpp - MoE blocks that sum weighted expert outputs -----------===//
//
// The loop, dense and batched export forms all end in one value that sums,
// over every expert e, FFN_e of some tokens times their routing weight:
//
//   loop:    FFN_e(x rows of e's pairs) * weight of e at those pairs, added
//            back at the pairs' tokens (ScatterND add, ScatterElements add,
//            or index_add_'s Add of a ScatterElements into zeros);
//   dense:   FFN_e(x) * the routing column of e ([T, 1]);
//   batched: ReduceSum over E of FFN(x tiled per expert) by stacked weights
//            times the routing matrix transposed to [E, T, 1].
//
// Which value holds which sum is worked out by what the glue means
// (Glue.h), not by one exporter's spelling, and the sums combine through
// Add, Sum and the scatters in any order.
//
//===----------------------------------------------------------------------===//

#include "Glue.h"
#include "GraphMatch.h"
#include "Raising.h"

#include "llvm/ADT/SmallSet.h"

using namespace mlir;

namespace moec::raise {

using Kind = Meaning::Kind;

namespace {
/// One expert's weighted output inside a sum; expert -1 is every expert at
/// once (the batched form).
struct Term {
  int64_t expert;
  ExpertFfn ffn;
  StringRef form;
  /// The order of the expert's pairs its rows were gathered in (loop form).
  std::string pairOrder;
};
using Terms = SmallVector<Term, 4>;

class SummedMatcher {
public:
  explicit SummedMatcher(const RouterMatch &router) : glue(router) {}

  /// The expert terms `value` sums, or nullopt when it is not such a sum.
  std::optional<Terms> termsOf(Value value) {
    auto it = memo.find(value);
    if (it != memo.end())
      return it->second;
    std::optional<Terms> terms = compute(value);
    memo[value] = terms;
    return terms;
  }

  GlueAnalysis glue;
  /// The first expert whose FFN did not match, for the report.
  Reason problem;

private:
  std::optional<Terms> compute(Value value);
  std::optional<Term> weighted(Value product, Kind weightKind,
                               StringRef weightDims, StringRef inputDims,
                               StringRef form, bool batched);
  std::optional<Term> scatterTerm(Value index, Value updates, bool nd);

  llvm::DenseMap<Value, std::optional<Terms>> memo;
};
} // namespace

/// The union of two sums, or nullopt when they share an expert.
static std::optional<Terms> merge(Terms a, const Terms &b) {
  for (const Term &t : b) {
    if (llvm::any_of(a, [&](const Term &s) {
          return s.expert == t.expert || s.expert < 0 || t.expert < 0;
        }))
      return std::nullopt;
    a.push_back(t);
  }
  return a;
}

/// `product` = FFN(input) * weight, where the weight has `weightKind` and
/// `weightDims` and the FFN's input means the tokens with `inputDims`.
std::optional<Term> SummedMatcher::weighted(Value product, Kind weightKind,
                                            StringRef weightDims,
                                            StringRef inputDims,
                                            StringRef form, bool batched) {
  onnx::NodeOp mul = nodeOf(skipCasts(product), "Mul");
  if (!mul)
    return std::nullopt;
  for (unsigned i = 0; i < 2; ++i) {
    const Meaning &w = glue.meaningOf(mul.getInputs()[i]);
    if (w.is(Kind::MaskCount) && problem.empty())
      problem = "the mask of expert " + std::to_string(w.expert) +
                " is not multiplied by the routing weights";
    if (!w.is(weightKind) || w.dims != weightDims)
      continue;
    Value out = skipCasts(mul.getInputs()[1 - i]);
    if (batched) // the view of [E * T, H] rows as [E, T, H]
      if (onnx::NodeOp view = nodeOf(out, "Reshape")) {
        std::optional<SmallVector<Extent>> shape =
            glue.resolveShape(view.getInputs()[1]);
        if (shape && shape->size() == 3 &&
            (*shape)[0].kind == Extent::Kind::Const &&
            (*shape)[0].value == glue.router.numExperts)
          out = skipCasts(view.getInputs()[0]);
      }
    Reason why;
    FailureOr<ExpertFfn> ffn = matchExpertFfn(out, Value(), why, batched);
    std::string who =
        w.expert >= 0 ? "expert " + std::to_string(w.expert) : "the experts";
    if (failed(ffn)) {
      if (problem.empty())
        problem = who + ": " + why;
      return std::nullopt;
    }
    const Meaning &in = glue.meaningOf(ffn->input);
    bool rowsOk = in.is(Kind::Rows) && in.dims == inputDims &&
                  in.expert == w.expert && in.pairOrder == w.pairOrder;
    bool tokensOk = in.is(Kind::Tokens) && in.dims == inputDims;
    if (!(weightKind == Kind::PairWeight ? rowsOk : tokensOk)) {
      if (problem.empty())
        problem = who + " does not run on " +
                  (weightKind == Kind::PairWeight
                       ? "the rows of the tokens routed to it"
                       : "every token of the block input");
      return std::nullopt;
    }
    ffn->input = glue.router.hidden;
    return Term{w.expert, *ffn, form, in.pairOrder};
  }
  return std::nullopt;
}

/// A scatter-add of expert e's weighted rows back to its tokens.
std::optional<Term> SummedMatcher::scatterTerm(Value index, Value updates,
                                               bool nd) {
  const Meaning &at = glue.meaningOf(index);
  // ScatterND takes [N, 1] token indices; ScatterElements the token index
  // of every element, [N, H], usually an Expand of [N, 1].
  bool indexOk = at.is(Kind::Index) && at.which == 'T' &&
                 (nd ? at.dims == "N1"
                     : at.dims.size() == 2 && at.dims[0] == 'N' &&
                           (at.dims[1] == '*' || at.dims[1] == 'H'));
  if (!indexOk)
    return std::nullopt;
  // Broadcasting an [N, H] product to the rank-2 shape a valid scatter
  // needs changes nothing.
  Value rows = skipCasts(updates);
  if (onnx::NodeOp expand = nodeOf(rows, "Expand"))
    rows = skipCasts(expand.getInputs()[0]);
  std::optional<Term> term =
      weighted(rows, Kind::PairWeight, "N1", "NH", "loop", false);
  // The rows go back to the tokens they came from: the same expert's pairs
  // in the same order.
  if (!term || term->expert != at.expert || term->pairOrder != at.pairOrder)
    return std::nullopt;
  return term;
}

std::optional<Terms> SummedMatcher::compute(Value value) {
  value = skipCasts(value);
  if (glue.meaningOf(value).is(Kind::Zeros))
    return Terms();
  auto node = value.getDefiningOp<onnx::NodeOp>();
  if (!node || !node.getDomain().empty())
    return std::nullopt;
  StringRef op = node.getOpType();
  if ((op == "Add" || op == "Sum") && isNode(node, op)) {
    Terms all;
    for (Value operand : node.getInputs()) {
      std::optional<Terms> part = termsOf(operand);
      if (!part)
        return std::nullopt;
      std::optional<Terms> merged = merge(all, *part);
      if (!merged)
        return std::nullopt;
      all = *merged;
    }
    return all;
  }
  if ((op == "ScatterND" || op == "ScatterElements") && isNode(node, op)) {
    bool nd = op == "ScatterND";
    StringRef reduction = stringAttr(node, "reduction", "none");
    if (!nd && !isAxisAttr(node, 0, 2, 0))
      return std::nullopt;
    Value data = node.getInputs()[0], index = node.getInputs()[1];
    Value updates = node.getInputs()[2];
    std::optional<Terms> before = termsOf(data);
    if (!before || (reduction != "add" && reduction != "none"))
      return std::nullopt;
    // Without a reduction the scatter writes: that adds into zeros (an
    // expert sees each token once), or into rows it first read back,
    // y[idx] = y[idx] + v (torch's `y[idx] += v`).
    if (reduction == "none") {
      // torch reshapes the sum to the [N, H] a valid scatter needs; it is
      // [N, H] already (rows read back plus an [N, H] term, checked below).
      Value sum = skipCasts(updates);
      if (onnx::NodeOp reshape = nodeOf(sum, "Reshape"))
        sum = skipCasts(reshape.getInputs()[0]);
      onnx::NodeOp add = nodeOf(sum, "Add");
      Value term;
      for (unsigned i = 0; add && i < 2 && !term; ++i) {
        Value read = skipCasts(add.getInputs()[i]);
        onnx::NodeOp rows = nd ? nodeOf(read, "GatherND") : nodeOf(read, "GatherElements");
        if (!rows && nd)
          if (onnx::NodeOp gather = nodeOf(read, "Gather"))
            if (isAxisAttr(gather, 0, 2, 0) &&
                glue.meaningOf(gather.getInputs()[1]).is(Kind::Index))
              rows = gather;
        Value at = rows ? rows.getInputs()[1] : Value();
        bool sameRows =
            rows && skipCasts(rows.getInputs()[0]) == skipCasts(data) &&
            (at == index ||
             (rows.getOpType() == "Gather" &&
              glue.meaningOf(at).expert == glue.meaningOf(index).expert &&
              glue.meaningOf(at).which == 'T'));
        if (sameRows)
          term = add.getInputs()[1 - i];
      }
      if (term)
        updates = term;
      else if (!before->empty())
        return std::nullopt;
    }
    std::optional<Term> term = scatterTerm(index, updates, nd);
    if (!term)
      return std::nullopt;
    return merge(*before, Terms{*term});
  }
  if (op == "Mul" && isNode(node, op)) {
    if (std::optional<Term> term =
            weighted(value, Kind::Column, "T1", "TH", "dense", false))
      return Terms{*term};
    return std::nullopt;
  }
  if (op == "ReduceSum") {
    std::optional<SmallVector<int64_t>> axes =
        input(node, 1) ? constantInts(input(node, 1)) : intsAttr(node, "axes");
    if (!axes || *axes != SmallVector<int64_t>{0} ||
        intAttr(node, "keepdims", 1) != 0)
      return std::nullopt;
    if (std::optional<Term> term = weighted(node.getInputs()[0], Kind::Routing,
                                            "ET1", "ETH", "batched", true))
      return Terms{*term};
  }
  return std::nullopt;
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

/// Checks that all per-expert FFNs share one structure.
static LogicalResult checkUniform(ArrayRef<Term> terms, Reason &reason) {
  const ExpertFfn &first = terms.front().ffn;
  for (const Term &term : terms) {
    const ExpertFfn &ffn = term.ffn;
    if (ffn.activation != first.activation ||
        ffn.gateUp.has_value() != first.gateUp.has_value() ||
        ffn.layout != first.layout) {
      reason = "the experts do not all have the same FFN structure";
      return failure();
    }
  }
  return success();
}

FailureOr<ExpertsMatch> matchSummedForm(const RouterMatch &router,
                                        Reason &reason) {
  SummedMatcher matcher(router);
  // Walk forward from the ids; the largest sum found is the block's output,
  // and nothing past it needs visiting.
  Value output;
  Terms best;
  SmallVector<Operation *> work;
  llvm::SmallPtrSet<Operation *, 32> seen;
  auto push = [&](Value v) {
    for (Operation *user : v.getUsers())
      if (isa<onnx::NodeOp>(user) && seen.insert(user).second)
        work.push_back(user);
  };
  push(router.ids);
  push(router.weights);
  while (!work.empty()) {
    Operation *op = work.pop_back_val();
    bool complete = false;
    for (Value result : op->getResults()) {
      std::optional<Terms> terms = matcher.termsOf(result);
      if (!terms || terms->size() <= best.size())
        continue;
      bool batched = terms->front().expert < 0;
      best = *terms;
      output = result;
      complete = batched || static_cast<int64_t>(terms->size()) ==
                                router.numExperts;
    }
    if (!complete)
      for (Value result : op->getResults())
        push(result);
  }
  if (best.empty()) {
    reason = !matcher.problem.empty()
                 ? matcher.problem
                 : "no expert output is weighted by its routing weights and "
                   "summed (per-expert rows scattered back to their tokens, "
                   "outputs times a routing column, or a batched FFN times "
                   "the routing matrix)";
    return failure();
  }
  ExpertsMatch match;
  match.output = output;
  match.input = router.hidden;
  match.form = best.front().form;
  if (best.front().expert < 0) {
    match.stacked = true;
    match.experts.push_back(best.front().ffn);
    return match;
  }
  SmallVector<int64_t> found;
  for (const Term &term : best)
    found.push_back(term.expert);
  if (failed(checkAllExperts(found, router.numExperts, reason))) {
    if (!matcher.problem.empty())
      reason += "; " + matcher.problem;
    return failure();
  }
  if (failed(checkUniform(best, reason)))
    return failure();
  if (llvm::any_of(best,
                   [&](const Term &t) { return t.form != match.form; }))
    match.form = "loop+dense";
  match.experts.resize(best.size());
  for (const Term &term : best)
    match.experts[term.expert] = term.ffn;
  return match;
}

} // namespace moec::raise
