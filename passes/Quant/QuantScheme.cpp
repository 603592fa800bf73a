//===- QuantScheme.cpp - Round-to-nearest weight quantization -------------===//

#include "passes/Quant/QuantScheme.h"

#include "llvm/ADT/APFloat.h"
#include "llvm/Support/Parallel.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace moec;

std::optional<QuantScheme> QuantScheme::parse(llvm::StringRef text) {
  QuantScheme scheme;
  auto [name, rest] = text.split(',');
  if (!rest.empty()) {
    if (rest != "asym")
      return std::nullopt;
    scheme.asymmetric = true;
  }
  if (name == "int8") {
    scheme.bits = 8;
    scheme.group = 0;
    return scheme;
  }
  int64_t group;
  if (!name.consume_front("int4-g") || name.getAsInteger(10, group) ||
      (group != 32 && group != 64 && group != 128))
    return std::nullopt;
  scheme.bits = 4;
  scheme.group = group;
  return scheme;
}

std::string QuantScheme::str() const {
  std::string text = bits == 8 ? "int8" : "int4-g" + std::to_string(group);
  return asymmetric ? text + ",asym" : text;
}

double QuantizedMatrix::sqnrDb() const {
  if (noisePower == 0)
    return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signalPower / noisePower);
}

uint16_t moec::floatToHalf(float value) {
  llvm::APFloat half(value);
  bool losesInfo;
  half.convert(llvm::APFloat::IEEEhalf(), llvm::APFloat::rmNearestTiesToEven,
               &losesInfo);
  return uint16_t(half.bitcastToAPInt().getZExtValue());
}

float moec::halfToFloat(uint16_t bits) {
  llvm::APFloat half(llvm::APFloat::IEEEhalf(), llvm::APInt(16, bits));
  bool losesInfo;
  half.convert(llvm::APFloat::IEEEsingle(), llvm::APFloat::rmNearestTiesToEven,
               &losesInfo);
  return half.convertToFloat();
}

QuantizedMatrix moec::quantizeMatrix(llvm::ArrayRef<float> values, int64_t rows,
                                     int64_t k, const QuantScheme &scheme,
                                     llvm::ArrayRef<double> columnWeights) {
  int64_t group = scheme.groupFor(k);
  int64_t groups = (k + group - 1) / group;
  int64_t rowBytes = k * scheme.bits / 8;
  QuantizedMatrix result;
  result.data.assign(size_t(rows * rowBytes), 0);
  if (scheme.halfScales())
    result.halfScales.assign(size_t(rows * groups), 0);
  else
    result.floatScales.assign(size_t(rows * groups), 0.0f);
  if (scheme.asymmetric)
    result.zeroPoints.assign(size_t(rows * groups), 0);
  std::vector<double> signal(rows, 0.0), noise(rows, 0.0);
  int qmax =
      scheme.asymmetric ? (1 << scheme.bits) - 1 : (1 << (scheme.bits - 1)) - 1;
  int qmin = scheme.asymmetric ? 0 : -(1 << (scheme.bits - 1));
  if (!scheme.asymmetric && scheme.bits == 8)
    qmin = -127; // symmetric int8 keeps -128 unused, as is usual
  llvm::parallelFor(0, size_t(rows), [&](size_t r) {
    const float *row = values.data() + r * k;
    uint8_t *bytes = result.data.data() + r * rowBytes;
    for (int64_t g = 0; g < groups; ++g) {
      int64_t begin = g * group, end = std::min(k, begin + group);
      float lo = 0.0f, hi = 0.0f;
      for (int64_t i = begin; i < end; ++i) {
        lo = std::min(lo, row[i]);
        hi = std::max(hi, row[i]);
      }
      float scale = scheme.asymmetric ? (hi - lo) / float(qmax)
                                      : std::max(hi, -lo) / float(qmax);
      size_t at = r * groups + g;
      if (scheme.halfScales()) {
        result.halfScales[at] = floatToHalf(scale);
        scale = halfToFloat(result.halfScales[at]);
      } else {
        result.floatScales[at] = scale;
      }
      int zero = 0;
      if (scheme.asymmetric) {
        zero = scale == 0.0f
                   ? 0
                   : std::clamp(int(std::round(-lo / scale)), 0, qmax);
        result.zeroPoints[at] = uint8_t(zero);
      }
      for (int64_t i = begin; i < end; ++i) {
        int q = scale == 0.0f ? zero : int(std::round(row[i] / scale)) + zero;
        q = std::clamp(q, qmin, qmax);
        double error = double(row[i]) - double(q - zero) * double(scale);
        double weight = columnWeights.empty() ? 1.0 : columnWeights[i];
        signal[r] += weight * double(row[i]) * double(row[i]);
        noise[r] += weight * error * error;
        if (scheme.bits == 8)
          bytes[i] = uint8_t(q);
        else
          bytes[i / 2] |= uint8_t((q & 0xF) << (i % 2 ? 4 : 0));
      }
    }
  });
  for (int64_t r = 0; r < rows; ++r) {
    result.signalPower += signal[r];
    result.noisePower += noise[r];
  }
  return result;
}
