//===- GlueShapes.cpp - Shapes computed in an MoE block's glue ------------===//
//
// The extents of shape tensors (constants, or Shape/Gather/Concat/
// ConstantOfShape arithmetic over values whose axes GlueAnalysis labels),
// and which reshapes keep a value's meaning.
//
//===----------------------------------------------------------------------===//

#include "Glue.h"

#include "GraphMatch.h"

using namespace mlir;

namespace moec::raise {

/// The axis `axis` of a rank-`rank` tensor, or -1 when out of range.
int64_t normalizeAxis(int64_t axis, int64_t rank) {
  if (axis < 0)
    axis += rank;
  return axis >= 0 && axis < rank ? axis : -1;
}

std::optional<int64_t> GlueAnalysis::extentOf(char label) const {
  switch (label) {
  case 'E':
    return router.numExperts;
  case 'K':
    return router.k;
  case 'H':
    return hiddenSize >= 0 ? std::optional<int64_t>(hiddenSize)
                           : std::nullopt;
  case '1':
    return 1;
  default:
    return std::nullopt;
  }
}

std::optional<SmallVector<Extent>> GlueAnalysis::resolveShape(Value shape) {
  auto constant = [](int64_t v) {
    return Extent{Extent::Kind::Const, v, 0};
  };
  if (std::optional<SmallVector<int64_t>> ints = constantInts(shape))
    return llvm::map_to_vector(*ints, constant);
  auto node = shape ? shape.getDefiningOp<onnx::NodeOp>() : onnx::NodeOp();
  if (!node || !node.getDomain().empty())
    return std::nullopt;
  StringRef op = node.getOpType();
  if (op == "Cast" || op == "Identity")
    return resolveShape(input(node, 0));
  if (op == "Concat") {
    SmallVector<Extent> all;
    for (Value part : node.getInputs()) {
      std::optional<SmallVector<Extent>> piece = resolveShape(part);
      if (!piece)
        return std::nullopt;
      all.append(*piece);
    }
    return all;
  }
  if (op == "Unsqueeze" || op == "Squeeze")
    return resolveShape(input(node, 0));
  if (op == "Shape") {
    if (node->hasAttr("start") || node->hasAttr("end"))
      return std::nullopt;
    Value of = input(node, 0);
    const Meaning &m = meaningOf(of);
    if (m.known() && !m.dims.empty() && m.dims.find('*') == std::string::npos)
      return llvm::map_to_vector(m.dims, [&](char label) {
        return label == '1' ? constant(1)
                            : Extent{Extent::Kind::Label, 0, label};
      });
    auto type = of ? dyn_cast<RankedTensorType>(of.getType())
                   : RankedTensorType();
    if (!type)
      return std::nullopt;
    return llvm::map_to_vector(type.getShape(), [&](int64_t d) {
      return ShapedType::isDynamic(d) ? Extent() : constant(d);
    });
  }
  if (op == "Gather" && isAxisAttr(node, 0, 1, 0)) {
    std::optional<SmallVector<Extent>> all = resolveShape(input(node, 0));
    std::optional<int64_t> i = constantInt(input(node, 1));
    if (!all || !i)
      return std::nullopt;
    int64_t at = normalizeAxis(*i, all->size());
    if (at < 0)
      return std::nullopt;
    return SmallVector<Extent>{(*all)[at]};
  }
  if (op == "ConstantOfShape") {
    std::optional<SmallVector<int64_t>> n = constantInts(input(node, 0));
    auto fill = node->getAttrOfType<DenseElementsAttr>("value");
    if (!n || n->size() != 1 || (*n)[0] < 0 || (*n)[0] > 8 || !fill ||
        !fill.getElementType().isInteger() || fill.getNumElements() != 1)
      return std::nullopt;
    int64_t v = fill.getSplatValue<APInt>().getSExtValue();
    return SmallVector<Extent>((*n)[0], constant(v));
  }
  return std::nullopt;
}

/// The labels of a reshape that only adds or drops unit axes, merges [T, K]
/// into P, or splits Q into [E, T].
std::optional<std::string>
GlueAnalysis::reshapeDims(const Meaning &m, ArrayRef<Extent> target) {
  std::string labels;
  for (char c : m.dims)
    if (c != '1')
      labels += c;
  if (labels.find('*') != std::string::npos)
    return std::nullopt;
  size_t nonUnit = llvm::count_if(target, [](const Extent &x) {
    return !(x.kind == Extent::Kind::Const && x.value == 1);
  });
  if (labels.find("TK") != std::string::npos && nonUnit < labels.size())
    labels.replace(labels.find("TK"), 2, "P");
  if (labels.find('Q') != std::string::npos && nonUnit > labels.size())
    labels.replace(labels.find('Q'), 1, "ET");
  std::string out;
  size_t next = 0;
  bool wildcard = false;
  for (auto [i, x] : llvm::enumerate(target)) {
    if (x.kind == Extent::Kind::Const && x.value == 1) {
      out += '1';
      continue;
    }
    if (next >= labels.size())
      return std::nullopt;
    char want = labels[next];
    bool ok = false;
    if (x.kind == Extent::Kind::Label)
      ok = x.label == want;
    else if (x.kind == Extent::Kind::Const && x.value == -1)
      ok = !wildcard;
    else if (x.kind == Extent::Kind::Const && x.value == 0)
      ok = i < m.dims.size() && m.dims[i] == want;
    else if (x.kind == Extent::Kind::Const)
      ok = extentOf(want) == x.value;
    if (!ok)
      return std::nullopt;
    wildcard |= x.kind == Extent::Kind::Const && x.value == -1;
    out += want;
    ++next;
  }
  if (next != labels.size())
    return std::nullopt;
  return out;
}

} // namespace moec::raise
