//===- MoeAttrs.cpp - moe dialect enums and attributes --------------------===//

#include "dialects/moe/IR/MoeAttrs.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace moec::moe;

#include "dialects/moe/IR/MoeEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/moe/IR/MoeAttrs.cpp.inc"

void MoeDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/moe/IR/MoeAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// GroupLimitAttr
//===----------------------------------------------------------------------===//

LogicalResult
GroupLimitAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                       int64_t nGroup, int64_t topkGroup, GroupScore,
                       FloatAttr fill) {
  if (nGroup < 1)
    return emitError() << "n_group must be positive, got " << nGroup;
  if (topkGroup < 1 || topkGroup > nGroup)
    return emitError() << "topk_group must be in [1, n_group = " << nGroup
                       << "], got " << topkGroup;
  if (fill && !std::isfinite(fill.getValueAsDouble()))
    return emitError() << "fill must be finite (dropped groups are "
                          "ineligible without it)";
  return success();
}

//===----------------------------------------------------------------------===//
// ActivationAttr
//===----------------------------------------------------------------------===//

static bool isOne(const APFloat &value) { return value.isExactlyValue(1.0); }
static bool isZero(const APFloat &value) { return value.isZero(); }

LogicalResult
ActivationAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                       ActivationKind kind, APFloat alpha, APFloat beta,
                       std::optional<APFloat> limit) {
  bool hasParameters = !isOne(alpha) || !isZero(beta) || limit.has_value();
  if (kind != ActivationKind::Swiglu && hasParameters)
    return emitError() << "alpha, beta and limit apply only to swiglu, not "
                       << stringifyActivationKind(kind);
  if (!alpha.isFinite() || !beta.isFinite())
    return emitError() << "swiglu alpha and beta must be finite";
  if (limit && (!limit->isFinite() || limit->isNegative() || limit->isZero()))
    return emitError() << "swiglu limit must be positive and finite";
  return success();
}

bool ActivationAttr::isGated() const {
  return getKind() == ActivationKind::SiluGated ||
         getKind() == ActivationKind::Swiglu;
}

ActivationAttr ActivationAttr::getCanonical() const {
  if (getKind() == ActivationKind::Swiglu && isOne(getAlpha()) &&
      isZero(getBeta()) && !getLimit())
    return ActivationAttr::get(getContext(), ActivationKind::SiluGated);
  return *this;
}

/// Parses one `name = value` activation parameter.
static ParseResult parseActivationParameter(AsmParser &parser,
                                            llvm::StringSet<> &seen,
                                            APFloat &alpha, APFloat &beta,
                                            std::optional<APFloat> &limit) {
  SMLoc nameLoc = parser.getCurrentLocation();
  StringRef name;
  double value;
  if (parser.parseKeyword(&name) || parser.parseEqual() ||
      parser.parseFloat(value))
    return failure();
  if (!seen.insert(name).second)
    return parser.emitError(nameLoc, "duplicate activation parameter '")
           << name << "'";
  if (name == "alpha")
    alpha = APFloat(value);
  else if (name == "beta")
    beta = APFloat(value);
  else if (name == "limit")
    limit = APFloat(value);
  else
    return parser.emitError(nameLoc, "unknown activation parameter '")
           << name << "'; expected alpha, beta or limit";
  return success();
}

/// Parses `kind` then, when `parametersInBrackets`, an optional
/// `<p = v, ...>`; otherwise an optional `, p = v, ...` list.
static ActivationAttr parseActivation(AsmParser &parser,
                                      bool parametersInBrackets) {
  SMLoc loc = parser.getCurrentLocation();
  StringRef keyword;
  if (parser.parseKeyword(&keyword))
    return {};
  std::optional<ActivationKind> kind = symbolizeActivationKind(keyword);
  if (!kind) {
    parser.emitError(loc, "unknown activation '") << keyword << "'";
    return {};
  }
  APFloat alpha(1.0), beta(0.0);
  std::optional<APFloat> limit;
  llvm::StringSet<> seen;
  auto parseOne = [&]() -> ParseResult {
    return parseActivationParameter(parser, seen, alpha, beta, limit);
  };
  if (parametersInBrackets) {
    if (succeeded(parser.parseOptionalLess()) &&
        (parser.parseCommaSeparatedList(parseOne) || parser.parseGreater()))
      return {};
  } else {
    while (succeeded(parser.parseOptionalComma()))
      if (failed(parseOne()))
        return {};
  }
  return ActivationAttr::getChecked([&] { return parser.emitError(loc); },
                                    parser.getContext(), *kind, alpha, beta,
                                    limit);
}

/// Prints the parameters that differ from their defaults, each preceded by
/// `separator` except the first, which `first` precedes.
static void printActivationParameters(AsmPrinter &printer,
                                      ActivationAttr attr, StringRef first,
                                      StringRef separator) {
  StringRef next = first;
  auto print = [&](StringRef name, const APFloat &value) {
    printer << next << name << " = ";
    printer.printFloat(value);
    next = separator;
  };
  if (!isOne(attr.getAlpha()))
    print("alpha", attr.getAlpha());
  if (!isZero(attr.getBeta()))
    print("beta", attr.getBeta());
  if (attr.getLimit())
    print("limit", *attr.getLimit());
}

Attribute ActivationAttr::parse(AsmParser &parser, Type) {
  ActivationAttr attr;
  if (parser.parseLess() ||
      !(attr = parseActivation(parser, /*parametersInBrackets=*/false)) ||
      parser.parseGreater())
    return {};
  return attr;
}

void ActivationAttr::print(AsmPrinter &printer) const {
  printer << '<' << stringifyActivationKind(getKind());
  printActivationParameters(printer, *this, ", ", ", ");
  printer << '>';
}

ActivationAttr ActivationAttr::parseInline(AsmParser &parser) {
  return parseActivation(parser, /*parametersInBrackets=*/true);
}

void ActivationAttr::printInline(AsmPrinter &printer) const {
  printer << stringifyActivationKind(getKind());
  bool hasParameters =
      !isOne(getAlpha()) || !isZero(getBeta()) || getLimit().has_value();
  if (!hasParameters)
    return;
  printActivationParameters(printer, *this, "<", ", ");
  printer << '>';
}

//===----------------------------------------------------------------------===//
// PackingAttr
//===----------------------------------------------------------------------===//

unsigned PackingAttr::getBits() const {
  switch (getFormat()) {
  case PackedFormat::Sint2:
  case PackedFormat::Uint2:
    return 2;
  case PackedFormat::Sint4:
  case PackedFormat::Uint4:
  case PackedFormat::E2M1:
    return 4;
  case PackedFormat::Sint8:
  case PackedFormat::Uint8:
  case PackedFormat::E4M3FN:
  case PackedFormat::E5M2:
    return 8;
  }
  llvm_unreachable("unknown packed format");
}

bool PackingAttr::isIntegerFormat() const {
  return getFormat() != PackedFormat::E2M1 &&
         getFormat() != PackedFormat::E4M3FN &&
         getFormat() != PackedFormat::E5M2;
}

// `<format, block = [b0, ...], scale = T (, zero_point = T)? (, order = O)?>`
Attribute PackingAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  StringRef formatName;
  SmallVector<int64_t> block;
  Type scale, zeroPoint;
  PackingOrder order = PackingOrder::LowFirst;
  if (parser.parseLess() || parser.parseKeyword(&formatName))
    return {};
  std::optional<PackedFormat> format = symbolizePackedFormat(formatName);
  if (!format) {
    parser.emitError(loc, "unknown packed format '") << formatName << "'";
    return {};
  }
  auto parseBlockSize = [&]() -> ParseResult {
    return parser.parseInteger(block.emplace_back());
  };
  if (parser.parseComma() || parser.parseKeyword("block") ||
      parser.parseEqual() ||
      parser.parseCommaSeparatedList(AsmParser::Delimiter::Square,
                                     parseBlockSize) ||
      parser.parseComma() || parser.parseKeyword("scale") ||
      parser.parseEqual() || parser.parseType(scale))
    return {};
  while (succeeded(parser.parseOptionalComma())) {
    SMLoc keyLoc = parser.getCurrentLocation();
    if (succeeded(parser.parseOptionalKeyword("zero_point"))) {
      if (zeroPoint || parser.parseEqual() || parser.parseType(zeroPoint)) {
        if (zeroPoint)
          parser.emitError(keyLoc, "duplicate zero_point");
        return {};
      }
      continue;
    }
    StringRef orderName;
    if (parser.parseKeyword("order", "or 'zero_point'") ||
        parser.parseEqual() || parser.parseKeyword(&orderName))
      return {};
    std::optional<PackingOrder> parsed = symbolizePackingOrder(orderName);
    if (!parsed) {
      parser.emitError(keyLoc, "unknown packing order '") << orderName << "'";
      return {};
    }
    order = *parsed;
  }
  if (parser.parseGreater())
    return {};
  return getChecked([&] { return parser.emitError(loc); },
                    parser.getContext(), *format, block, scale, zeroPoint,
                    order);
}

void PackingAttr::print(AsmPrinter &printer) const {
  printer << '<' << stringifyPackedFormat(getFormat()) << ", block = [";
  llvm::interleaveComma(getBlock(), printer);
  printer << "], scale = " << getScale();
  if (getZeroPoint())
    printer << ", zero_point = " << getZeroPoint();
  if (getOrder() != PackingOrder::LowFirst)
    printer << ", order = " << stringifyPackingOrder(getOrder());
  printer << '>';
}

LogicalResult
PackingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                    PackedFormat format, ArrayRef<int64_t> block, Type scale,
                    Type zeroPoint, PackingOrder order) {
  if (block.empty())
    return emitError() << "block needs one entry per weight dimension";
  for (int64_t size : block)
    if (size < 1)
      return emitError() << "block sizes must be positive, got " << size;
  if (!isa<Float32Type, Float16Type, BFloat16Type, Float8E8M0FNUType>(scale))
    return emitError() << "scale type must be f32, f16, bf16 or f8E8M0FNU, got "
                       << scale;
  bool isFloatFormat = format == PackedFormat::E2M1 ||
                       format == PackedFormat::E4M3FN ||
                       format == PackedFormat::E5M2;
  if (zeroPoint) {
    if (isFloatFormat)
      return emitError() << "float format " << stringifyPackedFormat(format)
                         << " takes no zero point";
    if (!isa<IntegerType, FloatType>(zeroPoint))
      return emitError() << "zero point type must be an integer or float "
                            "type, got "
                         << zeroPoint;
  }
  bool isByteFormat = format == PackedFormat::Sint8 ||
                      format == PackedFormat::Uint8 ||
                      format == PackedFormat::E4M3FN ||
                      format == PackedFormat::E5M2;
  if (isByteFormat && order != PackingOrder::LowFirst)
    return emitError() << "order applies only to sub-byte formats, not "
                       << stringifyPackedFormat(format);
  return success();
}
