//===- ActivationAware.cpp - AWQ-style input-channel scales ---------------===//

#include "passes/Quant/ActivationAware.h"

#include <algorithm>
#include <cmath>

using namespace moec;

/// Grid steps of alpha over [0, 1].
static constexpr int kAlphaSteps = 20;

/// s_k = magnitude_k^alpha, normalised to max * min = 1.
static std::vector<float> scalesFor(llvm::ArrayRef<double> magnitude,
                                    double alpha) {
  std::vector<float> scales(magnitude.size(), 1.0f);
  if (alpha == 0.0)
    return scales;
  double lo = INFINITY, hi = 0.0;
  std::vector<double> raw(magnitude.size());
  for (size_t k = 0; k < magnitude.size(); ++k) {
    raw[k] = std::pow(std::max(magnitude[k], 1e-8), alpha);
    lo = std::min(lo, raw[k]);
    hi = std::max(hi, raw[k]);
  }
  double norm = std::sqrt(lo * hi);
  for (size_t k = 0; k < raw.size(); ++k)
    scales[k] = float(raw[k] / norm);
  return scales;
}

/// sum over matrices of weight * sum a_k^2 (Q(W s)/s - W)^2.
static double lossFor(llvm::ArrayRef<AwqMatrix> matrices,
                      llvm::ArrayRef<float> scales, const QuantScheme &scheme) {
  int64_t k = int64_t(scales.size());
  double total = 0.0;
  std::vector<float> scaled;
  std::vector<double> columnWeights(k);
  for (const AwqMatrix &m : matrices) {
    scaled.resize(m.values.size());
    for (int64_t r = 0; r < m.rows; ++r)
      for (int64_t c = 0; c < k; ++c)
        scaled[r * k + c] = m.values[r * k + c] * scales[c];
    // The error of W s divided by s, weighted by a^2: weight (a / s)^2.
    for (int64_t c = 0; c < k; ++c) {
      double a = m.inputMagnitude[c] / double(scales[c]);
      columnWeights[c] = a * a;
    }
    total +=
        m.weight *
        quantizeMatrix(scaled, m.rows, k, scheme, columnWeights).noisePower;
  }
  return total;
}

AwqScales moec::searchAwqScales(llvm::ArrayRef<AwqMatrix> matrices,
                                llvm::ArrayRef<double> magnitude,
                                const QuantScheme &scheme) {
  AwqScales best;
  for (int step = 0; step <= kAlphaSteps; ++step) {
    double alpha = double(step) / kAlphaSteps;
    std::vector<float> scales = scalesFor(magnitude, alpha);
    double loss = lossFor(matrices, scales, scheme);
    if (step == 0)
      best.rtnLoss = loss;
    if (step == 0 || loss < best.loss) {
      best.alpha = alpha;
      best.loss = loss;
      best.scales = std::move(scales);
    }
  }
  return best;
}
