//===- TokenRun.cpp - Running a decoder model on token ids ----------------===//

#include "runtime/host/TokenRun.h"

#include "runtime/formats/Npy.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace moec::rt;

[[noreturn]] static void fail(const std::string &message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  std::exit(1);
}

/// The user's one input or output of `values`, if it is the only one.
static const TensorSpec *onlyUserValue(const std::vector<TensorSpec> &values) {
  const TensorSpec *found = nullptr;
  for (const TensorSpec &spec : values) {
    if (!spec.state.empty())
      continue;
    if (found)
      return nullptr;
    found = &spec;
  }
  return found;
}

bool moec::rt::isTokenEntry(const EntrySpec &entry) {
  std::vector<const TensorSpec *> in;
  for (const TensorSpec &spec : entry.inputs)
    if (spec.state.empty())
      in.push_back(&spec);
  const TensorSpec *out = onlyUserValue(entry.outputs);
  return in.size() == 2 && out && in[0]->name == "tokens" &&
         in[0]->dtype == DType::I64 && in[0]->shape.size() == 1 &&
         in[1]->name == "logit_rows" && in[1]->dtype == DType::I64 &&
         in[1]->shape == std::vector<int64_t>{1} && out->name == "logits" &&
         out->dtype == DType::F32 && out->shape.size() == 2 &&
         out->shape[1] > 0;
}

size_t moec::rt::logitsOutput(const EntrySpec &entry) {
  size_t index = 0;
  while (!entry.outputs[index].state.empty())
    ++index;
  return index;
}

int64_t moec::rt::logitsVocabulary(const EntrySpec &entry) {
  return entry.outputs[logitsOutput(entry)].shape[1];
}

/// The ids of `file` as int64.
static std::vector<int64_t> readIds(const std::string &file) {
  NpyArray array;
  std::string error;
  if (!readNpy(file, array, error))
    fail("--tokens: " + error);
  if (array.shape.size() != 1)
    fail("--tokens: '" + file + "' must hold a vector of ids [T], not rank " +
         std::to_string(array.shape.size()));
  std::vector<int64_t> ids(array.shape[0]);
  const uint8_t *data = array.buffer.data.get();
  if (array.dtype == DType::I64) {
    std::memcpy(ids.data(), data, ids.size() * 8);
  } else if (array.dtype == DType::I32) {
    for (size_t i = 0; i < ids.size(); ++i) {
      int32_t v;
      std::memcpy(&v, data + 4 * i, 4);
      ids[i] = v;
    }
  } else {
    fail("--tokens: '" + file + "' is " + numpyName(array.dtype) +
         "; token ids are int32 or int64");
  }
  return ids;
}

void moec::rt::runTokens(
    const Model &model, size_t entry, const TokenRunOptions &options,
    std::vector<Descriptor> &weights, StateBuffers &state,
    const std::vector<std::pair<const void *, size_t>> &owned) {
  std::vector<int64_t> ids = readIds(options.tokensFile);
  int64_t total = int64_t(ids.size());
  int64_t chunk = options.chunk ? options.chunk : std::max<int64_t>(total, 1);
  if (chunk > model.maxTokens)
    fail(std::to_string(chunk) +
         " tokens in one call, more than the model's "
         "maximum of " +
         std::to_string(model.maxTokens) +
         " (feed them in pieces with --chunk N)");
  const EntrySpec &spec = model.entries[entry];
  size_t logitsIndex = logitsOutput(spec);
  int64_t vocab = logitsVocabulary(spec);
  if (options.lastOnly && total == 0)
    fail("--last-logits: there are no tokens");
  // The rows written: every token's, or with --last-logits the last one.
  int64_t rowsKept = options.lastOnly ? 1 : total;
  std::vector<float> logits;
  logits.reserve(size_t(rowsKept) * vocab);
  // --last-logits: the model computes the last row of each call only.
  int64_t rowsWanted = options.lastOnly ? 1 : 0;
  for (int64_t begin = 0; begin < total || (total == 0 && begin == 0);
       begin += chunk) {
    int64_t count = std::min(chunk, total - begin);
    std::vector<Descriptor> inputs{
        Descriptor::make(ids.data() + begin, {count}),
        Descriptor::make(&rowsWanted, {1})};
    std::vector<Result> results =
        callEntry(model, entry, inputs, weights, state);
    const Result &r = results[logitsIndex];
    const float *rows = reinterpret_cast<const float *>(r.data);
    if (options.lastOnly)
      logits.clear();
    logits.insert(logits.end(), rows, rows + r.bytes / sizeof(float));
    releaseResults(results, owned);
    if (total == 0)
      break;
  }
  std::vector<int64_t> shape{rowsKept, vocab};
  const float *data = logits.data();
  size_t bytes = size_t(shape[0]) * vocab * sizeof(float);
  if (options.logitsFile.empty()) {
    std::printf("logits: float32 [%lld, %lld]\n", (long long)shape[0],
                (long long)vocab);
    return;
  }
  std::string error;
  if (!writeNpy(options.logitsFile, DType::F32, shape, data, bytes, error))
    fail(error);
}
