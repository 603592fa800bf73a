//===- Elementwise.cpp - Element-wise ONNX ops to linalg.generic ----------===//
//
// Every element-wise op becomes one broadcasting linalg.generic whose body
// is arith/math on scalars, so later fusion sees plain element-wise code.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/OnnxToLinalg/NodeLowering.h"

#include <cmath>

using namespace mlir;
using namespace moec;
using namespace moec::onnx_lowering;

namespace {
/// Scalar semantics of a binary op; `isUnsigned` is the operands' integer
/// signedness.
using BinaryFn =
    std::function<Value(OpBuilder &, Location, Value, Value, bool isUnsigned)>;
using UnaryFn = std::function<Value(OpBuilder &, Location, Value)>;
} // namespace

static bool isFloat(Value v) { return isa<FloatType>(v.getType()); }

/// Lowers a node with inputs `a`, `b` whose result has the element type of
/// the inputs, or i1 for comparisons; `boolOnly` ops take bools only.
static LoweringFn binary(BinaryFn fn, bool isComparison = false,
                         bool boolOnly = false) {
  return [fn, isComparison,
          boolOnly](NodeLowering &node) -> FailureOr<SmallVector<Value>> {
    FailureOr<Value> lhs = node.rankedInput(0);
    FailureOr<Value> rhs = node.rankedInput(1);
    if (failed(lhs) || failed(rhs))
      return failure();
    Type element = getElementType(*lhs);
    if (element != getElementType(*rhs))
      return node.error() << "expects inputs of one element type, got "
                          << lhs->getType() << " and " << rhs->getType(),
             failure();
    if (boolOnly && !element.isInteger(1))
      return node.error() << "expects bool inputs, got " << lhs->getType(),
             failure();
    bool isUnsigned = isUnsignedInteger(element);
    Type resultElement = isComparison ? node.b.getI1Type() : element;
    FailureOr<Value> result =
        buildElementwise(node, {*lhs, *rhs}, resultElement,
                         [&](OpBuilder &b, Location loc, ValueRange args) {
                           return fn(b, loc, args[0], args[1], isUnsigned);
                         });
    if (failed(result))
      return failure();
    return SmallVector<Value>{*result};
  };
}

namespace {
/// The inputs a one-input op accepts.
enum class Accepts { Float, Numeric, Bool };
} // namespace

/// Lowers a one-input node of the same element type. `unsignedIdentity`:
/// the op leaves unsigned values as they are (Abs, Relu).
static LoweringFn unary(UnaryFn fn, Accepts accepts = Accepts::Float,
                        bool unsignedIdentity = false) {
  return [fn, accepts, unsignedIdentity](
             NodeLowering &node) -> FailureOr<SmallVector<Value>> {
    FailureOr<Value> input = node.rankedInput(0);
    if (failed(input))
      return failure();
    Type element = getElementType(*input);
    if (accepts == Accepts::Float && !isa<FloatType>(element))
      return node.error() << "expects a floating-point input, got "
                          << input->getType(),
             failure();
    if (accepts == Accepts::Bool && !element.isInteger(1))
      return node.error() << "expects a bool input, got " << input->getType(),
             failure();
    if (unsignedIdentity && isUnsignedInteger(element))
      return SmallVector<Value>{*input};
    FailureOr<Value> result =
        buildElementwise(node, {*input}, element,
                         [&](OpBuilder &b, Location loc, ValueRange args) {
                           return fn(b, loc, args[0]);
                         });
    if (failed(result))
      return failure();
    return SmallVector<Value>{*result};
  };
}

static Value one(OpBuilder &b, Location loc, Value like) {
  return scalarConstant(b, loc, like.getType(), 1.0);
}

static Value sigmoid(OpBuilder &b, Location loc, Value x) {
  Value negated = arith::NegFOp::create(b, loc, x);
  Value exp = math::ExpOp::create(b, loc, negated);
  Value denominator = arith::AddFOp::create(b, loc, one(b, loc, x), exp);
  return arith::DivFOp::create(b, loc, one(b, loc, x), denominator);
}

/// 0.5 * x * (1 + erf(x / sqrt 2)), or the tanh approximation.
static Value gelu(OpBuilder &b, Location loc, Value x, bool useTanh) {
  Type type = x.getType();
  Value half = scalarConstant(b, loc, type, 0.5);
  Value inner;
  if (useTanh) {
    Value cube =
        arith::MulFOp::create(b, loc, x, arith::MulFOp::create(b, loc, x, x));
    Value poly = arith::AddFOp::create(
        b, loc, x,
        arith::MulFOp::create(b, loc, scalarConstant(b, loc, type, 0.044715),
                              cube));
    inner = math::TanhOp::create(
        b, loc,
        arith::MulFOp::create(
            b, loc, scalarConstant(b, loc, type, std::sqrt(2.0 / M_PI)), poly));
  } else {
    inner = math::ErfOp::create(
        b, loc,
        arith::MulFOp::create(b, loc, x,
                              scalarConstant(b, loc, type, M_SQRT1_2)));
  }
  Value onePlus = arith::AddFOp::create(b, loc, one(b, loc, x), inner);
  return arith::MulFOp::create(b, loc, arith::MulFOp::create(b, loc, half, x),
                               onePlus);
}

static Value compare(OpBuilder &b, Location loc, Value x, Value y,
                     arith::CmpFPredicate fp, arith::CmpIPredicate si,
                     arith::CmpIPredicate ui, bool isUnsigned) {
  if (isFloat(x))
    return arith::CmpFOp::create(b, loc, fp, x, y);
  return arith::CmpIOp::create(b, loc, isUnsigned ? ui : si, x, y);
}

/// Max/Min over any number of inputs, NaN-propagating like numpy.
static LoweringFn variadicMinMax(bool isMax) {
  return [isMax](NodeLowering &node) -> FailureOr<SmallVector<Value>> {
    FailureOr<SmallVector<Value>> inputs = node.variadicInputs();
    if (failed(inputs))
      return failure();
    Type element = getElementType(inputs->front());
    bool isUnsigned = isUnsignedInteger(element);
    FailureOr<Value> result = buildElementwise(
        node, *inputs, element,
        [&](OpBuilder &b, Location loc, ValueRange args) {
          Value acc = args.front();
          for (Value next : args.drop_front()) {
            if (isFloat(acc))
              acc = isMax ? Value(arith::MaximumFOp::create(b, loc, acc, next))
                          : Value(arith::MinimumFOp::create(b, loc, acc, next));
            else if (isUnsigned)
              acc = isMax ? Value(arith::MaxUIOp::create(b, loc, acc, next))
                          : Value(arith::MinUIOp::create(b, loc, acc, next));
            else
              acc = isMax ? Value(arith::MaxSIOp::create(b, loc, acc, next))
                          : Value(arith::MinSIOp::create(b, loc, acc, next));
          }
          return acc;
        });
    if (failed(result))
      return failure();
    return SmallVector<Value>{*result};
  };
}

static FailureOr<SmallVector<Value>> lowerPow(NodeLowering &node) {
  FailureOr<Value> base = node.rankedInput(0);
  FailureOr<Value> exponent = node.rankedInput(1);
  if (failed(base) || failed(exponent))
    return failure();
  Type element = getElementType(*base);
  bool baseUnsigned = isUnsignedInteger(element);
  bool expUnsigned = isUnsignedInteger(getElementType(*exponent));
  FailureOr<Value> result = buildElementwise(
      node, {*base, *exponent}, element,
      [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
        Value x = args[0], y = args[1];
        if (isFloat(x)) {
          y = convertScalar(b, loc, y, x.getType(), expUnsigned, false);
          return math::PowFOp::create(b, loc, x, y);
        }
        if (!isFloat(y)) {
          y = convertScalar(b, loc, y, x.getType(), expUnsigned, baseUnsigned);
          return math::IPowIOp::create(b, loc, x, y);
        }
        Value xf = convertScalar(b, loc, x, y.getType(), baseUnsigned, false);
        Value pow = math::PowFOp::create(b, loc, xf, y);
        return convertScalar(b, loc, pow, x.getType(), false, baseUnsigned);
      });
  if (failed(result))
    return failure();
  return SmallVector<Value>{*result};
}

static FailureOr<SmallVector<Value>> lowerWhere(NodeLowering &node) {
  FailureOr<Value> condition = node.rankedInput(0);
  FailureOr<Value> x = node.rankedInput(1);
  FailureOr<Value> y = node.rankedInput(2);
  if (failed(condition) || failed(x) || failed(y))
    return failure();
  if (!getElementType(*condition).isInteger(1) ||
      getElementType(*x) != getElementType(*y))
    return node.error() << "expects a bool condition and two values of one "
                           "element type",
           failure();
  FailureOr<Value> result = buildElementwise(
      node, {*condition, *x, *y}, getElementType(*x),
      [](OpBuilder &b, Location loc, ValueRange args) {
        return arith::SelectOp::create(b, loc, args[0], args[1], args[2]);
      });
  if (failed(result))
    return failure();
  return SmallVector<Value>{*result};
}

static FailureOr<SmallVector<Value>> lowerClip(NodeLowering &node) {
  FailureOr<Value> input = node.rankedInput(0);
  if (failed(input))
    return failure();
  SmallVector<Value> inputs = {*input};
  Value lo = node.input(1), hi = node.input(2);
  for (Value bound : {lo, hi}) {
    if (!bound)
      continue;
    auto type = dyn_cast<RankedTensorType>(bound.getType());
    if (!type || type.getRank() != 0 ||
        type.getElementType() != getElementType(*input))
      return node.error() << "expects scalar bounds of the input's element "
                             "type, got "
                          << bound.getType(),
             failure();
    inputs.push_back(bound);
  }
  bool isUnsigned = isUnsignedInteger(getElementType(*input));
  bool hasLo = lo != nullptr, hasHi = hi != nullptr;
  FailureOr<Value> result = buildElementwise(
      node, inputs, getElementType(*input),
      [&](OpBuilder &b, Location loc, ValueRange args) {
        Value x = args[0];
        unsigned next = 1;
        // Comparisons leave NaN in place, as ONNX does.
        if (hasLo) {
          Value bound = args[next++];
          Value below = compare(b, loc, x, bound, arith::CmpFPredicate::OLT,
                                arith::CmpIPredicate::slt,
                                arith::CmpIPredicate::ult, isUnsigned);
          x = arith::SelectOp::create(b, loc, below, bound, x);
        }
        if (hasHi) {
          Value bound = args[next++];
          Value above = compare(b, loc, x, bound, arith::CmpFPredicate::OGT,
                                arith::CmpIPredicate::sgt,
                                arith::CmpIPredicate::ugt, isUnsigned);
          x = arith::SelectOp::create(b, loc, above, bound, x);
        }
        return x;
      });
  if (failed(result))
    return failure();
  return SmallVector<Value>{*result};
}

static FailureOr<SmallVector<Value>> lowerCast(NodeLowering &node) {
  FailureOr<Value> input = node.rankedInput(0);
  if (failed(input))
    return failure();
  FailureOr<Type> toOr = node.outputElementType(0);
  if (failed(toOr))
    return failure();
  Type to = *toOr;
  if (!isa<IntegerType, FloatType>(to))
    return node.error() << "cannot cast to " << to, failure();
  bool fromUnsigned = isUnsignedInteger(getElementType(*input));
  bool toUnsigned = isUnsignedInteger(to);
  Type signlessTo = toSignlessType(to);
  FailureOr<Value> result = buildElementwise(
      node, {*input}, to, [&](OpBuilder &b, Location loc, ValueRange args) {
        return convertScalar(b, loc, args[0], signlessTo, fromUnsigned,
                             toUnsigned);
      });
  if (failed(result))
    return failure();
  return SmallVector<Value>{*result};
}

static FailureOr<SmallVector<Value>> lowerGelu(NodeLowering &node) {
  StringRef approximate = node.stringAttr("approximate", "none");
  if (approximate != "none" && approximate != "tanh")
    return node.error() << "unknown approximate '" << approximate << "'",
           failure();
  return unary(
      [tanh = approximate == "tanh"](OpBuilder &b, Location loc, Value x) {
        return gelu(b, loc, x, tanh);
      })(node);
}

void onnx_lowering::addElementwiseLowerings(LoweringTable &table) {
  auto add = [&](StringRef op, LoweringFn fn) {
    table[loweringKey("", op)] = std::move(fn);
  };
  add("Add", binary([](OpBuilder &b, Location loc, Value x, Value y, bool) {
        return isFloat(x) ? Value(arith::AddFOp::create(b, loc, x, y))
                          : Value(arith::AddIOp::create(b, loc, x, y));
      }));
  add("Sub", binary([](OpBuilder &b, Location loc, Value x, Value y, bool) {
        return isFloat(x) ? Value(arith::SubFOp::create(b, loc, x, y))
                          : Value(arith::SubIOp::create(b, loc, x, y));
      }));
  add("Mul", binary([](OpBuilder &b, Location loc, Value x, Value y, bool) {
        return isFloat(x) ? Value(arith::MulFOp::create(b, loc, x, y))
                          : Value(arith::MulIOp::create(b, loc, x, y));
      }));
  add("Div",
      binary([](OpBuilder &b, Location loc, Value x, Value y, bool isUnsigned) {
        if (isFloat(x))
          return Value(arith::DivFOp::create(b, loc, x, y));
        return isUnsigned ? Value(arith::DivUIOp::create(b, loc, x, y))
                          : Value(arith::DivSIOp::create(b, loc, x, y));
      }));
  add("Pow", lowerPow);
  add("Equal", binary(
                   [](OpBuilder &b, Location loc, Value x, Value y, bool u) {
                     return compare(b, loc, x, y, arith::CmpFPredicate::OEQ,
                                    arith::CmpIPredicate::eq,
                                    arith::CmpIPredicate::eq, u);
                   },
                   /*isComparison=*/true));
  add("Less", binary(
                  [](OpBuilder &b, Location loc, Value x, Value y, bool u) {
                    return compare(b, loc, x, y, arith::CmpFPredicate::OLT,
                                   arith::CmpIPredicate::slt,
                                   arith::CmpIPredicate::ult, u);
                  },
                  true));
  add("LessOrEqual",
      binary(
          [](OpBuilder &b, Location loc, Value x, Value y, bool u) {
            return compare(b, loc, x, y, arith::CmpFPredicate::OLE,
                           arith::CmpIPredicate::sle, arith::CmpIPredicate::ule,
                           u);
          },
          true));
  add("Greater", binary(
                     [](OpBuilder &b, Location loc, Value x, Value y, bool u) {
                       return compare(b, loc, x, y, arith::CmpFPredicate::OGT,
                                      arith::CmpIPredicate::sgt,
                                      arith::CmpIPredicate::ugt, u);
                     },
                     true));
  add("GreaterOrEqual",
      binary(
          [](OpBuilder &b, Location loc, Value x, Value y, bool u) {
            return compare(b, loc, x, y, arith::CmpFPredicate::OGE,
                           arith::CmpIPredicate::sge, arith::CmpIPredicate::uge,
                           u);
          },
          true));
  add("And", binary([](OpBuilder &b, Location loc, Value x, Value y,
                       bool) { return arith::AndIOp::create(b, loc, x, y); },
                    /*isComparison=*/false, /*boolOnly=*/true));
  add("Or", binary([](OpBuilder &b, Location loc, Value x, Value y,
                      bool) { return arith::OrIOp::create(b, loc, x, y); },
                   /*isComparison=*/false, /*boolOnly=*/true));
  add("Xor", binary([](OpBuilder &b, Location loc, Value x, Value y,
                       bool) { return arith::XOrIOp::create(b, loc, x, y); },
                    /*isComparison=*/false, /*boolOnly=*/true));
  add("Max", variadicMinMax(true));
  add("Min", variadicMinMax(false));
  add("Not", unary(
                 [](OpBuilder &b, Location loc, Value x) {
                   return arith::XOrIOp::create(
                       b, loc, x, scalarConstant(b, loc, x.getType(), 1));
                 },
                 Accepts::Bool));
  add("Neg", unary(
                 [](OpBuilder &b, Location loc, Value x) -> Value {
                   if (isFloat(x))
                     return arith::NegFOp::create(b, loc, x);
                   return arith::SubIOp::create(
                       b, loc, scalarConstant(b, loc, x.getType(), 0), x);
                 },
                 Accepts::Numeric));
  add("Abs", unary(
                 [](OpBuilder &b, Location loc, Value x) -> Value {
                   if (isFloat(x))
                     return math::AbsFOp::create(b, loc, x);
                   return math::AbsIOp::create(b, loc, x);
                 },
                 Accepts::Numeric, /*unsignedIdentity=*/true));
  add("Sqrt", unary([](OpBuilder &b, Location loc, Value x) {
        return math::SqrtOp::create(b, loc, x);
      }));
  add("Reciprocal", unary([](OpBuilder &b, Location loc, Value x) {
        return arith::DivFOp::create(b, loc, one(b, loc, x), x);
      }));
  add("Exp", unary([](OpBuilder &b, Location loc, Value x) {
        return math::ExpOp::create(b, loc, x);
      }));
  add("Log", unary([](OpBuilder &b, Location loc, Value x) {
        return math::LogOp::create(b, loc, x);
      }));
  add("Tanh", unary([](OpBuilder &b, Location loc, Value x) {
        return math::TanhOp::create(b, loc, x);
      }));
  add("Erf", unary([](OpBuilder &b, Location loc, Value x) {
        return math::ErfOp::create(b, loc, x);
      }));
  add("Floor", unary([](OpBuilder &b, Location loc, Value x) {
        return math::FloorOp::create(b, loc, x);
      }));
  add("Ceil", unary([](OpBuilder &b, Location loc, Value x) {
        return math::CeilOp::create(b, loc, x);
      }));
  add("Sigmoid", unary(sigmoid));
  add("Relu", unary(
                  [](OpBuilder &b, Location loc, Value x) -> Value {
                    Value zero = scalarConstant(b, loc, x.getType(), 0);
                    Value negative =
                        isFloat(x)
                            ? Value(arith::CmpFOp::create(
                                  b, loc, arith::CmpFPredicate::OLT, x, zero))
                            : Value(arith::CmpIOp::create(
                                  b, loc, arith::CmpIPredicate::slt, x, zero));
                    return arith::SelectOp::create(b, loc, negative, zero, x);
                  },
                  Accepts::Numeric, true));
  add("Gelu", lowerGelu);
  add("Where", lowerWhere);
  add("Clip", lowerClip);
  add("Cast", lowerCast);
}
