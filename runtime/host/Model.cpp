//===- Model.cpp - What a compiled model needs at run time ----------------===//

#include "runtime/host/Model.h"

#include "moec/Runtime/BinaryAbi.h"

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
  if (const json::Value *state = value.find("state"))
    spec.state = state->string;
  return true;
}

static bool parseTensors(const json::Value *list, std::vector<TensorSpec> &out,
                         std::string &error) {
  if (!list || list->kind != json::Value::Kind::Array) {
    error = "manifest: an entry lacks its inputs or outputs";
    return false;
  }
  for (const json::Value &entry : list->array) {
    out.emplace_back();
    if (!parseTensor(entry, out.back(), true, error))
      return false;
  }
  return true;
}

static bool parseEntry(const json::Value &value, const Model &model,
                       EntrySpec &entry, std::string &error) {
  const json::Value *name = value.find("name");
  const json::Value *weights = value.find("weights");
  if (!name || name->kind != json::Value::Kind::String || !weights ||
      weights->kind != json::Value::Kind::Array) {
    error = "manifest: an entry lacks its name or weights";
    return false;
  }
  entry.name = name->string;
  if (!parseTensors(value.find("inputs"), entry.inputs, error) ||
      !parseTensors(value.find("outputs"), entry.outputs, error))
    return false;
  for (const json::Value &index : weights->array) {
    if (index.number < 0 || index.number >= double(model.weights.size())) {
      error = "manifest: entry '" + entry.name + "' names a weight outside " +
              "the list";
      return false;
    }
    entry.weights.push_back(size_t(index.number));
  }
  for (const std::vector<TensorSpec> *list : {&entry.inputs, &entry.outputs})
    for (const TensorSpec &spec : *list)
      if (!spec.state.empty() &&
          std::none_of(model.state.begin(), model.state.end(),
                       [&](const TensorSpec &s) {
                         return s.name == spec.state && s.dtype == spec.dtype &&
                                s.shape == spec.shape;
                       })) {
        error = "manifest: entry '" + entry.name + "' uses state '" +
                spec.state + "', which the state list lacks or types " +
                "differently";
        return false;
      }
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
  if (const json::Value *context = field("context"))
    model.context = int64_t(context->number);
  if (const json::Value *max = field("max_tokens"))
    model.maxTokens = int64_t(max->number);
  if (const json::Value *layers = field("profiled_layers"))
    model.profiledLayers = int64_t(layers->number);
  if (const json::Value *file = field("weights_file"))
    model.weightsFile = file->string;
  if (const json::Value *sum = field("weights_checksum"))
    model.weightsChecksum = sum->string;
  const json::Value *format = field("format");
  if (!format || format->number != MOEC_ABI_MANIFEST_FORMAT) {
    error = "manifest: format " +
            (format ? std::to_string(int64_t(format->number)) : "(none)") +
            ", this runtime reads format " +
            std::to_string(MOEC_ABI_MANIFEST_FORMAT);
    return false;
  }
  const json::Value *entries = field("entries");
  const json::Value *state = field("state");
  const json::Value *weights = field("weights");
  if (!entries || !state || !weights || entries->array.empty()) {
    error = "manifest: missing entries, state or weights";
    return false;
  }
  for (const json::Value &entry : state->array) {
    model.state.emplace_back();
    if (!parseTensor(entry, model.state.back(), true, error))
      return false;
    const std::vector<int64_t> &shape = model.state.back().shape;
    for (size_t d = 0; d < shape.size(); ++d)
      if (shape[d] < 0 && (d != 0 || model.context <= 0)) {
        error = "manifest: state '" + model.state.back().name +
                "' has a dynamic shape";
        return false;
      }
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
  if (const json::Value *files = field("files"))
    for (const json::Value &entry : files->array) {
      Model::EmbeddedFile file;
      const json::Value *name = entry.find("name");
      const json::Value *offset = entry.find("embedded_offset");
      const json::Value *bytes = entry.find("bytes");
      if (!name || !offset || !bytes || !json::toUInt64(*offset, file.offset) ||
          !json::toUInt64(*bytes, file.bytes)) {
        error = "manifest: a file lacks its name, offset or size";
        return false;
      }
      file.name = name->string;
      model.files.push_back(std::move(file));
    }
  for (const json::Value &value : entries->array) {
    model.entries.emplace_back();
    if (!parseEntry(value, model, model.entries.back(), error))
      return false;
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

bool moec::rt::bindEmbeddedFiles(Model &model, const uint8_t *blob,
                                 size_t blobSize, std::string &error) {
  for (Model::EmbeddedFile &file : model.files) {
    if (file.offset > blobSize || file.bytes > blobSize - file.offset) {
      error = "embedded file '" + file.name + "' lies outside the blob";
      return false;
    }
    file.contents = std::string_view(
        reinterpret_cast<const char *>(blob) + file.offset, file.bytes);
  }
  return true;
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

void moec::rt::resolveContext(Model &model, int64_t context) {
  auto resolve = [&](TensorSpec &spec) {
    if (!spec.shape.empty() && spec.shape[0] < 0)
      spec.shape[0] = context;
  };
  for (TensorSpec &spec : model.state)
    resolve(spec);
  for (EntrySpec &entry : model.entries) {
    for (TensorSpec &spec : entry.inputs)
      if (!spec.state.empty())
        resolve(spec);
    for (TensorSpec &spec : entry.outputs)
      if (!spec.state.empty())
        resolve(spec);
  }
}
