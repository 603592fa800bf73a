//===- RuntimeScalars.cpp - Integers only the run time knows --------------===//

#include "Transforms/RuntimeScalars.h"

#include <algorithm>

using namespace moec::npu;

int64_t RuntimeScalars::add(ScalarNode node) {
  for (size_t i = 0; i < table.size(); ++i) {
    const ScalarNode &n = table[i];
    if (n.kind == node.kind && n.a == node.a && n.b == node.b &&
        n.c == node.c && n.imm == node.imm)
      return int64_t(i);
  }
  table.push_back(node);
  return int64_t(table.size() - 1);
}

int64_t RuntimeScalars::constant(int64_t value) {
  return add({ScalarKind::Const, 0, 0, 0, value});
}

int64_t RuntimeScalars::extent(int64_t slot) {
  return add({ScalarKind::Extent, 0, 0, 0, slot});
}

int64_t RuntimeScalars::inputWord(int64_t input, int64_t offset) {
  return add({ScalarKind::InputWord, input, 0, 0, offset});
}

std::optional<int64_t> RuntimeScalars::constantValue(int64_t node) const {
  if (table[node].kind == ScalarKind::Const)
    return table[node].imm;
  return std::nullopt;
}

int64_t RuntimeScalars::fold(ScalarKind kind, int64_t a, int64_t b) {
  std::vector<ScalarNode> nodes = {{ScalarKind::Const, 0, 0, 0, a},
                                   {ScalarKind::Const, 0, 0, 0, b},
                                   {kind, 0, 1, 0, 0}};
  int64_t value = 0;
  std::string error;
  evaluateScalar(nodes, 2, nullptr, nullptr, value, error);
  return value;
}

int64_t RuntimeScalars::binary(ScalarKind kind, int64_t a, int64_t b) {
  std::optional<int64_t> x = constantValue(a), y = constantValue(b);
  if (x && y)
    return constant(fold(kind, *x, *y));
  if (kind == ScalarKind::Add && x == 0)
    return b;
  if ((kind == ScalarKind::Add || kind == ScalarKind::Sub) && y == 0)
    return a;
  return add({kind, a, b, 0, 0});
}

int64_t RuntimeScalars::select(int64_t condition, int64_t then,
                               int64_t otherwise) {
  if (std::optional<int64_t> c = constantValue(condition))
    return *c ? then : otherwise;
  return add({ScalarKind::Select, condition, then, otherwise, 0});
}

std::vector<int64_t> RuntimeScalars::words() const {
  std::vector<int64_t> out;
  for (const ScalarNode &n : table)
    out.insert(out.end(), {int64_t(n.kind), n.a, n.b, n.c, n.imm});
  return out;
}

Val ScalarMaterializer::get(int64_t node) {
  if (std::optional<int64_t> c = scalars.constantValue(node))
    return Val(*c);
  auto found = done.find(node);
  if (found != done.end())
    return Val(found->second, 0);
  const ScalarNode n = scalars.nodes()[node];
  unsigned reg;
  switch (n.kind) {
  case ScalarKind::Extent:
    reg = regs.get();
    s.load(reg, "gm", Val(int64_t(scalars.extentAddress(n.imm))));
    break;
  case ScalarKind::InputWord:
    reg = regs.get();
    s.load(reg, "gm", Val(int64_t(scalars.inputAddress(n.a) + n.imm)));
    break;
  case ScalarKind::Select: {
    Val c = get(n.a), t = get(n.b), e = get(n.c);
    reg = regs.get();
    s.select(reg, Val(0), c, t, e); // 0 < c ? t : e
    break;
  }
  default: {
    Val a = get(n.a), b = get(n.b);
    reg = regs.get();
    switch (n.kind) {
    case ScalarKind::Add:
      s.scalar("add", reg, a, b);
      break;
    case ScalarKind::Sub:
      s.scalar("sub", reg, a, b);
      break;
    case ScalarKind::Mul:
      s.scalar("mul", reg, a, b);
      break;
    case ScalarKind::Min:
      s.scalar("min", reg, a, b);
      break;
    case ScalarKind::Max:
      s.scalar("max", reg, a, b);
      break;
    case ScalarKind::Less:
      s.select(reg, a, b, Val(1), Val(0));
      break;
    case ScalarKind::LessEqual:
      s.select(reg, a, b + 1, Val(1), Val(0));
      break;
    case ScalarKind::Equal:
      // a == b: not (a < b) and not (b < a).
      s.select(reg, a, b, Val(0), Val(1));
      s.select(reg, b, a, Val(0), Val(reg, 0));
      break;
    case ScalarKind::And:
      // Comparisons are 0 or 1; any value: 0 < a and 0 < b... as != 0.
      s.select(reg, Val(0), a, b, Val(0));
      s.select(reg, Val(0), Val(reg, 0), Val(1), Val(0));
      break;
    default:
      s.mov(reg, Val(0));
      break;
    }
  }
  }
  done[node] = reg;
  return Val(reg, 0);
}

unsigned ScalarMaterializer::fresh(int64_t node) {
  Val v = get(node);
  unsigned reg = regs.get();
  s.mov(reg, v);
  return reg;
}
