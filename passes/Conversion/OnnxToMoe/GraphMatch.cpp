//===- GraphMatch.cpp - Matching helpers over onnx.node graphs ------------===//

#include "GraphMatch.h"

#include "dialects/moe/IR/MoeOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/StringMap.h"

using namespace mlir;

namespace moec::raise {

/// Whether a node has the inputs and outputs the matchers index: a model
/// may hold any node shape, and matching must not read past the operands.
static bool hasMatchableArity(onnx::NodeOp node) {
  static const llvm::StringMap<std::pair<unsigned, unsigned>> arity = {
      {"Add", {2, 1}},       {"Mul", {2, 1}},
      {"Div", {2, 1}},       {"MatMul", {2, 1}},
      {"Equal", {2, 1}},     {"Where", {3, 1}},
      {"Expand", {2, 1}},    {"Reshape", {2, 1}},
      {"Unsqueeze", {2, 1}}, {"Gather", {2, 1}},
      {"GatherND", {2, 1}},  {"GatherElements", {2, 1}},
      {"ScatterND", {3, 1}}, {"ScatterElements", {3, 1}},
      {"OneHot", {3, 1}},    {"TopK", {2, 2}},
      {"Slice", {3, 1}},     {"Concat", {1, 1}},
      {"Clip", {1, 1}},      {"MoE", {5, 1}},
      {"Gemm", {2, 1}},      {"Tile", {2, 1}},
      {"Sum", {1, 1}},       {"Split", {1, 2}},
      {"QMoE", {8, 1}},      {"MatMulNBits", {3, 1}}};
  auto it = arity.find(node.getOpType());
  auto [inputs, results] = it == arity.end() ? std::pair(1u, 1u) : it->second;
  return node.getInputs().size() >= inputs && node.getNumResults() >= results;
}

static onnx::NodeOp nodeIn(Value value, StringRef domain, StringRef opType) {
  auto node = value ? value.getDefiningOp<onnx::NodeOp>() : onnx::NodeOp();
  if (!node || node.getOpType() != opType || node.getDomain() != domain ||
      !hasMatchableArity(node))
    return {};
  return node;
}

onnx::NodeOp nodeOf(Value value, StringRef opType) {
  return nodeIn(value, "", opType);
}

onnx::NodeOp contribNodeOf(Value value, StringRef opType) {
  return nodeIn(value, "com.microsoft", opType);
}

bool isNode(Operation *op, StringRef opType) {
  auto node = dyn_cast_or_null<onnx::NodeOp>(op);
  return node && node.getDomain().empty() && node.getOpType() == opType &&
         hasMatchableArity(node);
}

Value input(onnx::NodeOp node, unsigned i) {
  if (!node || i >= node.getInputs().size())
    return {};
  Value value = node.getInputs()[i];
  return value.getDefiningOp<onnx::NoneOp>() ? Value() : value;
}

int64_t intAttr(onnx::NodeOp node, StringRef name, int64_t fallback) {
  if (auto attr = node->getAttrOfType<IntegerAttr>(name))
    return attr.getInt();
  return fallback;
}

std::optional<double> optionalFloatAttr(onnx::NodeOp node, StringRef name) {
  if (auto attr = node->getAttrOfType<FloatAttr>(name))
    return attr.getValueAsDouble();
  return std::nullopt;
}

double floatAttr(onnx::NodeOp node, StringRef name, double fallback) {
  return optionalFloatAttr(node, name).value_or(fallback);
}

std::optional<SmallVector<int64_t>> intsAttr(onnx::NodeOp node,
                                             StringRef name) {
  if (auto attr = node->getAttrOfType<DenseI64ArrayAttr>(name))
    return SmallVector<int64_t>(attr.asArrayRef());
  return std::nullopt;
}

StringRef stringAttr(onnx::NodeOp node, StringRef name, StringRef fallback) {
  if (auto attr = node->getAttrOfType<StringAttr>(name))
    return attr.getValue();
  return fallback;
}

DenseElementsAttr constantOf(Value value) {
  DenseElementsAttr attr;
  if (value && matchPattern(value, m_Constant(&attr)))
    return attr;
  return {};
}

std::optional<SmallVector<int64_t>> constantInts(Value value) {
  DenseElementsAttr attr = constantOf(value);
  if (!attr || !attr.getElementType().isInteger() ||
      attr.getNumElements() > 1024)
    return std::nullopt;
  SmallVector<int64_t> values;
  for (const APInt &v : attr.getValues<APInt>())
    values.push_back(v.getSExtValue());
  return values;
}

std::optional<int64_t> constantInt(Value value) {
  std::optional<SmallVector<int64_t>> values = constantInts(value);
  if (!values || values->size() != 1)
    return std::nullopt;
  return values->front();
}

std::optional<double> constantFloat(Value value) {
  DenseElementsAttr attr = constantOf(value);
  if (!attr || !isa<FloatType>(attr.getElementType()) ||
      !(attr.isSplat() || attr.getNumElements() == 1))
    return std::nullopt;
  return attr.getSplatValue<APFloat>().convertToDouble();
}

RankedTensorType weightType(Value value) {
  if (!value || !(value.getDefiningOp<arith::ConstantOp>() ||
                  value.getDefiningOp<moe::WeightOp>()))
    return {};
  auto type = dyn_cast<RankedTensorType>(value.getType());
  return type && type.hasStaticShape() ? type : RankedTensorType();
}

/// Whether every element of `attr` is 1 (or true) when `one`, else 0.
static bool isSplatOf(DenseElementsAttr attr, bool one) {
  if (!attr || !attr.isSplat())
    return false;
  if (isa<FloatType>(attr.getElementType()))
    return attr.getSplatValue<APFloat>().convertToDouble() == (one ? 1 : 0);
  if (!attr.getElementType().isInteger())
    return false;
  APInt v = attr.getSplatValue<APInt>();
  return one ? v.isOne() : v.isZero();
}

bool isFilledWith(Value value, bool one) {
  value = skipAnyCasts(value);
  if (DenseElementsAttr attr = constantOf(value))
    return isSplatOf(attr, one);
  onnx::NodeOp fill = nodeOf(value, "ConstantOfShape");
  if (!fill)
    return false;
  // Without a value attribute ConstantOfShape fills with 0.0.
  auto attr = fill->getAttrOfType<DenseElementsAttr>("value");
  return attr ? isSplatOf(attr, one) : !one;
}

bool isZeros(Value value) { return isFilledWith(value, false); }

static Type elementTypeOf(Value value) {
  auto type = dyn_cast<ShapedType>(value.getType());
  return type ? type.getElementType() : Type();
}

Value skipAnyCasts(Value value) {
  while (onnx::NodeOp node = nodeOf(value, "Cast") ? nodeOf(value, "Cast")
                                                   : nodeOf(value, "Identity"))
    value = node.getInputs()[0];
  return value;
}

Value skipCasts(Value value) {
  while (true) {
    if (onnx::NodeOp identity = nodeOf(value, "Identity")) {
      value = identity.getInputs()[0];
      continue;
    }
    // A Cast to another type (to fp16, to int) changes values: not a no-op.
    onnx::NodeOp cast = nodeOf(value, "Cast");
    if (!cast || elementTypeOf(cast.getInputs()[0]) != elementTypeOf(value))
      return value;
    value = cast.getInputs()[0];
  }
}

static bool sameAxis(int64_t got, int64_t want, int64_t rank) {
  if (got < 0)
    got += rank;
  if (want < 0)
    want += rank;
  return got == want;
}

bool isSingleAxis(Value axes, int64_t axis, int64_t rank) {
  std::optional<SmallVector<int64_t>> values = constantInts(axes);
  return values && values->size() == 1 && sameAxis(values->front(), axis, rank);
}

bool isAxisAttr(onnx::NodeOp node, int64_t axis, int64_t rank,
                int64_t fallback) {
  return sameAxis(intAttr(node, "axis", fallback), axis, rank);
}

Value otherOperand(onnx::NodeOp node, Value one) {
  if (!node || node.getInputs().size() != 2)
    return {};
  if (node.getInputs()[0] == one)
    return node.getInputs()[1];
  if (node.getInputs()[1] == one)
    return node.getInputs()[0];
  return {};
}

SmallVector<onnx::NodeOp> usersOf(Value value, StringRef opType) {
  SmallVector<onnx::NodeOp> users;
  for (Operation *user : value.getUsers())
    if (isNode(user, opType) &&
        !llvm::is_contained(users, cast<onnx::NodeOp>(user)))
      users.push_back(cast<onnx::NodeOp>(user));
  return users;
}

std::string describe(onnx::NodeOp node) {
  StringRef name = node.getNodeName();
  std::string domain =
      node.getDomain().empty() ? "" : (node.getDomain() + ".").str();
  return domain + node.getOpType().str() + " '" +
         (name.empty() ? "<unnamed>" : name).str() + "'";
}

Value createNode(OpBuilder &b, Location loc, StringRef opType,
                 ValueRange inputs, Type resultType,
                 ArrayRef<NamedAttribute> attrs) {
  auto node = onnx::NodeOp::create(b, loc, TypeRange{resultType},
                                   b.getStringAttr(opType), b.getStringAttr(""),
                                   b.getI64IntegerAttr(17), inputs);
  for (NamedAttribute attr : attrs)
    node->setAttr(attr.getName(), attr.getValue());
  return node.getResult(0);
}

Value i64Constant(OpBuilder &b, Location loc, ArrayRef<int64_t> values) {
  auto type = RankedTensorType::get({static_cast<int64_t>(values.size())},
                                    b.getI64Type());
  return arith::ConstantOp::create(b, loc,
                                   DenseIntElementsAttr::get(type, values));
}

RankedTensorType tokensType(int64_t n, Type element) {
  return RankedTensorType::get({ShapedType::kDynamic, n}, element);
}

Value castTo(OpBuilder &b, Location loc, Value value, Type type) {
  if (value.getType() == type)
    return value;
  return tensor::CastOp::create(b, loc, type, value);
}

LogicalResult verifyOrErase(ArrayRef<Operation *> built, std::string &reason) {
  std::string message;
  {
    ScopedDiagnosticHandler capture(built.front()->getContext(),
                                    [&](Diagnostic &diag) {
                                      if (message.empty())
                                        message = diag.str();
                                      return success();
                                    });
    if (llvm::all_of(built, [](Operation *op) {
          return succeeded(verify(op, /*verifyRecursively=*/false));
        }))
      return success();
  }
  reason = "the matched block is inconsistent: " + message;
  for (Operation *op : llvm::reverse(built))
    op->erase();
  return failure();
}

} // namespace moec::raise
