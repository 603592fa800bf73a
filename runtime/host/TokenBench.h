//===- TokenBench.h - llama-bench's measures for a decoder model -*- C++
//-*-===//
//
// `MODEL --bench` on a model that takes token ids: prefill (one call of P
// ids) and decode (G calls of one id), each after filling the KV cache to
// a depth D, as llama-bench's pp, tg and -d measure them; the median of
// the repetitions, in tokens/s, and the bytes a decode step reads (the
// weights it touches and the KV cache up to its position) per second.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_RUNTIME_HOST_TOKENBENCH_H
#define MOEC_RUNTIME_HOST_TOKENBENCH_H

#include "runtime/host/EntryCall.h"

namespace moec::rt {

struct TokenBenchOptions {
  int64_t prompt = 512;
  int64_t generate = 128;
  int64_t depth = 0;
  int repetitions = 3;
  int threads = 0;
};

/// Runs the measures on entry `entry` (a token entry) with a KV cache of
/// `context` positions and prints one line; exits with a message when
/// depth + prompt or depth + generate do not fit.
void runTokenBench(const Model &model, size_t entry, int64_t context,
                   const TokenBenchOptions &options,
                   std::vector<Descriptor> &weights, StateBuffers &state,
                   const std::vector<std::pair<const void *, size_t>> &owned);

} // namespace moec::rt

#endif // MOEC_RUNTIME_HOST_TOKENBENCH_H
