//===- RopeFrequencies.cpp - inv_freq of each rotary scaling --------------===//
//
// Hugging Face modeling_rope_utils: _compute_default_rope_parameters,
// _compute_linear_scaling_rope_parameters, _compute_llama3_parameters and
// _compute_yarn_parameters, in double precision.
//
//===----------------------------------------------------------------------===//

#include "RopeFrequencies.h"

#include <algorithm>
#include <cmath>

using namespace moec;

std::vector<double> moec::computeInvFreq(const RopeConfig &rope) {
  int64_t dim = rope.rotaryDim, half = dim / 2;
  std::vector<double> inv(half);
  for (int64_t i = 0; i < half; ++i)
    inv[i] = 1.0 / std::pow(rope.theta, double(2 * i) / double(dim));
  switch (rope.scaling) {
  case RopeConfig::Scaling::None:
    break;
  case RopeConfig::Scaling::Linear:
    for (double &f : inv)
      f /= rope.factor;
    break;
  case RopeConfig::Scaling::Llama3: {
    double old = double(rope.originalMaxPositions);
    double lowWavelength = old / rope.lowFreqFactor;
    double highWavelength = old / rope.highFreqFactor;
    for (double &f : inv) {
      double wavelength = 2.0 * M_PI / f;
      if (wavelength > lowWavelength) {
        f /= rope.factor;
      } else if (wavelength >= highWavelength) {
        double smooth = (old / wavelength - rope.lowFreqFactor) /
                        (rope.highFreqFactor - rope.lowFreqFactor);
        f = (1.0 - smooth) * f / rope.factor + smooth * f;
      }
    }
    break;
  }
  case RopeConfig::Scaling::Yarn: {
    double old = double(rope.originalMaxPositions);
    auto correctionDim = [&](double rotations) {
      return double(dim) * std::log(old / (rotations * 2.0 * M_PI)) /
             (2.0 * std::log(rope.theta));
    };
    double low = correctionDim(rope.betaFast);
    double high = correctionDim(rope.betaSlow);
    if (rope.truncate) {
      low = std::floor(low);
      high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, double(dim - 1));
    if (low == high)
      high += 0.001;
    for (int64_t i = 0; i < half; ++i) {
      double ramp = std::clamp((double(i) - low) / (high - low), 0.0, 1.0);
      double extrapolation = 1.0 - ramp;
      inv[i] =
          inv[i] / rope.factor * (1.0 - extrapolation) + inv[i] * extrapolation;
    }
    break;
  }
  }
  return inv;
}
