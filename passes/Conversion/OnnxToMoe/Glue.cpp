//===- Glue.cpp - What the index glue of an MoE block means ---------------===//

#include "Glue.h"

#include "GraphMatch.h"

using namespace mlir;

namespace moec::raise {

using Kind = Meaning::Kind;

GlueAnalysis::GlueAnalysis(const RouterMatch &router) : router(router) {
  if (auto type = dyn_cast<RankedTensorType>(router.hidden.getType()))
    if (type.getRank() == 2 && !type.isDynamicDim(1))
      hiddenSize = type.getDimSize(1);
}

bool GlueAnalysis::isTokens(Value value) {
  return skipCasts(value) == skipCasts(router.hidden);
}

Meaning GlueAnalysis::meaningOf(Value value) {
  auto it = memo.find(value);
  if (it != memo.end())
    return it->second;
  Meaning m = value ? compute(value) : Meaning();
  return memo[value] = m;
}

/// `m` with the label of axis `axis` dropped or replaced by `with`.
static Meaning withAxis(Meaning m, int64_t axis, StringRef with) {
  m.dims = m.dims.substr(0, axis) + with.str() + m.dims.substr(axis + 1);
  return m;
}

Meaning GlueAnalysis::compute(Value value) {
  Value plain = skipCasts(value);
  if (plain != value)
    return meaningOf(plain);
  Meaning m;
  if (value == router.ids) {
    m.kind = Kind::Ids;
    m.dims = "TK";
  } else if (value == skipCasts(router.weights)) {
    m.kind = Kind::Weights;
    m.dims = "TK";
  } else if (isTokens(value)) {
    m.kind = Kind::Tokens;
    m.dims = "TH";
  } else if (isZeros(value)) {
    m.kind = Kind::Zeros;
  } else if (auto node = value.getDefiningOp<onnx::NodeOp>()) {
    if (node.getDomain().empty())
      m = computeNode(node, value);
  }
  if (m.known() && m.kind != Kind::Zeros) {
    // A meaning whose rank disagrees with the value's type is wrong.
    if (auto type = dyn_cast<RankedTensorType>(value.getType()))
      if (type.getRank() != static_cast<int64_t>(m.dims.size()))
        return Meaning();
  }
  return m;
}

/// The constant expert id of a Gather index: a scalar (drops the axis) or a
/// one-element vector (keeps it as a unit axis).
static std::optional<std::pair<int64_t, bool>> expertIndex(Value index) {
  std::optional<int64_t> e = constantInt(index);
  if (!e)
    return std::nullopt;
  auto type = dyn_cast<RankedTensorType>(index.getType());
  bool keeps = type && type.getRank() == 1;
  return std::pair(*e, keeps);
}

/// Whether `value` is [0, 1, ..., numExperts - 1]: a constant or a Range.
static bool isExpertRange(Value value, int64_t numExperts) {
  value = skipAnyCasts(value);
  if (std::optional<SmallVector<int64_t>> ints = constantInts(value)) {
    if (static_cast<int64_t>(ints->size()) != numExperts)
      return false;
    for (auto [i, v] : llvm::enumerate(*ints))
      if (v != static_cast<int64_t>(i))
        return false;
    return true;
  }
  onnx::NodeOp range = nodeOf(value, "Range");
  return range && range.getInputs().size() == 3 &&
         constantInt(skipAnyCasts(range.getInputs()[0])) == 0 &&
         constantInt(skipAnyCasts(range.getInputs()[1])) == numExperts &&
         constantInt(skipAnyCasts(range.getInputs()[2])) == 1;
}

Meaning GlueAnalysis::computeNode(onnx::NodeOp node, Value value) {
  StringRef op = node.getOpType();
  auto in = [&](unsigned i) -> Meaning {
    return meaningOf(input(node, i));
  };
  auto rankOf = [](const Meaning &m) {
    return static_cast<int64_t>(m.dims.size());
  };
  Meaning none;

  if (op == "Identity")
    return in(0);
  if (op == "Cast") {
    // Masks, one-hots and indices are 0/1 or small integers: exact in any
    // numeric type and as booleans.
    Meaning m = in(0);
    if (m.is(Kind::Mask) || m.is(Kind::OneHot) || m.is(Kind::Ids) ||
        m.is(Kind::Index) || m.is(Kind::NonZero) || m.is(Kind::TokenMask) ||
        m.is(Kind::MaskCount))
      return m;
    return none;
  }
  if (op == "ScatterElements" && isNode(node, op)) {
    // The dense routing matrix: zeros with the weights written at the ids.
    if (in(0).is(Kind::Zeros) && in(1).is(Kind::Ids) &&
        in(2).is(Kind::Weights) && isAxisAttr(node, 1, 2, 0) &&
        stringAttr(node, "reduction", "none") == "none")
      return Meaning{Kind::Routing, -1, "TE"};
    return none;
  }
  if (op == "OneHot" && isNode(node, op)) {
    if (in(0).is(Kind::Ids) && constantInt(input(node, 1)) == router.numExperts &&
        constantInts(input(node, 2)) == SmallVector<int64_t>{0, 1} &&
        isAxisAttr(node, -1, 3, -1))
      return Meaning{Kind::OneHot, -1, "TKE"};
    return none;
  }
  if (op == "Equal" && isNode(node, op)) {
    for (unsigned i = 0; i < 2; ++i) {
      Meaning ids = in(i);
      if (!ids.is(Kind::Ids))
        continue;
      Value other = input(node, 1 - i);
      if (std::optional<int64_t> e = constantInt(other); e && ids.dims == "TK")
        return Meaning{Kind::Mask, *e, "TK", 0, "TK"};
      // Unsqueeze(ids, -1) == [0, 1, ..., E-1]: one-hot by broadcasting.
      if (ids.dims == "TK1" && isExpertRange(other, router.numExperts))
        return Meaning{Kind::OneHot, -1, "TKE"};
    }
    return none;
  }
  if (op == "Transpose") {
    Meaning m = in(0);
    std::optional<SmallVector<int64_t>> perm = intsAttr(node, "perm");
    if (!m.known() || m.is(Kind::Zeros))
      return none;
    SmallVector<int64_t> order;
    if (perm)
      order = *perm;
    else
      for (int64_t i = rankOf(m) - 1; i >= 0; --i)
        order.push_back(i);
    if (static_cast<int64_t>(order.size()) != rankOf(m))
      return none;
    std::string dims;
    for (int64_t p : order) {
      if (p < 0 || p >= rankOf(m))
        return none;
      dims += m.dims[p];
    }
    m.dims = dims;
    return m;
  }
  if (op == "Gather" && isNode(node, op)) {
    const Meaning &data = in(0);
    if (!data.known())
      return none;
    int64_t axis = normalizeAxis(intAttr(node, "axis", 0), rankOf(data));
    if (axis < 0)
      return none;
    char label = data.dims[axis];
    // A constant expert (or NonZero row) picked out of an axis.
    if (std::optional<std::pair<int64_t, bool>> e =
            expertIndex(input(node, 1))) {
      auto [index, keeps] = *e;
      Meaning m = withAxis(data, axis, keeps ? "1" : "");
      if (label == 'E' && data.is(Kind::OneHot)) {
        m.kind = Kind::Mask;
        m.expert = index;
        m.pairOrder = m.dims;
        return m;
      }
      if (label == 'E' && data.is(Kind::Routing)) {
        m.kind = Kind::Column;
        m.expert = index;
        return m;
      }
      if (label == 'R' && data.is(Kind::NonZero) && index >= 0 && index < 2) {
        m.kind = Kind::Index;
        m.which = data.pairOrder[index];
        return m;
      }
      if (label == '1' && index == 0)
        return m; // the only row of a unit axis
      return none;
    }
    // Rows of the tokens, a column or the flat weights at one expert's pairs.
    const Meaning &at = in(1);
    bool byToken = at.is(Kind::Index) && at.which == 'T';
    Meaning m = withAxis(data, axis, at.dims);
    m.expert = at.expert;
    m.pairOrder = at.pairOrder;
    if (label == 'T' && byToken && data.is(Kind::Tokens)) {
      m.kind = Kind::Rows;
      return m;
    }
    if (label == 'T' && byToken && data.is(Kind::Column) &&
        data.expert == at.expert) {
      m.kind = Kind::PairWeight;
      return m;
    }
    if (label == 'P' && at.is(Kind::FlatIndex) && data.is(Kind::Weights)) {
      m.kind = Kind::PairWeight;
      return m;
    }
    return none;
  }
  if (op == "GatherND" && isNode(node, op)) {
    // weights[tok, slot] from the pairs [N, 2] built by Concat.
    onnx::NodeOp concat = nodeOf(input(node, 1), "Concat");
    if (!in(0).is(Kind::Weights) || in(0).dims != "TK" || !concat ||
        concat.getInputs().size() != 2 || intAttr(node, "batch_dims", 0) != 0)
      return none;
    const Meaning &tok = meaningOf(concat.getInputs()[0]);
    const Meaning &slot = meaningOf(concat.getInputs()[1]);
    if (!tok.is(Kind::Index) || !slot.is(Kind::Index) || tok.which != 'T' ||
        slot.which != 'K' || tok.expert != slot.expert ||
        tok.pairOrder != slot.pairOrder || tok.dims != "N1" ||
        slot.dims != "N1" || !isAxisAttr(concat, 1, 2, 0))
      return none;
    return Meaning{Kind::PairWeight, tok.expert, "N", 0, tok.pairOrder};
  }
  if (op == "NonZero") {
    const Meaning &mask = in(0);
    // A token mask [T] gives the tokens of expert e directly, as [1, N].
    if (mask.is(Kind::TokenMask) && mask.dims == "T")
      return Meaning{Kind::Index, mask.expert, "1N", 'T', "T"};
    if (!mask.is(Kind::Mask) || rankOf(mask) != 2)
      return none;
    return Meaning{Kind::NonZero, mask.expert, "RN", 0, mask.dims};
  }
  if (op == "Split" && isNode(node, op)) {
    const Meaning &nz = in(0);
    int64_t axis = nz.known() ? normalizeAxis(intAttr(node, "axis", 0), 2) : -1;
    std::optional<SmallVector<int64_t>> sizes = constantInts(input(node, 1));
    if (!nz.is(Kind::NonZero) || axis < 0 || nz.dims[axis] != 'R' ||
        node.getNumResults() != 2 ||
        (sizes && *sizes != SmallVector<int64_t>{1, 1}))
      return none;
    unsigned result = cast<OpResult>(value).getResultNumber();
    Meaning m = withAxis(nz, axis, "1");
    m.kind = Kind::Index;
    m.which = nz.pairOrder[result];
    return m;
  }
  if (op == "Slice" && isNode(node, op)) {
    const Meaning &data = in(0);
    std::optional<int64_t> start = constantInt(input(node, 1));
    std::optional<int64_t> end = constantInt(input(node, 2));
    std::optional<int64_t> axisIn =
        input(node, 3) ? constantInt(input(node, 3)) : std::optional<int64_t>(0);
    std::optional<int64_t> step =
        input(node, 4) ? constantInt(input(node, 4)) : std::optional<int64_t>(1);
    if (!data.known() || !start || !end || !axisIn || step != 1 ||
        *end != *start + 1)
      return none;
    int64_t axis = normalizeAxis(*axisIn, rankOf(data));
    if (axis < 0)
      return none;
    Meaning m = withAxis(data, axis, "1");
    if (data.is(Kind::NonZero) && data.dims[axis] == 'R' &&
        (*start == 0 || *start == 1)) {
      m.kind = Kind::Index;
      m.which = data.pairOrder[*start];
      return m;
    }
    if (data.is(Kind::Routing) && data.dims[axis] == 'E') {
      m.kind = Kind::Column;
      m.expert = *start;
      return m;
    }
    return none;
  }
  if (op == "Squeeze" || op == "Unsqueeze") {
    Meaning m = in(0);
    if (!m.known() || m.is(Kind::Zeros))
      return none;
    std::optional<SmallVector<int64_t>> axes =
        input(node, 1) ? constantInts(input(node, 1)) : intsAttr(node, "axes");
    if (op == "Squeeze" && !axes) {
      llvm::erase(m.dims, '1');
      return m;
    }
    if (!axes)
      return none;
    int64_t rank = rankOf(m) + (op == "Unsqueeze" ? axes->size() : 0);
    SmallVector<int64_t> sorted;
    for (int64_t a : *axes) {
      int64_t axis = normalizeAxis(a, rank);
      if (axis < 0)
        return none;
      sorted.push_back(axis);
    }
    llvm::sort(sorted);
    if (op == "Unsqueeze") {
      for (int64_t a : sorted)
        m.dims.insert(m.dims.begin() + a, '1');
      return m;
    }
    for (int64_t a : llvm::reverse(sorted)) {
      if (m.dims[a] != '1')
        return none;
      m.dims.erase(a, 1);
    }
    return m;
  }
  if (op == "Reshape" || op == "Flatten") {
    Meaning m = in(0);
    if (!m.known() || m.is(Kind::Zeros))
      return none;
    SmallVector<Extent> target;
    if (op == "Flatten") {
      int64_t axis = normalizeAxis(intAttr(node, "axis", 1), rankOf(m) + 1);
      if (axis < 0)
        return none;
      // Flatten to [prod(dims[:axis]), prod(dims[axis:])].
      auto part = [&](StringRef labels) {
        std::string kept;
        for (char c : labels)
          if (c != '1')
            kept += c;
        if (kept.empty())
          return Extent{Extent::Kind::Const, 1, 0};
        if (kept.size() == 1)
          return Extent{Extent::Kind::Label, 0, kept[0]};
        return Extent{Extent::Kind::Const, -1, 0};
      };
      StringRef dims = m.dims;
      target = {part(dims.take_front(axis)), part(dims.drop_front(axis))};
    } else {
      if (intAttr(node, "allowzero", 0) != 0)
        return none;
      std::optional<SmallVector<Extent>> shape = resolveShape(input(node, 1));
      if (!shape)
        return none;
      target = *shape;
    }
    std::optional<std::string> dims = reshapeDims(m, target);
    if (!dims)
      return none;
    m.dims = *dims;
    if (m.is(Kind::Weights) && m.dims.find('P') == std::string::npos &&
        m.dims.find("TK") == std::string::npos)
      return none;
    return m;
  }
  if (op == "Expand" && isNode(node, op)) {
    Meaning m = in(0);
    if (!m.known() || m.is(Kind::Zeros))
      return none;
    std::optional<SmallVector<Extent>> shape = resolveShape(input(node, 1));
    if (!shape) {
      // Unit axes broadcast to an extent not known here.
      for (char &c : m.dims)
        if (c == '1')
          c = '*';
      return m;
    }
    if (shape->size() > m.dims.size())
      return none;
    size_t offset = m.dims.size() - shape->size();
    for (auto [i, x] : llvm::enumerate(*shape)) {
      char &c = m.dims[offset + i];
      if (c != '1')
        continue;
      if (x.kind == Extent::Kind::Label)
        c = x.label;
      else if (!(x.kind == Extent::Kind::Const && x.value == 1))
        c = '*';
    }
    return m;
  }
  if (op == "Tile" && isNode(node, "Tile")) {
    // The tokens repeated once per expert: [E * T, H].
    Meaning m = in(0);
    if (m.is(Kind::Tokens) && m.dims == "TH" &&
        constantInts(input(node, 1)) ==
            SmallVector<int64_t>{router.numExperts, 1})
      return Meaning{Kind::Tokens, -1, "QH"};
    return none;
  }
  if (op == "Mul" && isNode(node, op)) {
    for (unsigned i = 0; i < 2; ++i) {
      const Meaning &a = in(i);
      const Meaning &b = in(1 - i);
      if (a.is(Kind::Index) && a.which == 'T' && a.dims == "N") {
        std::optional<SmallVector<Extent>> k = resolveShape(input(node, 1 - i));
        if (k && k->size() == 1 &&
            (((*k)[0].kind == Extent::Kind::Label && (*k)[0].label == 'K') ||
             ((*k)[0].kind == Extent::Kind::Const &&
              (*k)[0].value == router.k)))
          return Meaning{Kind::TokTimesK, a.expert, "N", 0, a.pairOrder};
      }
      if (a.is(Kind::Mask) && b.is(Kind::Weights) && a.dims == b.dims)
        return Meaning{Kind::MaskedWeights, a.expert, a.dims};
      if (a.is(Kind::OneHot) && b.is(Kind::Weights) && a.dims == "TKE" &&
          b.dims == "TK1")
        return Meaning{Kind::MaskedOneHot, -1, "TKE"};
    }
    return none;
  }
  if (op == "Greater" && node.getInputs().size() == 2) {
    // A count of the slots choosing expert e, tested for > 0.
    Meaning m = in(0);
    Value zero = input(node, 1);
    if (m.is(Kind::MaskCount) && m.dims == "T" &&
        (constantFloat(zero) == 0.0 || constantInt(zero) == 0)) {
      m.kind = Kind::TokenMask;
      return m;
    }
    return none;
  }
  if (op == "Where" && isNode(node, op)) {
    // Where(ids == e, weights, 0): the weights masked to expert e.
    Meaning mask = in(0), kept = in(1), other = in(2);
    if (mask.is(Kind::Mask) && kept.is(Kind::Weights) &&
        other.is(Kind::Zeros) && mask.dims == kept.dims)
      return Meaning{Kind::MaskedWeights, mask.expert, mask.dims};
    return none;
  }
  if (op == "Add" && isNode(node, op)) {
    for (unsigned i = 0; i < 2; ++i) {
      const Meaning &slot = in(i);
      const Meaning &scaled = in(1 - i);
      if (slot.is(Kind::Index) && slot.which == 'K' && slot.dims == "N" &&
          scaled.is(Kind::TokTimesK) && slot.expert == scaled.expert &&
          slot.pairOrder == scaled.pairOrder)
        return Meaning{Kind::FlatIndex, slot.expert, "N", 0, slot.pairOrder};
    }
    return none;
  }
  if ((op == "ReduceMax" || op == "ReduceSum") && in(0).is(Kind::Mask)) {
    // Whether each token chose expert e: the mask reduced over the slots
    // (any; a sum of 0/1 that is only tested for non-zero).
    Meaning m = in(0);
    std::optional<SmallVector<int64_t>> axes =
        input(node, 1) ? constantInts(input(node, 1)) : intsAttr(node, "axes");
    int64_t axis = axes && axes->size() == 1
                       ? normalizeAxis(axes->front(), rankOf(m))
                       : -1;
    if (axis < 0 || m.dims[axis] != 'K')
      return none;
    bool keep = intAttr(node, "keepdims", 1) != 0;
    Meaning out = withAxis(m, axis, keep ? "1" : "");
    // A weighted use of a summed mask is a near miss, not a token mask.
    out.kind = op == "ReduceMax" ? Kind::TokenMask : Kind::MaskCount;
    return out;
  }
  if (op == "ReduceSum") {
    // Summing the masked weights over the slots gives a routing column (or
    // the whole routing matrix from one-hots).
    const Meaning &m = in(0);
    std::optional<SmallVector<int64_t>> axes =
        input(node, 1) ? constantInts(input(node, 1)) : intsAttr(node, "axes");
    bool keep = intAttr(node, "keepdims", 1) != 0;
    if (!m.known() || !axes || axes->size() != 1)
      return none;
    int64_t axis = normalizeAxis(axes->front(), rankOf(m));
    if (axis < 0 || m.dims[axis] != 'K')
      return none;
    Meaning out = withAxis(m, axis, keep ? "1" : "");
    if (m.is(Kind::MaskedWeights)) {
      out.kind = Kind::Column;
      return out;
    }
    if (m.is(Kind::MaskedOneHot)) {
      out.kind = Kind::Routing;
      return out;
    }
    return none;
  }
  return none;
}

} // namespace moec::raise
