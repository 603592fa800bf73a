//===- PackWeights.h - Float weights to moe.packed_weight -------*- C++ -*-===//
//
// The step every quantization pass shares: a float [E, N, K] weight's
// values, quantized with a scheme, written as codes, scales and zero
// points the way the float weight was (store blobs or constants), and
// bundled into one moe.packed_weight.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_PASSES_QUANT_PACKWEIGHTS_H
#define MOEC_PASSES_QUANT_PACKWEIGHTS_H

#include "passes/Quant/QuantScheme.h"
#include "passes/Sparsity/ExpertWeights.h"

#include "mlir/IR/Builders.h"

#include <cstring>
#include <optional>
#include <vector>

namespace moec {

/// A pass's `scheme` option: std::nullopt for empty (leave in float), else
/// the scheme; an error on `module` naming `pass` for a scheme it does not
/// know.
mlir::FailureOr<std::optional<QuantScheme>>
parseSchemeOption(mlir::Operation *module, llvm::StringRef pass,
                  llvm::StringRef scheme);

/// The weight's elements as floats; f32, f16 and bf16 are read.
std::optional<std::vector<float>> readFloats(llvm::ArrayRef<uint8_t> bytes,
                                             mlir::Type element);

template <typename T> std::vector<uint8_t> toBytes(const std::vector<T> &v) {
  std::vector<uint8_t> bytes(v.size() * sizeof(T));
  std::memcpy(bytes.data(), v.data(), bytes.size());
  return bytes;
}

/// `values` ([experts, n, k], row-major) quantized with `scheme` as a
/// moe.packed_weight of logical type [experts, n, k] x `element`; its parts
/// are new weights made like `source`. `quantized` receives the codes'
/// statistics (for the report).
mlir::Value packWeight(mlir::OpBuilder &b, mlir::Location loc,
                       const WeightData &source, llvm::ArrayRef<float> values,
                       int64_t experts, int64_t n, int64_t k,
                       mlir::Type element, const QuantScheme &scheme,
                       QuantizedMatrix &quantized);

} // namespace moec

#endif // MOEC_PASSES_QUANT_PACKWEIGHTS_H
