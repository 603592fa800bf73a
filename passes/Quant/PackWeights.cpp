//===- PackWeights.cpp - Float weights to moe.packed_weight ---------------===//

#include "passes/Quant/PackWeights.h"

#include "dialects/moe/IR/MoeOps.h"

using namespace mlir;
using namespace moec;

FailureOr<std::optional<QuantScheme>>
moec::parseSchemeOption(Operation *module, StringRef pass, StringRef scheme) {
  if (scheme.empty())
    return std::optional<QuantScheme>();
  std::optional<QuantScheme> parsed = QuantScheme::parse(scheme);
  if (!parsed)
    return module->emitError(pass)
           << ": unknown scheme '" << scheme
           << "' (expected int8, int4-g32, int4-g64 or int4-g128, "
              "optionally followed by ,asym)";
  return parsed;
}

std::optional<std::vector<float>> moec::readFloats(ArrayRef<uint8_t> bytes,
                                                   Type element) {
  std::vector<float> values;
  if (element.isF32()) {
    values.resize(bytes.size() / 4);
    std::memcpy(values.data(), bytes.data(), values.size() * 4);
    return values;
  }
  if (!element.isF16() && !element.isBF16())
    return std::nullopt;
  values.resize(bytes.size() / 2);
  for (size_t i = 0; i < values.size(); ++i) {
    uint16_t bits;
    std::memcpy(&bits, bytes.data() + 2 * i, 2);
    if (element.isF16()) {
      values[i] = halfToFloat(bits);
    } else {
      uint32_t wide = uint32_t(bits) << 16;
      std::memcpy(&values[i], &wide, 4);
    }
  }
  return values;
}

Value moec::packWeight(OpBuilder &b, Location loc, const WeightData &source,
                       ArrayRef<float> values, int64_t experts, int64_t n,
                       int64_t k, Type element, const QuantScheme &scheme,
                       QuantizedMatrix &quantized) {
  quantized = quantizeMatrix(values, experts * n, k, scheme);
  MLIRContext *ctx = b.getContext();
  int64_t group = scheme.groupFor(k);
  int64_t groups = (k + group - 1) / group;
  Type scaleType = scheme.halfScales() ? Type(Float16Type::get(ctx))
                                       : Type(Float32Type::get(ctx));
  Type codeType = scheme.asymmetric
                      ? IntegerType::get(ctx, 8, IntegerType::Unsigned)
                      : IntegerType::get(ctx, 8);
  moe::PackedFormat format =
      scheme.bits == 8 ? (scheme.asymmetric ? moe::PackedFormat::Uint8
                                            : moe::PackedFormat::Sint8)
                       : (scheme.asymmetric ? moe::PackedFormat::Uint4
                                            : moe::PackedFormat::Sint4);
  Type zeroType = scheme.asymmetric
                      ? IntegerType::get(ctx, 8, IntegerType::Unsigned)
                      : Type();
  auto packing = moe::PackingAttr::get(ctx, format, {1, 1, group}, scaleType,
                                       zeroType, moe::PackingOrder::LowFirst);
  auto type = RankedTensorType::get({experts, n, k}, element);
  auto packedType = moe::PackedType::get(ctx, type, packing);
  auto codesType = RankedTensorType::get(packedType.getPackedShape(), codeType);
  auto scalesType = RankedTensorType::get({experts, n, groups}, scaleType);
  Value codes =
      writeWeight(b, loc, source, codesType, std::move(quantized.data),
                  "q" + std::to_string(scheme.bits));
  Value scales =
      writeWeight(b, loc, source, scalesType,
                  scheme.halfScales() ? toBytes(quantized.halfScales)
                                      : toBytes(quantized.floatScales),
                  "scales");
  Value zeroPoints;
  if (scheme.asymmetric)
    zeroPoints = writeWeight(
        b, loc, source, RankedTensorType::get({experts, n, groups}, zeroType),
        std::move(quantized.zeroPoints), "zero_points");
  return moe::PackedWeightOp::create(b, loc, packedType, codes, scales,
                                     zeroPoints);
}
