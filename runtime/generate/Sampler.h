//===- Sampler.h - The next token from a row of logits ----------*- C++ -*-===//
//
// Hugging Face generate's logits processors, in its order: the repetition
// penalty over every id so far (prompt included), then temperature, top-k,
// top-p and min-p, then a draw from the softmax of what is left.
// Temperature 0 is greedy: the argmax after the penalty. The random numbers
// come from a generator seeded by --seed, the same on every machine, so a
// seed gives the same text.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_RUNTIME_GENERATE_SAMPLER_H
#define MOEC_RUNTIME_GENERATE_SAMPLER_H

#include "runtime/tokenizer/TextSettings.h"

#include <cstdint>
#include <utility>
#include <vector>

namespace moec::rt {

class Sampler {
public:
  Sampler(const SamplingSettings &settings, uint64_t seed);

  /// The candidates left after the penalty and the filters, with their
  /// probabilities, in decreasing order (one with probability 1 when
  /// greedy). `history` holds every id so far.
  std::vector<std::pair<int32_t, double>>
  distribution(const float *logits, int64_t vocab,
               const std::vector<int32_t> &history) const;

  /// Draws the next id.
  int32_t sample(const float *logits, int64_t vocab,
                 const std::vector<int32_t> &history);

private:
  SamplingSettings settings;
  /// xoshiro256** state.
  uint64_t state[4];
  /// A uniform double in [0, 1).
  double uniform();
};

} // namespace moec::rt

#endif // MOEC_RUNTIME_GENERATE_SAMPLER_H
