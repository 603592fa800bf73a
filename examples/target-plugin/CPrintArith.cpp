//===- CPrintArith.cpp - arith and math ops as C expressions --------------===//

#include "CPrinter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace moec::c;

static const char *cmpIOperator(arith::CmpIPredicate p) {
  using P = arith::CmpIPredicate;
  switch (p) {
  case P::eq:
    return "==";
  case P::ne:
    return "!=";
  case P::slt:
  case P::ult:
    return "<";
  case P::sle:
  case P::ule:
    return "<=";
  case P::sgt:
  case P::ugt:
    return ">";
  case P::sge:
  case P::uge:
    return ">=";
  }
  return "==";
}

/// A comparison of floats a and b; the unordered forms are the negations of
/// the ordered ones, since C's <, <=, >, >= and == are false on NaN.
static std::string cmpFExpression(arith::CmpFPredicate p, const std::string &a,
                                  const std::string &b) {
  using P = arith::CmpFPredicate;
  switch (p) {
  case P::AlwaysFalse:
    return "false";
  case P::AlwaysTrue:
    return "true";
  case P::OEQ:
    return a + " == " + b;
  case P::OGT:
    return a + " > " + b;
  case P::OGE:
    return a + " >= " + b;
  case P::OLT:
    return a + " < " + b;
  case P::OLE:
    return a + " <= " + b;
  case P::ONE:
    return "(" + a + " < " + b + " || " + a + " > " + b + ")";
  case P::ORD:
    return "(" + a + " == " + a + " && " + b + " == " + b + ")";
  case P::UEQ:
    return "!(" + a + " < " + b + " || " + a + " > " + b + ")";
  case P::UGT:
    return "!(" + a + " <= " + b + ")";
  case P::UGE:
    return "!(" + a + " < " + b + ")";
  case P::ULT:
    return "!(" + a + " >= " + b + ")";
  case P::ULE:
    return "!(" + a + " > " + b + ")";
  case P::UNE:
    return a + " != " + b;
  case P::UNO:
    return "(" + a + " != " + a + " || " + b + " != " + b + ")";
  }
  return "false";
}

static bool isUnsignedPredicate(arith::CmpIPredicate p) {
  using P = arith::CmpIPredicate;
  return p == P::ult || p == P::ule || p == P::ugt || p == P::uge;
}

bool CPrinter::printArith(Operation *op) {
  if (!isa_and_nonnull<arith::ArithDialect>(op->getDialect()))
    return false;
  if (auto constant = dyn_cast<arith::ConstantOp>(op)) {
    define(op, constant.getResult(),
           attributeLiteral(op, constant.getValue(), constant.getType()));
    return true;
  }
  Value result = op->getNumResults() == 1 ? op->getResult(0) : Value();
  if (!result) {
    fail(op, "the op " + op->getName().getStringRef().str());
    return true;
  }
  Type t = result.getType();
  std::string resultType = type(op, t);
  auto operand = [&](unsigned i) { return op->getOperand(i); };

  // Integer arithmetic: wraps, so it is computed unsigned and converted.
  StringRef wrapping =
      llvm::StringSwitch<StringRef>(op->getName().getStringRef())
          .Case("arith.addi", "+")
          .Case("arith.subi", "-")
          .Case("arith.muli", "*")
          .Case("arith.andi", "&")
          .Case("arith.ori", "|")
          .Case("arith.xori", "^")
          .Case("arith.divui", "/")
          .Case("arith.remui", "%")
          .Case("arith.shli", "<<")
          .Case("arith.shrui", ">>")
          .Default("");
  if (!wrapping.empty()) {
    if (t.isInteger(1)) {
      // On i1, + and - are exclusive or, * is and.
      StringRef logical = wrapping == "+" || wrapping == "-" ? "^"
                          : wrapping == "*"                  ? "&"
                                                             : wrapping;
      if (logical != "&" && logical != "|" && logical != "^") {
        fail(op, "the op " + op->getName().getStringRef().str() + " on i1");
        return true;
      }
      define(op, result,
             "(bool)(" + name(operand(0)) + " " + logical.str() + " " +
                 name(operand(1)) + ")");
      return true;
    }
    // Zero-extended to at least 32 bits.
    std::string u = unsignedType(op, t);
    auto wide = [&](Value v) {
      std::string bits = asUnsigned(op, v);
      return StringRef(bits).starts_with("(" + u + ")") ? bits
                                                        : "(" + u + ")" + bits;
    };
    define(op, result,
           "(" + resultType + ")(" + wide(operand(0)) + " " + wrapping.str() +
               " " + wide(operand(1)) + ")");
    return true;
  }
  std::string expression =
      llvm::TypeSwitch<Operation *, std::string>(op)
          .Case([&](arith::DivSIOp) {
            return name(operand(0)) + " / " + name(operand(1));
          })
          .Case([&](arith::RemSIOp) {
            return name(operand(0)) + " % " + name(operand(1));
          })
          .Case([&](arith::ShRSIOp) {
            return "(" + resultType + ")(" + asSigned(operand(0)) + " >> " +
                   asUnsigned(op, operand(1)) + ")";
          })
          .Case([&](arith::MaxSIOp) {
            return asSigned(operand(0)) + " > " + asSigned(operand(1)) + " ? " +
                   name(operand(0)) + " : " + name(operand(1));
          })
          .Case([&](arith::MinSIOp) {
            return asSigned(operand(0)) + " < " + asSigned(operand(1)) + " ? " +
                   name(operand(0)) + " : " + name(operand(1));
          })
          .Case([&](arith::MaxUIOp) {
            return asUnsigned(op, operand(0)) + " > " +
                   asUnsigned(op, operand(1)) + " ? " + name(operand(0)) +
                   " : " + name(operand(1));
          })
          .Case([&](arith::MinUIOp) {
            return asUnsigned(op, operand(0)) + " < " +
                   asUnsigned(op, operand(1)) + " ? " + name(operand(0)) +
                   " : " + name(operand(1));
          })
          .Case([&](arith::CmpIOp cmp) {
            bool isUnsigned = isUnsignedPredicate(cmp.getPredicate());
            auto side = [&](Value v) {
              return isUnsigned ? asUnsigned(op, v) : asSigned(v);
            };
            return side(cmp.getLhs()) + " " + cmpIOperator(cmp.getPredicate()) +
                   " " + side(cmp.getRhs());
          })
          .Case([&](arith::CmpFOp cmp) {
            return cmpFExpression(cmp.getPredicate(), asFloat(cmp.getLhs()),
                                  asFloat(cmp.getRhs()));
          })
          .Case([&](arith::SelectOp select) {
            return name(select.getCondition()) + " ? " +
                   name(select.getTrueValue()) + " : " +
                   name(select.getFalseValue());
          })
          // Floats.
          .Case([&](arith::AddFOp) {
            return fromFloat(t,
                             asFloat(operand(0)) + " + " + asFloat(operand(1)));
          })
          .Case([&](arith::SubFOp) {
            return fromFloat(t,
                             asFloat(operand(0)) + " - " + asFloat(operand(1)));
          })
          .Case([&](arith::MulFOp) {
            return fromFloat(t,
                             asFloat(operand(0)) + " * " + asFloat(operand(1)));
          })
          .Case([&](arith::DivFOp) {
            return fromFloat(t,
                             asFloat(operand(0)) + " / " + asFloat(operand(1)));
          })
          .Case([&](arith::NegFOp) {
            return fromFloat(t, "-" + asFloat(operand(0)));
          })
          .Case([&](arith::RemFOp) {
            return fromFloat(t, std::string(t.isF64() ? "fmod" : "fmodf") +
                                    "(" + asFloat(operand(0)) + ", " +
                                    asFloat(operand(1)) + ")");
          })
          .Case([&](arith::MaximumFOp) {
            return fromFloat(
                t, std::string(t.isF64() ? "moec_maximum" : "moec_maximumf") +
                       "(" + asFloat(operand(0)) + ", " + asFloat(operand(1)) +
                       ")");
          })
          .Case([&](arith::MinimumFOp) {
            return fromFloat(
                t, std::string(t.isF64() ? "moec_minimum" : "moec_minimumf") +
                       "(" + asFloat(operand(0)) + ", " + asFloat(operand(1)) +
                       ")");
          })
          .Case([&](arith::MaxNumFOp) {
            return fromFloat(t, std::string(t.isF64() ? "fmax" : "fmaxf") +
                                    "(" + asFloat(operand(0)) + ", " +
                                    asFloat(operand(1)) + ")");
          })
          .Case([&](arith::MinNumFOp) {
            return fromFloat(t, std::string(t.isF64() ? "fmin" : "fminf") +
                                    "(" + asFloat(operand(0)) + ", " +
                                    asFloat(operand(1)) + ")");
          })
          // Conversions.
          .Case<arith::IndexCastOp, arith::ExtSIOp>([&](Operation *) {
            return "(" + resultType + ")" + asSigned(operand(0));
          })
          .Case([&](arith::FPToSIOp) {
            return "(" + resultType + ")" + asFloat(operand(0));
          })
          .Case<arith::IndexCastUIOp, arith::ExtUIOp>([&](Operation *) {
            return "(" + resultType + ")" + asUnsigned(op, operand(0));
          })
          .Case([&](arith::TruncIOp) {
            if (t.isInteger(1))
              return "(bool)(" + name(operand(0)) + " & 1)";
            return "(" + resultType + ")" + name(operand(0));
          })
          .Case([&](arith::SIToFPOp) {
            return fromFloat(t,
                             std::string(t.isF64() ? "(double)" : "(float)") +
                                 asSigned(operand(0)));
          })
          .Case([&](arith::UIToFPOp) {
            return fromFloat(t,
                             std::string(t.isF64() ? "(double)" : "(float)") +
                                 asUnsigned(op, operand(0)));
          })
          .Case([&](arith::FPToUIOp) {
            return "(" + resultType + ")(" + unsignedType(op, t) + ")" +
                   asFloat(operand(0));
          })
          .Case<arith::ExtFOp, arith::TruncFOp>([&](Operation *) {
            std::string cast = t.isF64() ? "(double)" : "(float)";
            return fromFloat(t, cast + asFloat(operand(0)));
          })
          .Case([&](arith::BitcastOp) -> std::string {
            Type from = operand(0).getType();
            if (isFloat16(from) || isFloat16(t) ||
                (isa<IntegerType>(from) && isa<IntegerType>(t)))
              return "(" + resultType + ")" + name(operand(0));
            // Between a float and an integer of its width: the bits.
            std::string bits = fresh();
            line() << resultType << " " << bits << ";\n";
            line() << "memcpy(&" << bits << ", &" << name(operand(0))
                   << ", sizeof " << bits << ");\n";
            return bits;
          })
          .Default([&](Operation *o) {
            fail(o, "the op " + o->getName().getStringRef().str());
            return std::string("0");
          });
  define(op, result, expression);
  return true;
}

/// Calls of C's <math.h>: the name for double (float adds "f").
static StringRef libmName(StringRef op) {
  return llvm::StringSwitch<StringRef>(op)
      .Case("math.absf", "fabs")
      .Case("math.acos", "acos")
      .Case("math.acosh", "acosh")
      .Case("math.asin", "asin")
      .Case("math.asinh", "asinh")
      .Case("math.atan", "atan")
      .Case("math.atan2", "atan2")
      .Case("math.atanh", "atanh")
      .Case("math.cbrt", "cbrt")
      .Case("math.ceil", "ceil")
      .Case("math.copysign", "copysign")
      .Case("math.cos", "cos")
      .Case("math.cosh", "cosh")
      .Case("math.erf", "erf")
      .Case("math.erfc", "erfc")
      .Case("math.exp", "exp")
      .Case("math.exp2", "exp2")
      .Case("math.expm1", "expm1")
      .Case("math.floor", "floor")
      .Case("math.fma", "fma")
      .Case("math.log", "log")
      .Case("math.log10", "log10")
      .Case("math.log1p", "log1p")
      .Case("math.log2", "log2")
      .Case("math.powf", "pow")
      .Case("math.round", "round")
      .Case("math.roundeven", "rint")
      .Case("math.sin", "sin")
      .Case("math.sinh", "sinh")
      .Case("math.sqrt", "sqrt")
      .Case("math.tan", "tan")
      .Case("math.tanh", "tanh")
      .Case("math.trunc", "trunc")
      .Default("");
}

bool CPrinter::printMath(Operation *op) {
  StringRef opName = op->getName().getStringRef();
  if (!opName.starts_with("math."))
    return false;
  if (op->getNumResults() != 1) {
    fail(op, "the op " + opName.str());
    return true;
  }
  Value result = op->getResult(0);
  Type t = result.getType();
  SmallVector<std::string> operands;
  for (Value v : op->getOperands())
    operands.push_back(asFloat(v));
  std::string suffix = t.isF64() ? "" : "f";
  std::string call;
  if (StringRef base = libmName(opName); !base.empty() && isa<FloatType>(t))
    call = fromFloat(t, base.str() + suffix + "(" + llvm::join(operands, ", ") +
                            ")");
  else if (opName == "math.rsqrt" && isa<FloatType>(t))
    call = fromFloat(t, (t.isF64() ? "1.0 / sqrt(" : "1.0f / sqrtf(") +
                            operands[0] + ")");
  else if (opName == "math.isnan")
    call = "isnan(" + operands[0] + ")";
  else if (opName == "math.isinf")
    call = "isinf(" + operands[0] + ")";
  else if (opName == "math.isfinite")
    call = "isfinite(" + operands[0] + ")";
  else if (opName == "math.absi")
    call = "(" + type(op, t) + ")(" + name(op->getOperand(0)) + " < 0 ? -(" +
           unsignedType(op, t) + ")" + name(op->getOperand(0)) + " : (" +
           unsignedType(op, t) + ")" + name(op->getOperand(0)) + ")";
  else {
    fail(op, "the op " + opName.str());
    return true;
  }
  define(op, result, call);
  return true;
}
