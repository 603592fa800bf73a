//===- QuantScheme.h - Round-to-nearest weight quantization -----*- C++ -*-===//
//
// The arithmetic of weight-only quantization, free of MLIR: a scheme
// (bits, group along K, symmetric or not), and the quantization of a
// row-major [rows, K] float matrix into packed bytes, block scales and zero
// points in the layout moe.packed_weight describes. Every row is quantized
// on its own: group g of row r covers K elements [g * G, min(K, g * G + G)).
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_PASSES_QUANT_QUANTSCHEME_H
#define MOEC_PASSES_QUANT_QUANTSCHEME_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace moec {

struct QuantScheme {
  /// 4 or 8.
  unsigned bits = 4;
  /// Elements of K sharing a scale; 0 is one scale per output channel.
  int64_t group = 128;
  /// Asymmetric: unsigned codes with a zero point per group.
  bool asymmetric = false;

  /// Parses "int8", "int4-g32", "int4-g64", "int4-g128", each optionally
  /// followed by ",asym"; std::nullopt for anything else.
  static std::optional<QuantScheme> parse(llvm::StringRef text);
  /// The spelling parse() takes.
  std::string str() const;
  /// The group along a K of `k`: `group`, or `k` for per-channel.
  int64_t groupFor(int64_t k) const { return group ? group : k; }
  /// Scales are f16 for int4 groups (as in Q4_0 and QMoE), f32 per channel.
  bool halfScales() const { return group != 0; }
};

/// A quantized [rows, K] matrix: `data` [rows, K * bits / 8] (low nibble
/// first for int4), `scales` [rows, groups] as f16 bits or f32,
/// `zeroPoints` [rows, groups] (u8, asymmetric only).
struct QuantizedMatrix {
  std::vector<uint8_t> data;
  std::vector<uint16_t> halfScales;
  std::vector<float> floatScales;
  std::vector<uint8_t> zeroPoints;
  /// Sum over elements of w^2 and of (w - dequantized w)^2 (weighted per
  /// column when quantizeMatrix was given column weights).
  double signalPower = 0, noisePower = 0;

  /// Signal-to-quantization-noise ratio in dB (infinite for exact).
  double sqnrDb() const;
};

/// Quantizes `values` ([rows, k], row-major) with `scheme`, rounding
/// half away from zero. Symmetric codes are q = round(w / s) with
/// s = max|w| / (2^(bits-1) - 1); asymmetric ones q = round(w / s) + z with
/// s = (max(w, 0) - min(w, 0)) / (2^bits - 1) and z = round(-min / s). The
/// scale is rounded to its stored type before the codes are computed. K must
/// be even for int4. With `columnWeights` (K of them), the signal and noise
/// powers weight each column's squares by them.
QuantizedMatrix quantizeMatrix(llvm::ArrayRef<float> values, int64_t rows,
                               int64_t k, const QuantScheme &scheme,
                               llvm::ArrayRef<double> columnWeights = {});

/// IEEE half-precision bits of `value`, rounded to nearest even, and back.
uint16_t floatToHalf(float value);
float halfToFloat(uint16_t bits);

} // namespace moec

#endif // MOEC_PASSES_QUANT_QUANTSCHEME_H
