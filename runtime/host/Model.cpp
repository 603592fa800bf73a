//===- Model.cpp - What a compiled model needs at run time ----------------===//

#include "runtime/host/Model.h"

#include "runtime/formats/Checksum.h"
#include "runtime/formats/Json.h"
#include "runtime/host/ThreadPool.h"

#include <algorithm>

using namespace moec::rt;

static bool parseTensor(const json::Value &value, TensorSpec &spec,
                        bool needShape, std::string &error) {
  const json::Value *name = value.find("name");
  const json::Value *dtype = value.find("dtype");
  const json::Value *shape = value.find("shape");
  if (!name || !dtype || name->kind != json::Value::Kind::String ||
      dtype->kind != json::Value::Kind::String ||
      (needShape && (!shape || shape->kind != json::Value::Kind::Array))) {
    error = "manifest: a tensor entry lacks name, dtype or shape";
    return false;
  }
  spec.name = name->string;
  std::optional<DType> parsed = parseDType(dtype->string);
  if (!parsed) {
    error = "manifest: unknown dtype " + dtype->string;
    return false;
  }
  spec.dtype = *parsed;
  spec.shape.clear();
  if (shape)
    for (const json::Value &dim : shape->array)
      spec.shape.push_back(int64_t(dim.number));
  return true;
}

bool moec::rt::parseManifest(const std::string &text, Model &model,
                             std::string &error) {
  json::Value root;
  if (!json::parse(text, root, error)) {
    error = "manifest: " + error;
    return false;
  }
  auto field = [&](const char *key) { return root.find(key); };
  if (const json::Value *name = field("model"))
    model.name = name->string;
  if (const json::Value *max = field("max_tokens"))
    model.maxTokens = int64_t(max->number);
  if (const json::Value *layers = field("profiled_layers"))
    model.profiledLayers = int64_t(layers->number);
  if (const json::Value *file = field("weights_file"))
    model.weightsFile = file->string;
  if (const json::Value *sum = field("weights_checksum"))
    model.weightsChecksum = sum->string;
  const json::Value *inputs = field("inputs");
  const json::Value *outputs = field("outputs");
  const json::Value *weights = field("weights");
  if (!inputs || !outputs || !weights) {
    error = "manifest: missing inputs, outputs or weights";
    return false;
  }
  for (const json::Value &entry : inputs->array) {
    model.inputs.emplace_back();
    if (!parseTensor(entry, model.inputs.back(), true, error))
      return false;
  }
  for (const json::Value &entry : outputs->array) {
    model.outputs.emplace_back();
    if (!parseTensor(entry, model.outputs.back(), true, error))
      return false;
  }
  for (const json::Value &entry : weights->array) {
    WeightSpec spec;
    if (!parseTensor(entry, spec.tensor, true, error))
      return false;
    if (const json::Value *bytes = entry.find("bytes"))
      spec.bytes = uint64_t(bytes->number);
    if (const json::Value *offset = entry.find("embedded_offset"))
      spec.embeddedOffset = int64_t(offset->number);
    if (const json::Value *fraction = entry.find("routed_fraction"))
      spec.routedFraction = fraction->number;
    model.weights.push_back(std::move(spec));
  }
  return true;
}

/// The checksum of the file's weights in manifest order.
static uint64_t checksumWeights(const Model &model) {
  struct Chunk {
    const uint8_t *data;
    size_t size;
    uint64_t hash;
    bool startsTensor;
  };
  std::vector<Chunk> chunks;
  for (const WeightSpec &w : model.weights) {
    if (w.embeddedOffset >= 0)
      continue;
    size_t offset = 0;
    do {
      size_t size = std::min(kChecksumChunkBytes, size_t(w.bytes) - offset);
      chunks.push_back({w.data + offset, size, 0, offset == 0});
      offset += size;
    } while (offset < w.bytes);
  }
  // On the binary's thread pool, like everything else that runs in parallel.
  moec_parallel_for(
      int64_t(chunks.size()), int64_t(kChecksumChunkBytes),
      [](void *context, int64_t begin, int64_t end) {
        auto &all = *static_cast<std::vector<Chunk> *>(context);
        for (int64_t i = begin; i < end; ++i)
          all[i].hash = hashChunk(all[i].data, all[i].size);
      },
      &chunks);
  // Fold chunks into per-tensor checksums, then tensors in order.
  uint64_t total = 0, tensor = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (chunks[i].startsTensor) {
      if (i > 0)
        total = foldChecksum(total, tensor);
      tensor = 0;
    }
    tensor = foldChecksum(tensor, chunks[i].hash);
  }
  if (!chunks.empty())
    total = foldChecksum(total, tensor);
  return total;
}

bool moec::rt::bindWeights(Model &model, const uint8_t *blob, size_t blobSize,
                           const std::string &directory, std::string &error) {
  bool needsFile = false;
  for (WeightSpec &w : model.weights) {
    if (w.embeddedOffset < 0) {
      needsFile = true;
      continue;
    }
    if (uint64_t(w.embeddedOffset) + w.bytes > blobSize) {
      error = "embedded weight '" + w.tensor.name + "' lies outside the blob";
      return false;
    }
    w.data = blob + w.embeddedOffset;
  }
  if (!needsFile)
    return true;
  std::string path = directory + "/" + model.weightsFile;
  model.mapped = SafeTensorsFile::open(path, error);
  if (!model.mapped) {
    error = "cannot load the weights file: " + error;
    return false;
  }
  for (WeightSpec &w : model.weights) {
    if (w.embeddedOffset >= 0)
      continue;
    const TensorInfo *info = model.mapped->find(w.tensor.name);
    if (!info || info->dtype != w.tensor.dtype ||
        info->shape != w.tensor.shape || info->size != w.bytes) {
      error = "weights file '" + path + "' does not match this binary: " +
              (info ? "tensor '" + w.tensor.name + "' has another type or shape"
                    : "tensor '" + w.tensor.name + "' is missing");
      return false;
    }
    w.data = model.mapped->data(*info);
  }
  std::string actual = checksumToHex(checksumWeights(model));
  if (actual != model.weightsChecksum) {
    error = "weights file '" + path + "' is corrupt: checksum " + actual +
            ", expected " + model.weightsChecksum;
    return false;
  }
  return true;
}
