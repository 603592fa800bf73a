//===- ActivationAware.h - AWQ-style input-channel scales -------*- C++ -*-===//
//
// Activation-aware weight quantization (AWQ, Lin et al. 2023) as AutoAWQ
// applies it to MoE layers: a weight W [rows, K] whose inputs x have
// per-channel magnitudes a_k is quantized as Q(W diag(s)) and multiplied
// by x / s, which is W x exactly before rounding. Channels with large
// inputs get larger s, so their weights lose less to rounding. s_k =
// a_k^alpha, normalised so that max(s) * min(s) = 1, with alpha searched on
// a grid of 0, 0.05, ..., 1 (alpha = 0 is plain round-to-nearest) for the
// least expected output error sum_k a_k^2 (Q(W s) / s - W)_k^2, summed over
// the matrices that share the scales. Free of MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_PASSES_QUANT_ACTIVATIONAWARE_H
#define MOEC_PASSES_QUANT_ACTIVATIONAWARE_H

#include "passes/Quant/QuantScheme.h"

#include "llvm/ADT/ArrayRef.h"

#include <vector>

namespace moec {

/// One matrix the scales apply to: `values` [rows, K], the mean |x| of
/// each of its input channels, and its share of the loss (tokens routed).
struct AwqMatrix {
  llvm::ArrayRef<float> values;
  int64_t rows = 0;
  llvm::ArrayRef<double> inputMagnitude;
  double weight = 1.0;
};

struct AwqScales {
  double alpha = 0.0;
  /// s_k, K of them (all 1 for alpha = 0).
  std::vector<float> scales;
  /// The expected output error at alpha and with plain round-to-nearest.
  double loss = 0.0, rtnLoss = 0.0;
};

/// The scales of least loss for `matrices` (all with the same K) under
/// `scheme`; `magnitude` (K) is the statistic the scales are powers of.
AwqScales searchAwqScales(llvm::ArrayRef<AwqMatrix> matrices,
                          llvm::ArrayRef<double> magnitude,
                          const QuantScheme &scheme);

} // namespace moec

#endif // MOEC_PASSES_QUANT_ACTIVATIONAWARE_H
