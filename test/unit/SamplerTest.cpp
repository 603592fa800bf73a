//===- SamplerTest.cpp - Sampling as Hugging Face's generate does ---------===//
//
// Each expectation is worked out by hand from the logits processors of
// transformers' generation/logits_process.py (RepetitionPenalty,
// Temperature, TopK, TopP, MinP), not from the sampler's code.
//
//===----------------------------------------------------------------------===//

#include "runtime/generate/Sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

using namespace moec::rt;

namespace {
using Distribution = std::vector<std::pair<int32_t, double>>;

Distribution distributionOf(const SamplingSettings &settings,
                            const std::vector<float> &logits,
                            const std::vector<int32_t> &history = {}) {
  Sampler sampler(settings, 1);
  return sampler.distribution(logits.data(), int64_t(logits.size()), history);
}

std::map<int32_t, double> asMap(const Distribution &d) {
  return std::map<int32_t, double>(d.begin(), d.end());
}

SamplingSettings sampling(double temperature) {
  SamplingSettings s;
  s.temperature = temperature;
  return s;
}

std::vector<float> logOf(const std::vector<double> &p) {
  std::vector<float> logits;
  for (double v : p)
    logits.push_back(float(std::log(v)));
  return logits;
}
} // namespace

TEST(SamplerTest, GreedyTakesTheFirstLargest) {
  Distribution d = distributionOf(sampling(0), {1, 3, 3, 2});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].first, 1);
}

TEST(SamplerTest, RepetitionPenaltyDividesPositiveAndMultipliesNegative) {
  // Penalty 2 over ids {0, 2} (0 seen twice counts once): 2 -> 1, 1.9 stays,
  // -1 -> -2; the argmax moves from 0 to 1.
  SamplingSettings s = sampling(0);
  s.repeatPenalty = 2;
  Distribution d = distributionOf(s, {2.0f, 1.9f, -1.0f}, {0, 0, 2});
  EXPECT_EQ(d[0].first, 1);
  // With temperature 1, the probabilities are softmax([1, 1.9, -2]).
  s.temperature = 1;
  std::map<int32_t, double> p =
      asMap(distributionOf(s, {2.0f, 1.9f, -1.0f}, {0, 0, 2}));
  double sum = std::exp(1.0) + std::exp(1.9) + std::exp(-2.0);
  EXPECT_NEAR(p[0], std::exp(1.0) / sum, 1e-6);
  EXPECT_NEAR(p[1], std::exp(1.9) / sum, 1e-6);
  EXPECT_NEAR(p[2], std::exp(-2.0) / sum, 1e-6);
}

TEST(SamplerTest, TemperatureDividesTheLogits) {
  // [0, ln 4] / 2 = [0, ln 2]: probabilities 1/3 and 2/3.
  std::map<int32_t, double> p =
      asMap(distributionOf(sampling(2), {0.0f, float(std::log(4.0))}));
  EXPECT_NEAR(p[0], 1.0 / 3, 1e-6);
  EXPECT_NEAR(p[1], 2.0 / 3, 1e-6);
}

TEST(SamplerTest, TopKKeepsTies) {
  // The 2nd largest is 3, which three ids share: all three stay, equally
  // likely.
  SamplingSettings s = sampling(1);
  s.topK = 2;
  std::map<int32_t, double> p = asMap(distributionOf(s, {1, 3, 3, 2, 3}));
  ASSERT_EQ(p.size(), 3u);
  for (int32_t id : {1, 2, 4})
    EXPECT_NEAR(p[id], 1.0 / 3, 1e-9);
}

TEST(SamplerTest, TopPDropsTheTailUpToOneMinusP) {
  // p = [0.5, 0.3, 0.15, 0.05], top_p 0.75: ascending cumulative mass
  // 0.05, 0.20, 0.50, 1.0; tokens with cumulative <= 0.25 go (ids 3, 2).
  SamplingSettings s = sampling(1);
  s.topP = 0.75;
  std::map<int32_t, double> p =
      asMap(distributionOf(s, logOf({0.5, 0.3, 0.15, 0.05})));
  ASSERT_EQ(p.size(), 2u);
  EXPECT_NEAR(p[0], 0.625, 1e-6);
  EXPECT_NEAR(p[1], 0.375, 1e-6);
  // top_p so small that only the most likely is left.
  s.topP = 0.01;
  EXPECT_EQ(distributionOf(s, logOf({0.5, 0.3, 0.15, 0.05})).size(), 1u);
}

TEST(SamplerTest, MinPDropsTokensBelowAShareOfTheLargest) {
  // min_p 0.4 of 0.5: tokens under 0.2 go.
  SamplingSettings s = sampling(1);
  s.minP = 0.4;
  std::map<int32_t, double> p =
      asMap(distributionOf(s, logOf({0.15, 0.5, 0.3, 0.05})));
  ASSERT_EQ(p.size(), 2u);
  EXPECT_NEAR(p[1], 0.625, 1e-6);
  EXPECT_NEAR(p[2], 0.375, 1e-6);
}

TEST(SamplerTest, FiltersApplyInTransformersOrder) {
  // Temperature 0.5 squares the odds: [0.4, 0.3, 0.2, 0.1] becomes
  // [16, 9, 4, 1] / 30; top_k 3 drops id 3, leaving [16, 9, 4] / 29; top_p
  // 0.8 drops id 2 (4/29 <= 0.2) and keeps 9/29 (13/29 > 0.2).
  SamplingSettings s = sampling(0.5);
  s.topK = 3;
  s.topP = 0.8;
  std::map<int32_t, double> p =
      asMap(distributionOf(s, logOf({0.4, 0.3, 0.2, 0.1})));
  ASSERT_EQ(p.size(), 2u);
  EXPECT_NEAR(p[0], 16.0 / 25, 1e-6);
  EXPECT_NEAR(p[1], 9.0 / 25, 1e-6);
}

TEST(SamplerTest, DrawsFollowTheDistribution) {
  // 60,000 draws of [0.6, 0.3, 0.1]: each frequency within 5 standard
  // deviations (sqrt(p(1-p)/n) <= 0.002).
  Sampler sampler(sampling(1), 42);
  std::vector<float> logits = logOf({0.6, 0.3, 0.1});
  int counts[3] = {0, 0, 0};
  const int draws = 60000;
  for (int i = 0; i < draws; ++i)
    ++counts[sampler.sample(logits.data(), 3, {})];
  double expected[3] = {0.6, 0.3, 0.1};
  for (int id = 0; id < 3; ++id) {
    double sigma = std::sqrt(expected[id] * (1 - expected[id]) / draws);
    EXPECT_NEAR(counts[id] / double(draws), expected[id], 5 * sigma) << id;
  }
}

TEST(SamplerTest, TheSeedFixesTheDraws) {
  std::vector<float> logits(1000);
  for (size_t i = 0; i < logits.size(); ++i)
    logits[i] = float(std::sin(double(i)));
  auto draws = [&](uint64_t seed) {
    Sampler sampler(sampling(1), seed);
    std::vector<int32_t> ids;
    for (int i = 0; i < 50; ++i)
      ids.push_back(sampler.sample(logits.data(), 1000, {}));
    return ids;
  };
  EXPECT_EQ(draws(7), draws(7));
  EXPECT_NE(draws(7), draws(8));
}
