//===- QuantizeWeights.cpp - Round-to-nearest expert weights --------------===//
//
// Quantizes each float [E, N, K] expert weight as E * N rows of K and
// replaces it by a moe.packed_weight of the codes, scales and zero points,
// written the way the float weight was (store blobs or constants).
//
//===----------------------------------------------------------------------===//

#include "passes/Quant/Passes.h"

#include "passes/Quant/QuantScheme.h"
#include "passes/Sparsity/ExpertLayers.h"
#include "passes/Sparsity/ExpertWeights.h"

#include "dialects/moe/IR/MoeOps.h"
#include "dialects/moe/IR/WeightFiles.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstring>

namespace moec {
#define GEN_PASS_DEF_MOEQUANTIZEWEIGHTS
#include "passes/Quant/Passes.h.inc"
} // namespace moec

using namespace mlir;
using namespace moec;

/// The weight's elements as floats; f32, f16 and bf16 are read.
static std::optional<std::vector<float>> readFloats(ArrayRef<uint8_t> bytes,
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

template <typename T>
static std::vector<uint8_t> toBytes(const std::vector<T> &values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(T));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

namespace {
struct MoeQuantizeWeightsPass
    : public moec::impl::MoeQuantizeWeightsBase<MoeQuantizeWeightsPass> {
  using Base::Base;

  /// The packed replacement of `weight`; `weight` itself when it is
  /// already packed or absent.
  FailureOr<Value> quantize(OpBuilder &b, Value weight, StringRef role,
                            int64_t layer, const QuantScheme &quant,
                            Operation *user) {
    auto type = dyn_cast_if_present<RankedTensorType>(weight ? weight.getType()
                                                             : Type());
    if (!type)
      return weight;
    int64_t experts = type.getDimSize(0), n = type.getDimSize(1),
            k = type.getDimSize(2);
    if (quant.bits == 4 && k % 2 != 0)
      return user->emitOpError("cannot pack ")
             << role << " weight " << type
             << " as int4: K must be even (two codes per byte)";
    // GPT-OSS stores [E, K, N] and the importer transposes: quantize the
    // transpose of the stored weight.
    Value source = weight;
    auto transpose = weight.getDefiningOp<linalg::TransposeOp>();
    bool transposed =
        transpose && transpose.getPermutation() == ArrayRef<int64_t>{0, 2, 1};
    if (transposed)
      source = transpose.getInput();
    FailureOr<WeightData> data = readWeight(source, user);
    if (failed(data))
      return failure();
    std::optional<std::vector<float>> values =
        readFloats(data->bytes(), type.getElementType());
    if (!values || int64_t(values->size()) != type.getNumElements())
      return user->emitOpError("cannot read the ")
             << role << " weight " << type << " as floats";
    if (transposed) {
      std::vector<float> rows(values->size());
      for (int64_t e = 0; e < experts; ++e)
        for (int64_t kk = 0; kk < k; ++kk)
          for (int64_t col = 0; col < n; ++col)
            rows[(e * n + col) * k + kk] = (*values)[(e * k + kk) * n + col];
      values = std::move(rows);
    }
    QuantizedMatrix q = quantizeMatrix(*values, experts * n, k, quant);

    MLIRContext *ctx = b.getContext();
    int64_t group = quant.groupFor(k);
    int64_t groups = (k + group - 1) / group;
    Type scaleType = quant.halfScales() ? Type(Float16Type::get(ctx))
                                        : Type(Float32Type::get(ctx));
    Type codeType = quant.asymmetric
                        ? IntegerType::get(ctx, 8, IntegerType::Unsigned)
                        : IntegerType::get(ctx, 8);
    moe::PackedFormat format =
        quant.bits == 8 ? (quant.asymmetric ? moe::PackedFormat::Uint8
                                            : moe::PackedFormat::Sint8)
                        : (quant.asymmetric ? moe::PackedFormat::Uint4
                                            : moe::PackedFormat::Sint4);
    Type zeroType = quant.asymmetric
                        ? IntegerType::get(ctx, 8, IntegerType::Unsigned)
                        : Type();
    auto packing = moe::PackingAttr::get(ctx, format, {1, 1, group}, scaleType,
                                         zeroType, moe::PackingOrder::LowFirst);
    auto packedType = moe::PackedType::get(ctx, type, packing);
    Location loc = weight.getLoc();
    auto codesType =
        RankedTensorType::get(packedType.getPackedShape(), codeType);
    auto scalesType = RankedTensorType::get({experts, n, groups}, scaleType);
    Value codes = writeWeight(b, loc, *data, codesType, std::move(q.data),
                              "q" + std::to_string(quant.bits));
    Value scales = writeWeight(b, loc, *data, scalesType,
                               quant.halfScales() ? toBytes(q.halfScales)
                                                  : toBytes(q.floatScales),
                               "scales");
    Value zeroPoints;
    if (quant.asymmetric)
      zeroPoints = writeWeight(
          b, loc, *data, RankedTensorType::get({experts, n, groups}, zeroType),
          std::move(q.zeroPoints), "zero_points");
    Value packed = moe::PackedWeightOp::create(b, loc, packedType, codes,
                                               scales, zeroPoints);
    if (report) {
      int64_t before = weightBytes(weight), after = weightBytes(packed);
      reportLine("moe-quantize-weights",
                 llvm::formatv("layer {0} {1} {2}: {3} -> {4}, SQNR {5:f1} dB",
                               layer, role, quant.str(), formatBytes(before),
                               formatBytes(after), q.sqnrDb()));
    }
    return packed;
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::optional<QuantScheme> quant = QuantScheme::parse(scheme);
    if (!quant) {
      module.emitError("moe-quantize-weights: unknown scheme '")
          << scheme
          << "' (expected int8, int4-g32, int4-g64 or int4-g128, "
             "optionally followed by ,asym)";
      return signalPassFailure();
    }
    int64_t saved = 0;
    for (const MoeLayer &layer : collectMoeLayers(module)) {
      moe::ExpertsOp experts = layer.experts;
      OpBuilder b(experts);
      int64_t before = expertBytes(experts);
      struct Role {
        OpOperand *operand;
        StringRef name;
      };
      SmallVector<Role> roles;
      auto add = [&](MutableOperandRange range, StringRef name) {
        if (!range.empty())
          roles.push_back({&range[0], name});
      };
      add(experts.getGateUpMutable(), "gate_up");
      add(experts.getGateMutable(), "gate");
      add(experts.getUpMutable(), "up");
      add(experts.getDownMutable(), "down");
      for (Role role : roles) {
        FailureOr<Value> packed = quantize(b, role.operand->get(), role.name,
                                           layer.index, *quant, experts);
        if (failed(packed))
          return signalPassFailure();
        role.operand->set(*packed);
      }
      saved += before - expertBytes(experts);
    }
    if (report)
      reportLine("moe-quantize-weights",
                 "expert weights " + formatBytes(saved) + " smaller");
  }
};
} // namespace
