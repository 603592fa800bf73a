//===- ExpertFfn.cpp - Matching one expert FFN ----------------------------===//
//
// Recognises `down(act(gate(x), up(x)))` where each projection is
// `MatMul(x, W) (+ b)` on either one expert's weights (W an initializer,
// possibly through Transpose, a blocked DequantizeLinear of one, or
// MatMulNBits' block-quantized initializers) or on rows Gather-ed by the
// TopK indices from stacked [E, ...] initializers. Gate and up are separate
// projections or one fused projection split by Slice (interleaved: step 2;
// concatenated: halves) or Split. Activations: SiLU-gated (`g * Sigmoid(g) *
// u`), clamped SwiGLU as GPT-OSS writes it, and ReLU.
//
//===----------------------------------------------------------------------===//

#include "GraphMatch.h"
#include "Raising.h"

using namespace mlir;

namespace moec::raise {

/// Whether `weight` is a row gather of a stacked [E, ...] initializer of
/// rank `rank` by `ids`; returns the stacked initializer.
static Value gatheredFrom(Value weight, Value ids, int64_t rank) {
  onnx::NodeOp gather = nodeOf(weight, "Gather");
  if (!gather || gather.getInputs()[1] != ids || !isAxisAttr(gather, 0, 1, 0))
    return {};
  Value stacked = gather.getInputs()[0];
  RankedTensorType type = weightType(stacked);
  return type && type.getRank() == rank ? stacked : Value();
}

/// A batched projection's bias: [E, 1, N], or [E, N] unsqueezed at 1.
static Value batchedBias(Value operand) {
  RankedTensorType type = weightType(operand);
  if (type && type.getRank() == 3 && type.getDimSize(1) == 1)
    return operand;
  onnx::NodeOp unsqueeze = nodeOf(operand, "Unsqueeze");
  RankedTensorType inner =
      unsqueeze ? weightType(unsqueeze.getInputs()[0]) : RankedTensorType();
  if (inner && inner.getRank() == 2 && isSingleAxis(input(unsqueeze, 1), 1, 3))
    return unsqueeze.getInputs()[0];
  return {};
}

/// Matches `MatMul(in, W) (+ b)`; sets `in` to the projection's input.
static FailureOr<Projection> matchProjection(Value h, Value ids, bool batched,
                                             Value &in) {
  Projection p;
  h = skipCasts(h);
  if (onnx::NodeOp add = nodeOf(h, "Add")) {
    for (Value operand : add.getInputs()) {
      Value bias;
      if (batched) {
        bias = batchedBias(operand);
      } else if (!ids) {
        RankedTensorType type = weightType(operand);
        bias = type && type.getRank() == 1 ? operand : Value();
      } else if (onnx::NodeOp unsqueeze = nodeOf(operand, "Unsqueeze")) {
        bias = gatheredFrom(unsqueeze.getInputs()[0], ids, 2);
      }
      if (bias) {
        p.bias = bias;
        h = otherOperand(add, operand);
        break;
      }
    }
  }
  if (onnx::NodeOp gemm = nodeOf(h, "Gemm")) {
    // nn.Linear on 2-D rows: x W^T + b, one expert's W [N, K] (transB) or
    // [K, N], and a bias [N] (a second bias Add is not folded in).
    RankedTensorType wType = weightType(input(gemm, 1));
    Value bias = input(gemm, 2);
    RankedTensorType bType = bias ? weightType(bias) : RankedTensorType();
    if (ids || batched || !wType || wType.getRank() != 2 ||
        intAttr(gemm, "transA", 0) != 0 ||
        floatAttr(gemm, "alpha", 1.0) != 1.0 ||
        (bias && (p.bias || !bType || bType.getRank() != 1 ||
                  floatAttr(gemm, "beta", 1.0) != 1.0)))
      return failure();
    p.weight = input(gemm, 1);
    p.inputMajor = intAttr(gemm, "transB", 0) == 0;
    if (bias)
      p.bias = bias;
    in = gemm.getInputs()[0];
    return p;
  }
  if (onnx::NodeOp nbits = contribNodeOf(h, "MatMulNBits")) {
    // Block-quantized [N, K] weights of one expert; the bias may also be
    // the node's sixth input (g_idx, the fifth, is not supported).
    if (ids || batched || input(nbits, 4) || (p.bias && input(nbits, 5)) ||
        !weightType(input(nbits, 1)))
      return failure();
    p.weight = input(nbits, 1);
    if (Value bias = input(nbits, 5))
      p.bias = bias;
    p.quantized = nbits;
    p.inputMajor = false;
    in = nbits.getInputs()[0];
    return p;
  }
  onnx::NodeOp matmul = nodeOf(h, "MatMul");
  if (!matmul)
    return failure();
  Value weight = matmul.getInputs()[1];
  int64_t rank = ids || batched ? 3 : 2;
  if (onnx::NodeOp transpose = nodeOf(weight, "Transpose")) {
    SmallVector<int64_t> want =
        ids       ? SmallVector<int64_t>{0, 1, 3, 2}
        : batched ? SmallVector<int64_t>{0, 2, 1}
                  : SmallVector<int64_t>{1, 0};
    if (intsAttr(transpose, "perm") != want)
      return failure();
    p.inputMajor = false;
    weight = transpose.getInputs()[0];
  }
  // A blocked DequantizeLinear of one expert's integer weight.
  onnx::NodeOp dequantize =
      ids || batched ? onnx::NodeOp() : nodeOf(weight, "DequantizeLinear");
  if (dequantize && intAttr(dequantize, "block_size", 0) > 0) {
    p.quantized = dequantize;
    weight = dequantize.getInputs()[0];
  }
  p.weight = ids ? gatheredFrom(weight, ids, rank) : weight;
  RankedTensorType type = weightType(p.weight);
  if (!type || type.getRank() != rank)
    return failure();
  in = matmul.getInputs()[0];
  return p;
}

namespace {
/// Gate and up as one part of a fused projection's output.
struct FusedPart {
  Value fused;
  moe::GateUpLayout layout;
  int64_t index;                     // 0: gate, 1: up
  std::optional<int64_t> start, end; // concatenated halves by Slice/Gather
  int64_t axis = -1; // checked against the rank once the projection is known
  /// Slice bounds computed from the fused value's shape (torch's chunk),
  /// resolved once its width is known.
  Value startExpr, endExpr;
};
} // namespace

/// The value of a scalar computed from constants and `width`, the last
/// extent of `fused` (Shape, Gather, Add, Sub, Mul, Div), as torch's chunk
/// writes its Slice bounds.
static std::optional<int64_t> evalWidthExpr(Value v, Value fused,
                                            int64_t width, int64_t rank,
                                            int depth = 0) {
  if (depth > 12 || !v)
    return std::nullopt;
  if (std::optional<int64_t> c = constantInt(v))
    return c;
  v = skipAnyCasts(v);
  auto node = v.getDefiningOp<onnx::NodeOp>();
  if (!node || !node.getDomain().empty() || node.getInputs().empty())
    return std::nullopt;
  auto eval = [&](unsigned i) {
    return evalWidthExpr(input(node, i), fused, width, rank, depth + 1);
  };
  StringRef op = node.getOpType();
  if (op == "Unsqueeze" || op == "Squeeze" || op == "Reshape")
    return eval(0);
  if (op == "Gather") {
    onnx::NodeOp shape = nodeOf(input(node, 0), "Shape");
    std::optional<int64_t> axis = constantInt(input(node, 1));
    if (shape && skipCasts(input(shape, 0)) == fused && axis &&
        (*axis == -1 || *axis == rank - 1))
      return width;
    return std::nullopt;
  }
  if (node.getInputs().size() != 2)
    return std::nullopt;
  std::optional<int64_t> a = eval(0), b = eval(1);
  if (!a || !b)
    return std::nullopt;
  if (op == "Add")
    return *a + *b;
  if (op == "Sub")
    return *a - *b;
  if (op == "Mul")
    return *a * *b;
  if (op == "Div" && *b > 0 && *a >= 0)
    return *a / *b;
  return std::nullopt;
}

/// Gate or up taken by a Gather of constant column indices: every other
/// column from 0 or 1 (interleaved), or a contiguous run (concatenated).
static std::optional<FusedPart> gatheredPart(onnx::NodeOp gather) {
  std::optional<SmallVector<int64_t>> cols = constantInts(input(gather, 1));
  if (!cols || cols->empty())
    return std::nullopt;
  int64_t first = cols->front();
  auto stepOf = [&](int64_t step) {
    for (auto [i, c] : llvm::enumerate(*cols))
      if (c != first + step * static_cast<int64_t>(i))
        return false;
    return true;
  };
  FusedPart part{gather.getInputs()[0], moe::GateUpLayout::Interleaved, first,
                 std::nullopt, std::nullopt, intAttr(gather, "axis", 0)};
  if ((first == 0 || first == 1) && cols->size() > 1 && stepOf(2))
    return part;
  if (!stepOf(1))
    return std::nullopt;
  part.layout = moe::GateUpLayout::Concatenated;
  part.index = first == 0 ? 0 : 1;
  part.start = first;
  part.end = first + static_cast<int64_t>(cols->size());
  return part;
}

static std::optional<FusedPart> fusedPartOf(Value part) {
  part = skipCasts(part);
  if (onnx::NodeOp split = nodeOf(part, "Split")) {
    std::optional<SmallVector<int64_t>> sizes = constantInts(input(split, 1));
    if (!sizes)
      sizes = intsAttr(split, "split");
    if (split.getNumResults() != 2 ||
        (sizes && (sizes->size() != 2 || (*sizes)[0] != (*sizes)[1])))
      return std::nullopt;
    int64_t index = part == split.getResult(0) ? 0 : 1;
    return FusedPart{split.getInputs()[0], moe::GateUpLayout::Concatenated,
                     index, std::nullopt, std::nullopt,
                     intAttr(split, "axis", 0)};
  }
  if (onnx::NodeOp gather = nodeOf(part, "Gather"))
    return gatheredPart(gather);
  onnx::NodeOp slice = nodeOf(part, "Slice");
  if (!slice)
    return std::nullopt;
  std::optional<int64_t> start = constantInt(input(slice, 1));
  std::optional<int64_t> end = constantInt(input(slice, 2));
  std::optional<int64_t> axis = constantInt(input(slice, 3));
  std::optional<int64_t> step = input(slice, 4) ? constantInt(input(slice, 4))
                                                : std::optional<int64_t>(1);
  if (!axis || !step)
    return std::nullopt;
  if ((!start || !end) && *step == 1) {
    FusedPart part{slice.getInputs()[0], moe::GateUpLayout::Concatenated,
                   start ? (*start == 0 ? 0 : 1) : -1, start, end, *axis};
    part.startExpr = input(slice, 1);
    part.endExpr = input(slice, 2);
    return part;
  }
  if (!start || !end)
    return std::nullopt;
  if (*step == 2 && (*start == 0 || *start == 1))
    return FusedPart{slice.getInputs()[0], moe::GateUpLayout::Interleaved,
                     *start, std::nullopt, std::nullopt, *axis};
  if (*step == 1)
    return FusedPart{slice.getInputs()[0], moe::GateUpLayout::Concatenated,
                     *start == 0 ? 0 : 1, start, end, *axis};
  return std::nullopt;
}

namespace {
struct GatedActivation {
  Value gate, up;
  double alpha = 1.0, beta = 0.0;
  std::optional<double> limit;
};
} // namespace

/// Matches `g' * Sigmoid(alpha * g')` with g' = gate or Clip(gate, max).
static bool matchGlu(Value value, GatedActivation &act) {
  onnx::NodeOp mul = nodeOf(value, "Mul");
  if (!mul)
    return false;
  for (Value operand : mul.getInputs()) {
    onnx::NodeOp sigmoid = nodeOf(operand, "Sigmoid");
    Value clipped = otherOperand(mul, operand);
    if (!sigmoid)
      continue;
    Value arg = sigmoid.getInputs()[0];
    if (onnx::NodeOp scaled = nodeOf(arg, "Mul")) {
      std::optional<double> alpha =
          constantFloat(otherOperand(scaled, clipped));
      if (!alpha)
        continue;
      act.alpha = *alpha;
      arg = clipped;
    }
    if (arg != clipped)
      continue;
    act.gate = clipped;
    if (onnx::NodeOp clip = nodeOf(clipped, "Clip")) {
      if (input(clip, 1) || !constantFloat(input(clip, 2)))
        return false;
      act.limit = constantFloat(input(clip, 2));
      act.gate = clip.getInputs()[0];
    }
    return true;
  }
  return false;
}

/// Matches `(u' + beta)` with u' = up or Clip(up, -limit, limit).
static bool matchUp(Value value, GatedActivation &act) {
  if (onnx::NodeOp add = nodeOf(value, "Add")) {
    for (Value operand : add.getInputs())
      if (std::optional<double> beta = constantFloat(operand)) {
        act.beta = *beta;
        value = otherOperand(add, operand);
        break;
      }
  }
  std::optional<double> limit;
  if (onnx::NodeOp clip = nodeOf(value, "Clip")) {
    std::optional<double> lo = constantFloat(input(clip, 1));
    std::optional<double> hi = constantFloat(input(clip, 2));
    if (!lo || !hi || *lo != -*hi)
      return false;
    limit = hi;
    value = clip.getInputs()[0];
  }
  if (limit != act.limit)
    return false;
  act.up = value;
  return true;
}

static std::optional<GatedActivation> matchGated(Value value) {
  onnx::NodeOp mul = nodeOf(value, "Mul");
  if (!mul)
    return std::nullopt;
  for (Value operand : mul.getInputs()) {
    GatedActivation act;
    if (matchGlu(operand, act) && matchUp(otherOperand(mul, operand), act))
      return act;
  }
  return std::nullopt;
}

FailureOr<ExpertFfn> matchExpertFfn(Value output, Value stackedIds,
                                    Reason &reason, bool batched) {
  MLIRContext *ctx = output.getContext();
  ExpertFfn ffn;
  Value hidden;
  auto matchProjection = [&](Value h, Value &in) {
    return raise::matchProjection(h, stackedIds, batched, in);
  };
  // The rank of the projections' outputs: [N, .] per expert, [E, T, .]
  // batched, [T, k, 1, .] gathered.
  int64_t rank = stackedIds ? 4 : batched ? 3 : 2;
  FailureOr<Projection> down = matchProjection(output, hidden);
  if (failed(down)) {
    reason = "the expert output is not a down projection (MatMul by an "
             "expert weight, optionally plus a bias)";
    return failure();
  }
  ffn.down = *down;

  if (onnx::NodeOp relu = nodeOf(hidden, "Relu")) {
    ffn.activation = moe::ActivationAttr::get(ctx, moe::ActivationKind::Relu);
    FailureOr<Projection> up =
        matchProjection(relu.getInputs()[0], ffn.input);
    if (failed(up)) {
      reason = "the ReLU input is not an up projection";
      return failure();
    }
    ffn.up = *up;
    return ffn;
  }
  std::optional<GatedActivation> act = matchGated(hidden);
  if (!act) {
    reason = "the expert activation is not SiLU-gated, clamped SwiGLU or "
             "ReLU";
    return failure();
  }
  auto apf = [](double v) { return APFloat(v); };
  std::optional<APFloat> limit;
  if (act->limit)
    limit = apf(*act->limit);
  ffn.activation =
      moe::ActivationAttr::get(ctx, moe::ActivationKind::Swiglu,
                               apf(act->alpha), apf(act->beta), limit)
          .getCanonical();

  std::optional<FusedPart> gatePart = fusedPartOf(act->gate);
  std::optional<FusedPart> upPart = fusedPartOf(act->up);
  auto lastAxis = [&](int64_t axis) { return axis == -1 || axis == rank - 1; };
  if (gatePart && upPart) {
    if (gatePart->fused != upPart->fused || gatePart->index > 0 ||
        upPart->index == 0 || gatePart->layout != upPart->layout ||
        !lastAxis(gatePart->axis) || !lastAxis(upPart->axis)) {
      reason = "gate and up are not the two halves of one fused projection";
      return failure();
    }
    FailureOr<Projection> fused =
        matchProjection(gatePart->fused, ffn.input);
    if (failed(fused)) {
      reason = "the fused gate/up value is not a projection";
      return failure();
    }
    ffn.gateUp = *fused;
    ffn.layout = gatePart->layout;
    if (ffn.layout == moe::GateUpLayout::Concatenated &&
        (gatePart->start || gatePart->startExpr)) {
      RankedTensorType type = weightType(fused->weight);
      // MatMulNBits' codes are [N, blocks, blob].
      bool nbits =
          fused->quantized && fused->quantized.getOpType() == "MatMulNBits";
      int64_t n = nbits
                      ? type.getDimSize(0)
                      : type.getDimSize(fused->inputMajor ? type.getRank() - 1
                                                          : type.getRank() - 2);
      auto bound = [&](std::optional<int64_t> known, Value expr) {
        return known ? known
                     : evalWidthExpr(expr, gatePart->fused, n, rank);
      };
      std::optional<int64_t> gateStart =
          bound(gatePart->start, gatePart->startExpr);
      std::optional<int64_t> gateEnd = bound(gatePart->end, gatePart->endExpr);
      std::optional<int64_t> upStart = bound(upPart->start, upPart->startExpr);
      std::optional<int64_t> upEnd = bound(upPart->end, upPart->endExpr);
      if (gateStart != 0 || gateEnd != n / 2 || upStart != n / 2 || !upEnd ||
          *upEnd < n) {
        reason = "the gate/up slices are not the two halves of the fused "
                 "projection";
        return failure();
      }
    }
    return ffn;
  }
  Value upInput;
  FailureOr<Projection> gate = matchProjection(act->gate, ffn.input);
  FailureOr<Projection> up = matchProjection(act->up, upInput);
  if (failed(gate) || failed(up) || skipCasts(upInput) != skipCasts(ffn.input)) {
    reason = "gate and up are not projections of the same input";
    return failure();
  }
  ffn.gate = *gate;
  ffn.up = *up;
  return ffn;
}

} // namespace moec::raise
