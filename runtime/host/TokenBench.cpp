//===- TokenBench.cpp - llama-bench's measures for a decoder model --------===//

#include "runtime/host/TokenBench.h"

#include "runtime/host/TokenSession.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

using namespace moec::rt;

namespace {
/// `count` pseudo-random ids below `vocab`, the same every run.
std::vector<int64_t> randomIds(int64_t count, int64_t vocab, uint64_t &seed) {
  std::vector<int64_t> ids(count);
  for (int64_t &id : ids) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    id = int64_t((seed >> 33) % uint64_t(vocab));
  }
  return ids;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}
} // namespace

void moec::rt::runTokenBench(
    const Model &model, size_t entry, int64_t context,
    const TokenBenchOptions &options, std::vector<Descriptor> &weights,
    StateBuffers &state,
    const std::vector<std::pair<const void *, size_t>> &owned) {
  int64_t needed = options.depth + std::max(options.prompt, options.generate);
  if (needed > context) {
    std::fprintf(stderr,
                 "error: --bench needs %lld positions (depth + the larger of "
                 "prompt and generation); the KV cache has %lld (--ctx-size "
                 "sets them)\n",
                 (long long)needed, (long long)context);
    std::exit(1);
  }
  TokenSession session(model, entry, context, weights, state, owned);
  uint64_t seed = 1;
  auto feed = [&](int64_t count, int64_t perCall) {
    // As llama-bench: the logits of each call's last token only.
    session.feed(
        randomIds(count, session.vocab, seed), perCall,
        [](const float *, int64_t) {}, /*lastRow=*/true);
  };
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::time_point since) {
    return std::chrono::duration<double>(Clock::now() - since).count();
  };
  std::vector<double> prefill, decode;
  for (int i = 0; i < options.repetitions; ++i) {
    if (options.prompt > 0) {
      session.reset();
      feed(options.depth, model.maxTokens);
      auto start = Clock::now();
      feed(options.prompt, model.maxTokens);
      prefill.push_back(options.prompt / seconds(start));
    }
    if (options.generate > 0) {
      session.reset();
      feed(options.depth, model.maxTokens);
      auto start = Clock::now();
      feed(options.generate, 1);
      decode.push_back(options.generate / seconds(start));
    }
  }
  // Bytes of one decode step: every weight the entry reads, the routed
  // share of each expert stack (and one row of the embedding table), and
  // the KV cache up to the step's position (on average, depth + G/2).
  double weightBytes = 0, cacheBytes = 0;
  for (size_t index : model.entries[entry].weights) {
    const WeightSpec &w = model.weights[index];
    weightBytes += double(w.bytes) * std::min(1.0, w.routedFraction);
  }
  double positions = double(options.depth) + double(options.generate) / 2;
  for (const TensorSpec &spec : model.state) {
    if (spec.shape.empty() || spec.shape[0] != context)
      continue;
    double row = double(dtypeSize(spec.dtype));
    for (size_t d = 1; d < spec.shape.size(); ++d)
      row *= double(spec.shape[d]);
    cacheBytes += row * positions;
  }
  double decodeRate = decode.empty() ? 0 : median(decode);
  std::printf(
      "bench: model=%s threads=%d depth=%lld prompt=%lld "
      "prefill_tokens_per_s=%.1f generate=%lld "
      "decode_tokens_per_s=%.2f decode_bytes_per_token=%.0f "
      "(weights %.0f, kv cache %.0f) decode_gb_per_s=%.3f "
      "repetitions=%d\n",
      model.name.c_str(), options.threads, (long long)options.depth,
      (long long)options.prompt, prefill.empty() ? 0.0 : median(prefill),
      (long long)options.generate, decodeRate, weightBytes + cacheBytes,
      weightBytes, cacheBytes, (weightBytes + cacheBytes) * decodeRate / 1e9,
      options.repetitions);
}
