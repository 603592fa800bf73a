//===- Sampler.cpp - The next token from a row of logits ------------------===//

#include "runtime/generate/Sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

using namespace moec::rt;

Sampler::Sampler(const SamplingSettings &settings, uint64_t seed)
    : settings(settings) {
  // splitmix64 spreads the seed over xoshiro's state.
  for (uint64_t &word : state) {
    seed += 0x9E3779B97F4A7C15ull;
    uint64_t z = seed;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    word = z ^ (z >> 31);
  }
}

double Sampler::uniform() {
  auto rotl = [](uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
  uint64_t result = rotl(state[1] * 5, 7) * 9;
  uint64_t t = state[1] << 17;
  state[2] ^= state[0];
  state[3] ^= state[1];
  state[1] ^= state[2];
  state[0] ^= state[3];
  state[2] ^= t;
  state[3] = rotl(state[3], 45);
  return double(result >> 11) * 0x1.0p-53;
}

std::vector<std::pair<int32_t, double>>
Sampler::distribution(const float *logits, int64_t vocab,
                      const std::vector<int32_t> &history) const {
  std::vector<std::pair<int32_t, double>> scores(vocab);
  for (int64_t i = 0; i < vocab; ++i)
    scores[i] = {int32_t(i), double(logits[i])};
  // The repetition penalty: once per distinct id seen.
  if (settings.repeatPenalty != 1) {
    std::unordered_set<int32_t> seen;
    for (int32_t id : history)
      if (id >= 0 && id < vocab && seen.insert(id).second) {
        double &score = scores[id].second;
        score = score < 0 ? score * settings.repeatPenalty
                          : score / settings.repeatPenalty;
      }
  }
  // Decreasing score; the lower id first among equal scores.
  auto byScore = [](const std::pair<int32_t, double> &a,
                    const std::pair<int32_t, double> &b) {
    return a.second > b.second || (a.second == b.second && a.first < b.first);
  };
  if (settings.temperature <= 0) {
    auto best = std::min_element(scores.begin(), scores.end(), byScore);
    return {{best->first, 1.0}};
  }
  for (auto &entry : scores)
    entry.second /= settings.temperature;
  // Top-k keeps every score at least the k-th largest (ties too), found
  // without sorting the whole vocabulary.
  if (settings.topK > 0 && settings.topK < vocab) {
    auto kthPosition = scores.begin() + (settings.topK - 1);
    std::nth_element(scores.begin(), kthPosition, scores.end(), byScore);
    double kth = kthPosition->second;
    auto ties = std::partition(
        kthPosition + 1, scores.end(),
        [&](const std::pair<int32_t, double> &e) { return e.second >= kth; });
    scores.erase(ties, scores.end());
  }
  std::sort(scores.begin(), scores.end(), byScore);
  auto normalize = [&] {
    double top = scores.front().second, sum = 0;
    for (auto &entry : scores)
      sum += std::exp(entry.second - top);
    std::vector<double> p(scores.size());
    for (size_t i = 0; i < scores.size(); ++i)
      p[i] = std::exp(scores[i].second - top) / sum;
    return p;
  };
  // Top-p: from the least likely up, drop tokens while the mass dropped
  // stays at most 1 - top_p; the most likely always stays.
  if (settings.topP < 1) {
    std::vector<double> p = normalize();
    double dropped = 0;
    size_t keep = scores.size();
    while (keep > 1 && dropped + p[keep - 1] <= 1 - settings.topP)
      dropped += p[--keep];
    scores.resize(keep);
  }
  // Min-p: drop tokens less likely than min_p times the most likely.
  if (settings.minP > 0) {
    std::vector<double> p = normalize();
    size_t keep = 1;
    while (keep < scores.size() && p[keep] >= settings.minP * p[0])
      ++keep;
    scores.resize(keep);
  }
  std::vector<double> p = normalize();
  for (size_t i = 0; i < scores.size(); ++i)
    scores[i].second = p[i];
  return scores;
}

int32_t Sampler::sample(const float *logits, int64_t vocab,
                        const std::vector<int32_t> &history) {
  std::vector<std::pair<int32_t, double>> candidates =
      distribution(logits, vocab, history);
  if (candidates.size() == 1)
    return candidates.front().first;
  double r = uniform(), cumulative = 0;
  for (const auto &[id, p] : candidates) {
    cumulative += p;
    if (r < cumulative)
      return id;
  }
  return candidates.back().first;
}
