//===- EntryCall.cpp - Calling an entry point of the model ----------------===//

#include "runtime/host/EntryCall.h"

#include "moec/Runtime/BinaryAbi.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace moec::rt;

Descriptor Descriptor::make(const void *data,
                            const std::vector<int64_t> &shape) {
  Descriptor d;
  size_t rank = shape.size();
  d.words.assign(3 + 2 * rank, 0);
  d.words[0] = d.words[1] = int64_t(reinterpret_cast<intptr_t>(data));
  int64_t stride = 1;
  for (size_t i = rank; i-- > 0;) {
    d.words[3 + i] = shape[i];
    d.words[3 + rank + i] = stride;
    stride *= shape[i];
  }
  return d;
}

static size_t stateBytes(const TensorSpec &spec) {
  return size_t(numElements(spec.shape)) * dtypeSize(spec.dtype);
}

StateBuffers::StateBuffers(const Model &model) : model(model) {
  for (const TensorSpec &spec : model.state) {
    size_t bytes = stateBytes(spec);
    // aligned_alloc wants a multiple of the alignment, and at least one.
    size_t rounded = std::max<size_t>(64, (bytes + 63) / 64 * 64);
    auto *buffer = static_cast<uint8_t *>(std::aligned_alloc(64, rounded));
    if (!buffer) {
      std::fprintf(stderr, "error: cannot allocate %zu bytes for state '%s'\n",
                   bytes, spec.name.c_str());
      std::exit(1);
    }
    std::memset(buffer, 0, rounded);
    buffers.push_back(buffer);
  }
}

void StateBuffers::clear() {
  for (size_t i = 0; i < model.state.size(); ++i)
    std::memset(buffers[i], 0, stateBytes(model.state[i]));
  if (moec_target_state_cleared)
    moec_target_state_cleared();
}

StateBuffers::~StateBuffers() {
  for (uint8_t *buffer : buffers)
    std::free(buffer);
}

uint8_t *StateBuffers::data(const std::string &name) const {
  for (size_t i = 0; i < model.state.size(); ++i)
    if (model.state[i].name == name)
      return buffers[i];
  return nullptr; // parseManifest checked every state name.
}

std::vector<std::pair<const void *, size_t>> StateBuffers::ranges() const {
  std::vector<std::pair<const void *, size_t>> result;
  for (size_t i = 0; i < model.state.size(); ++i)
    result.push_back({buffers[i], stateBytes(model.state[i])});
  return result;
}

/// Reads the result descriptors the entry wrote, in order.
static std::vector<Result> readResults(const EntrySpec &entry,
                                       const std::vector<int64_t> &words) {
  std::vector<Result> results;
  size_t at = 0;
  for (const TensorSpec &spec : entry.outputs) {
    size_t rank = spec.shape.size();
    Result r;
    r.dtype = spec.dtype;
    r.allocated = reinterpret_cast<void *>(intptr_t(words[at]));
    const uint8_t *aligned =
        reinterpret_cast<const uint8_t *>(intptr_t(words[at + 1]));
    int64_t offset = words[at + 2];
    r.shape.assign(words.begin() + at + 3, words.begin() + at + 3 + rank);
    r.data = aligned + offset * int64_t(dtypeSize(spec.dtype));
    r.bytes = size_t(numElements(r.shape)) * dtypeSize(spec.dtype);
    results.push_back(r);
    at += 3 + 2 * rank;
  }
  return results;
}

std::vector<Result> moec::rt::callEntry(const Model &model, size_t index,
                                        std::vector<Descriptor> &inputs,
                                        std::vector<Descriptor> &weights,
                                        StateBuffers &state) {
  const EntrySpec &entry = model.entries[index];
  size_t resultWords = 0;
  for (const TensorSpec &spec : entry.outputs)
    resultWords += 3 + 2 * spec.shape.size();
  std::vector<int64_t> resultStorage(resultWords, 0);
  std::vector<Descriptor> stateDescriptors;
  stateDescriptors.reserve(entry.inputs.size());
  std::vector<void *> args;
  if (!entry.outputs.empty())
    args.push_back(resultStorage.data());
  size_t user = 0;
  for (const TensorSpec &spec : entry.inputs) {
    if (spec.state.empty()) {
      args.push_back(inputs[user++].words.data());
      continue;
    }
    stateDescriptors.push_back(
        Descriptor::make(state.data(spec.state), spec.shape));
    args.push_back(stateDescriptors.back().words.data());
  }
  for (size_t weight : entry.weights)
    args.push_back(weights[weight].words.data());
  moec_entries[index](args.data());
  std::vector<Result> results = readResults(entry, resultStorage);
  // The state's new values; an entry that updated its buffer in place
  // returned the buffer itself.
  for (size_t i = 0; i < entry.outputs.size(); ++i) {
    const TensorSpec &spec = entry.outputs[i];
    if (spec.state.empty())
      continue;
    uint8_t *buffer = state.data(spec.state);
    if (results[i].data != buffer)
      std::memmove(buffer, results[i].data, results[i].bytes);
  }
  return results;
}

void moec::rt::releaseResults(
    std::vector<Result> &results,
    const std::vector<std::pair<const void *, size_t>> &owned) {
  for (Result &r : results) {
    // A result that is an input, a weight or state was not allocated by
    // the model.
    bool borrowed = std::any_of(owned.begin(), owned.end(), [&](auto &range) {
      auto *p = static_cast<const uint8_t *>(r.allocated);
      auto *base = static_cast<const uint8_t *>(range.first);
      return p >= base && p <= base + range.second;
    });
    bool freedBefore = false;
    for (Result &other : results)
      if (&other == &r)
        break;
      else if (other.allocated == r.allocated)
        freedBefore = true;
    if (!borrowed && !freedBefore)
      std::free(r.allocated);
  }
  results.clear();
}
