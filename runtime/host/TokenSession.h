//===- TokenSession.h - A decoder model fed through its cache ---*- C++ -*-===//
//
// The model as a sequence: ids go in, a call per at most `perCall` of them
// (and never more than the model's maxTokens), continuing at the KV cache's
// position; each call's logits rows go to the caller. Generation and the
// token bench drive the model through it.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_RUNTIME_HOST_TOKENSESSION_H
#define MOEC_RUNTIME_HOST_TOKENSESSION_H

#include "runtime/host/EntryCall.h"

#include <functional>

namespace moec::rt {

class TokenSession {
public:
  /// Entry `entry` (a token entry) with a KV cache of `context` positions.
  TokenSession(const Model &model, size_t entry, int64_t context,
               std::vector<Descriptor> &weights, StateBuffers &state,
               const std::vector<std::pair<const void *, size_t>> &owned);

  /// Whether `count` more ids fit in the KV cache.
  bool fits(int64_t count) const { return position + count <= context; }

  /// Runs `ids` (which fit), `perCall` or fewer per call; `onLogits` gets
  /// each call's rows [n, vocab], or with `lastRow` its last row only (the
  /// model computes no other).
  void feed(const std::vector<int64_t> &ids, int64_t perCall,
            const std::function<void(const float *rows, int64_t n)> &onLogits,
            bool lastRow = false);

  /// Back to an empty KV cache (the state zeroed).
  void reset();

  int64_t vocab = 0;
  int64_t position = 0;
  const int64_t context;

private:
  const Model &model;
  size_t entry;
  std::vector<Descriptor> &weights;
  StateBuffers &state;
  const std::vector<std::pair<const void *, size_t>> &owned;
  size_t logitsIndex = 0;
};

} // namespace moec::rt

#endif // MOEC_RUNTIME_HOST_TOKENSESSION_H
