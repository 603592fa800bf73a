//===- TokenSession.cpp - A decoder model fed ids through its KV cache ----===//

#include "runtime/host/TokenSession.h"

#include "runtime/host/TokenRun.h"

#include <algorithm>

using namespace moec::rt;

TokenSession::TokenSession(
    const Model &model, size_t entry, int64_t context,
    std::vector<Descriptor> &weights, StateBuffers &state,
    const std::vector<std::pair<const void *, size_t>> &owned)
    : vocab(logitsVocabulary(model.entries[entry])), context(context),
      model(model), entry(entry), weights(weights), state(state), owned(owned),
      logitsIndex(logitsOutput(model.entries[entry])) {}

void TokenSession::feed(
    const std::vector<int64_t> &ids, int64_t perCall,
    const std::function<void(const float *rows, int64_t n)> &onLogits,
    bool lastRow) {
  int64_t rowsWanted = lastRow ? 1 : 0;
  for (size_t begin = 0; begin < ids.size();) {
    int64_t n =
        std::min({int64_t(ids.size() - begin), perCall, model.maxTokens});
    std::vector<Descriptor> inputs{Descriptor::make(ids.data() + begin, {n}),
                                   Descriptor::make(&rowsWanted, {1})};
    std::vector<Result> results =
        callEntry(model, entry, inputs, weights, state);
    onLogits(reinterpret_cast<const float *>(results[logitsIndex].data),
             lastRow ? 1 : n);
    releaseResults(results, owned);
    begin += n;
    position += n;
  }
}

void TokenSession::reset() {
  state.clear();
  position = 0;
}
