//===- RoutingProfile.cpp - Routing profiles: record, write, read, merge --===//

#include "runtime/formats/RoutingProfile.h"

#include "runtime/formats/Json.h"
#include "runtime/formats/MappedFile.h"
#include "runtime/formats/SafeTensors.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>

#include <unistd.h>

using namespace moec::rt;

static constexpr const char kFormat[] = "moec-routing-profile";
static constexpr int64_t kVersion = 1;

void LayerProfile::reset(int64_t numExperts, int64_t k, int64_t h, int64_t i,
                         bool allocateMeans) {
  experts = numExperts;
  topK = k;
  hidden = h;
  intermediate = i;
  tokens = 0;
  routed.assign(experts, 0);
  weightSum.assign(experts, 0.0);
  saliencySum.assign(experts, 0.0);
  coselected.assign(experts * experts, 0);
  int64_t ranks = std::max<int64_t>(topK - 1, 0);
  ratioSum.assign(ranks, 0.0);
  ratioMin.assign(ranks, std::numeric_limits<double>::infinity());
  ratioMax.assign(ranks, 0.0);
  ratioHistogram.assign(ranks * kRatioBins, 0);
  if (!allocateMeans)
    return;
  outputSum.assign(experts * hidden, 0.0);
  inputAbsSum.assign(experts * hidden, 0.0);
  hiddenAbsSum.assign(experts * intermediate, 0.0);
}

void LayerProfile::addRouting(const int32_t *ids, const float *weights) {
  ++tokens;
  for (int64_t a = 0; a < topK; ++a)
    for (int64_t b = a + 1; b < topK; ++b) {
      int32_t x = ids[a], y = ids[b];
      if (x < 0 || y < 0 || x >= experts || y >= experts || x == y)
        continue;
      ++coselected[x * experts + y];
      ++coselected[y * experts + x];
    }
  std::vector<double> sorted(weights, weights + topK);
  std::sort(sorted.begin(), sorted.end(), std::greater<double>());
  if (topK < 2 || !(sorted[0] > 0.0))
    return;
  for (int64_t r = 1; r < topK; ++r) {
    double ratio = std::clamp(sorted[r] / sorted[0], 0.0, 1.0);
    ratioSum[r - 1] += ratio;
    ratioMin[r - 1] = std::min(ratioMin[r - 1], ratio);
    ratioMax[r - 1] = std::max(ratioMax[r - 1], ratio);
    int64_t bin =
        std::min<int64_t>(int64_t(ratio * kRatioBins), kRatioBins - 1);
    ++ratioHistogram[(r - 1) * kRatioBins + bin];
  }
}

void LayerProfile::addExpertRow(int64_t e, float weight, const float *input,
                                const float *hiddenRow, const float *output) {
  ++routed[e];
  weightSum[e] += weight;
  ++coselected[e * experts + e];
  double norm = 0.0;
  for (int64_t h = 0; h < hidden; ++h) {
    norm += double(output[h]) * output[h];
    outputSum[e * hidden + h] += output[h];
    inputAbsSum[e * hidden + h] += std::fabs(input[h]);
  }
  for (int64_t i = 0; i < intermediate; ++i)
    hiddenAbsSum[e * intermediate + i] += std::fabs(hiddenRow[i]);
  saliencySum[e] += weight * std::sqrt(norm);
}

std::string moec::rt::profileSidecarPath(const std::string &path) {
  const std::string json = ".json";
  if (path.size() > json.size() &&
      path.compare(path.size() - json.size(), json.size(), json) == 0)
    return path.substr(0, path.size() - json.size()) + ".safetensors";
  return path + ".safetensors";
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

static std::string number(double value) {
  if (std::isinf(value))
    return "null";
  char text[32];
  std::snprintf(text, sizeof(text), "%.17g", value);
  return text;
}

template <typename T>
static void appendArray(std::string &out, const T *values, int64_t n) {
  out += "[";
  for (int64_t i = 0; i < n; ++i) {
    out += i ? ", " : "";
    if constexpr (std::is_integral_v<T>)
      out += std::to_string(values[i]);
    else
      out += number(values[i]);
  }
  out += "]";
}

static std::string baseName(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

/// Means over routed tokens, as f32 [E, width].
static std::vector<float> means(const std::vector<double> &sums,
                                const std::vector<int64_t> &routed,
                                int64_t width) {
  std::vector<float> out(sums.size());
  for (size_t i = 0; i < sums.size(); ++i) {
    int64_t n = routed[i / width];
    out[i] = n ? float(sums[i] / double(n)) : 0.0f;
  }
  return out;
}

static bool writeText(const std::string &path, const std::string &text,
                      std::string &error) {
  std::string temporary = path + ".tmp";
  FILE *file = std::fopen(temporary.c_str(), "wb");
  bool ok =
      file && std::fwrite(text.data(), 1, text.size(), file) == text.size();
  if (file)
    ok = std::fclose(file) == 0 && ok;
  if (ok && std::rename(temporary.c_str(), path.c_str()) == 0)
    return true;
  std::remove(temporary.c_str());
  error = "cannot write '" + path + "'";
  return false;
}

bool moec::rt::writeRoutingProfile(const RoutingProfile &profile,
                                   const std::string &path,
                                   std::string &error) {
  std::string sidecar = profileSidecarPath(path);
  std::vector<std::vector<float>> buffers;
  std::vector<TensorToWrite> tensors;
  buffers.reserve(3 * profile.layers.size());
  auto addTensor = [&](size_t layer, const char *name, std::vector<float> data,
                       int64_t width) {
    buffers.push_back(std::move(data));
    const std::vector<float> &values = buffers.back();
    tensors.push_back(
        {"layers." + std::to_string(layer) + "." + name,
         DType::F32,
         {int64_t(values.size()) / std::max<int64_t>(width, 1), width},
         values.data(),
         values.size() * sizeof(float)});
  };
  std::string json = "{\n  \"format\": \"" + std::string(kFormat) +
                     "\",\n  \"version\": " + std::to_string(kVersion) +
                     ",\n  \"model\": ";
  json::appendQuoted(json, profile.model);
  json += ",\n  \"sidecar\": ";
  json::appendQuoted(json, baseName(sidecar));
  json += ",\n  \"layers\": [";
  for (size_t l = 0; l < profile.layers.size(); ++l) {
    const LayerProfile &layer = profile.layers[l];
    int64_t e = layer.experts;
    json += l ? ",\n    {" : "\n    {";
    json += "\"layer\": " + std::to_string(l) +
            ", \"experts\": " + std::to_string(e) +
            ", \"top_k\": " + std::to_string(layer.topK) +
            ", \"hidden\": " + std::to_string(layer.hidden) +
            ", \"intermediate\": " + std::to_string(layer.intermediate) +
            ", \"tokens\": " + std::to_string(layer.tokens) +
            ",\n     \"routed_tokens\": ";
    appendArray(json, layer.routed.data(), e);
    json += ",\n     \"weight_sum\": ";
    appendArray(json, layer.weightSum.data(), e);
    json += ",\n     \"saliency_sum\": ";
    appendArray(json, layer.saliencySum.data(), e);
    json += ",\n     \"coselection\": [";
    for (int64_t x = 0; x < e; ++x) {
      json += x ? ", " : "";
      appendArray(json, layer.coselected.data() + x * e, e);
    }
    json += "],\n     \"weight_ratio\": [";
    for (int64_t r = 1; r < layer.topK; ++r) {
      int64_t counted = 0;
      for (int64_t b = 0; b < kRatioBins; ++b)
        counted += layer.ratioHistogram[(r - 1) * kRatioBins + b];
      json += r > 1 ? ",\n       " : "\n       ";
      json += "{\"rank\": " + std::to_string(r + 1) +
              ", \"count\": " + std::to_string(counted) +
              ", \"sum\": " + number(layer.ratioSum[r - 1]) +
              ", \"min\": " + number(layer.ratioMin[r - 1]) +
              ", \"max\": " + number(layer.ratioMax[r - 1]) +
              ", \"histogram\": ";
      appendArray(json, layer.ratioHistogram.data() + (r - 1) * kRatioBins,
                  kRatioBins);
      json += "}";
    }
    json += "]}";
    addTensor(l, "expert_output_mean",
              means(layer.outputSum, layer.routed, layer.hidden), layer.hidden);
    addTensor(l, "expert_input_mean_abs",
              means(layer.inputAbsSum, layer.routed, layer.hidden),
              layer.hidden);
    addTensor(l, "expert_hidden_mean_abs",
              means(layer.hiddenAbsSum, layer.routed, layer.intermediate),
              layer.intermediate);
  }
  json += "\n  ]\n}\n";
  Metadata metadata = {{"format", kFormat}, {"model", profile.model}};
  if (!writeSafeTensors(sidecar, tensors, metadata, error))
    return false;
  return writeText(path, json, error);
}

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

namespace {
/// Reads fields of one JSON object, remembering the first error.
class FieldReader {
public:
  FieldReader(const json::Value &object, std::string where, std::string &error)
      : object(object), where(std::move(where)), error(error) {}

  bool integer(const char *key, int64_t &out) {
    const json::Value *value = find(key, json::Value::Kind::Number);
    uint64_t parsed;
    if (value &&
        (!json::toUInt64(*value, parsed) || parsed > uint64_t(1) << 40))
      return fail(std::string("'") + key + "' is not a count");
    out = value ? int64_t(parsed) : 0;
    return value;
  }
  template <typename T>
  bool array(const char *key, std::vector<T> &out, int64_t size) {
    const json::Value *value = find(key, json::Value::Kind::Array);
    return value && elements(*value, key, out, size);
  }
  template <typename T>
  bool elements(const json::Value &value, const char *key, std::vector<T> &out,
                int64_t size) {
    if (int64_t(value.array.size()) != size)
      return fail(std::string("'") + key + "' has " +
                  std::to_string(value.array.size()) + " entries, expected " +
                  std::to_string(size));
    for (const json::Value &item : value.array) {
      if (item.kind == json::Value::Kind::Null && !std::is_integral_v<T>) {
        out.push_back(std::numeric_limits<double>::infinity());
        continue;
      }
      if (item.kind != json::Value::Kind::Number)
        return fail(std::string("'") + key + "' holds a non-number");
      if constexpr (std::is_integral_v<T>) {
        uint64_t parsed;
        if (!json::toUInt64(item, parsed))
          return fail(std::string("'") + key + "' holds a non-count");
        out.push_back(T(parsed));
      } else {
        out.push_back(item.number);
      }
    }
    return true;
  }
  const json::Value *find(const char *key, json::Value::Kind kind) {
    const json::Value *value = object.find(key);
    if (!value || value->kind != kind) {
      fail(std::string(value ? "wrong type of '" : "missing '") + key + "'");
      return nullptr;
    }
    return value;
  }
  bool fail(const std::string &message) {
    if (error.empty())
      error = where + ": " + message;
    return false;
  }

private:
  const json::Value &object;
  std::string where;
  std::string &error;
};
} // namespace

static bool readText(const std::string &path, std::string &text,
                     std::string &error) {
  // Regular files of a sane size only: /dev/zero or a FIFO would be read
  // until memory runs out, or forever.
  constexpr uint64_t kMaxBytes = uint64_t(1) << 30;
  if (::access(path.c_str(), F_OK) != 0) {
    error = "cannot open '" + path + "'";
    return false;
  }
  std::optional<uint64_t> size = regularFileSize(path);
  if (!size || *size > kMaxBytes) {
    error = "'" + path + "' is not a regular file of at most 1 GiB";
    return false;
  }
  FILE *file = std::fopen(path.c_str(), "rb");
  if (!file) {
    error = "cannot open '" + path + "'";
    return false;
  }
  char chunk[65536];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof(chunk), file)) > 0)
    text.append(chunk, n);
  std::fclose(file);
  return true;
}

static bool readLayer(const json::Value &object, size_t index,
                      const std::string &path, LayerProfile &layer,
                      std::string &error) {
  FieldReader read(object, path + ": layer " + std::to_string(index), error);
  int64_t e, k, h, i, tokens;
  if (object.kind != json::Value::Kind::Object)
    return read.fail("not an object");
  if (!read.integer("experts", e) || !read.integer("top_k", k) ||
      !read.integer("hidden", h) || !read.integer("intermediate", i) ||
      !read.integer("tokens", tokens))
    return false;
  if (e < 1 || k < 1 || k > e || h < 1 || i < 1 || e > 65536)
    return read.fail("implausible shape");
  // Nothing of size experts^2 or experts * hidden is allocated before the
  // file shows it holds that much: the co-selection rows (in the JSON) here,
  // the per-expert means (in the sidecar) when they are read.
  const json::Value *rows = read.find("coselection", json::Value::Kind::Array);
  if (!rows)
    return false;
  if (int64_t(rows->array.size()) != e ||
      std::any_of(rows->array.begin(), rows->array.end(),
                  [&](const json::Value &row) {
                    return int64_t(row.array.size()) != e;
                  }))
    return read.fail("'coselection' is not [experts, experts]");
  layer.reset(e, k, h, i, /*allocateMeans=*/false);
  layer.tokens = tokens;
  layer.routed.clear();
  layer.weightSum.clear();
  layer.saliencySum.clear();
  layer.coselected.clear();
  if (!read.array("routed_tokens", layer.routed, e) ||
      !read.array("weight_sum", layer.weightSum, e) ||
      !read.array("saliency_sum", layer.saliencySum, e))
    return false;
  for (const json::Value &row : rows->array)
    if (row.kind != json::Value::Kind::Array ||
        !read.elements(row, "coselection", layer.coselected, e))
      return read.fail("'coselection' is not [experts, experts]");
  const json::Value *ratios =
      read.find("weight_ratio", json::Value::Kind::Array);
  if (!ratios)
    return false;
  if (int64_t(ratios->array.size()) != k - 1)
    return read.fail("'weight_ratio' needs top_k - 1 entries");
  layer.ratioSum.clear();
  layer.ratioMin.clear();
  layer.ratioMax.clear();
  layer.ratioHistogram.clear();
  for (const json::Value &ratio : ratios->array) {
    FieldReader field(
        ratio, path + ": layer " + std::to_string(index) + " weight_ratio",
        error);
    if (ratio.kind != json::Value::Kind::Object)
      return field.fail("not an object");
    std::vector<double> scalars;
    for (const char *key : {"sum", "min", "max"}) {
      const json::Value *value = ratio.find(key);
      if (!value || (value->kind != json::Value::Kind::Number &&
                     value->kind != json::Value::Kind::Null))
        return field.fail(std::string("missing '") + key + "'");
      scalars.push_back(value->kind == json::Value::Kind::Null
                            ? std::numeric_limits<double>::infinity()
                            : value->number);
    }
    layer.ratioSum.push_back(scalars[0]);
    layer.ratioMin.push_back(scalars[1]);
    layer.ratioMax.push_back(scalars[2]);
    std::vector<int64_t> histogram;
    if (!field.array("histogram", histogram, kRatioBins))
      return false;
    layer.ratioHistogram.insert(layer.ratioHistogram.end(), histogram.begin(),
                                histogram.end());
  }
  return true;
}

/// Fills a layer's sums from the sidecar's means.
static bool readSidecarTensor(const SafeTensorsFile &file, size_t index,
                              const char *name, int64_t width,
                              const std::vector<int64_t> &routed,
                              std::vector<double> &sums, std::string &error) {
  std::string key = "layers." + std::to_string(index) + "." + name;
  const TensorInfo *info = file.find(key);
  int64_t rows = int64_t(routed.size());
  if (!info || info->dtype != DType::F32 ||
      info->shape != std::vector<int64_t>{rows, width}) {
    error = file.path() + ": no f32 [" + std::to_string(rows) + ", " +
            std::to_string(width) + "] tensor '" + key + "'";
    return false;
  }
  // The tensor's bytes need not be 4-aligned in the file.
  const uint8_t *bytes = file.data(*info);
  sums.assign(rows * width, 0.0);
  for (int64_t i = 0; i < rows * width; ++i) {
    float value;
    std::memcpy(&value, bytes + 4 * i, 4);
    sums[i] = double(value) * double(routed[i / width]);
  }
  return true;
}

bool moec::rt::readRoutingProfile(const std::string &path,
                                  RoutingProfile &profile, std::string &error) {
  std::string text;
  if (!readText(path, text, error))
    return false;
  json::Value root;
  if (!json::parse(text, root, error)) {
    error = path + ": " + error;
    return false;
  }
  if (root.kind != json::Value::Kind::Object) {
    error = path + ": not a routing profile (no JSON object)";
    return false;
  }
  FieldReader read(root, path, error);
  const json::Value *format = read.find("format", json::Value::Kind::String);
  if (!format || format->string != kFormat) {
    error = path + ": not a moec routing profile";
    return false;
  }
  int64_t version;
  if (!read.integer("version", version))
    return false;
  if (version != kVersion)
    return read.fail("version " + std::to_string(version) +
                     " (this moec reads version " + std::to_string(kVersion) +
                     ")");
  const json::Value *model = read.find("model", json::Value::Kind::String);
  const json::Value *layers = read.find("layers", json::Value::Kind::Array);
  if (!model || !layers)
    return false;
  profile.model = model->string;
  profile.layers.assign(layers->array.size(), LayerProfile());
  for (size_t l = 0; l < layers->array.size(); ++l)
    if (!readLayer(layers->array[l], l, path, profile.layers[l], error))
      return false;

  std::unique_ptr<SafeTensorsFile> sidecar =
      SafeTensorsFile::open(profileSidecarPath(path), error);
  if (!sidecar) {
    error = "the profile's sidecar: " + error;
    return false;
  }
  for (size_t l = 0; l < profile.layers.size(); ++l) {
    LayerProfile &layer = profile.layers[l];
    if (!readSidecarTensor(*sidecar, l, "expert_output_mean", layer.hidden,
                           layer.routed, layer.outputSum, error) ||
        !readSidecarTensor(*sidecar, l, "expert_input_mean_abs", layer.hidden,
                           layer.routed, layer.inputAbsSum, error) ||
        !readSidecarTensor(*sidecar, l, "expert_hidden_mean_abs",
                           layer.intermediate, layer.routed, layer.hiddenAbsSum,
                           error))
      return false;
  }
  return true;
}

//===----------------------------------------------------------------------===//
// Merging
//===----------------------------------------------------------------------===//

template <typename T>
static void addInto(std::vector<T> &into, const std::vector<T> &other) {
  for (size_t i = 0; i < into.size(); ++i)
    into[i] += other[i];
}

bool moec::rt::mergeRoutingProfiles(RoutingProfile &into,
                                    const RoutingProfile &other,
                                    std::string &error) {
  if (into.layers.size() != other.layers.size()) {
    error = "the profiles have " + std::to_string(into.layers.size()) +
            " and " + std::to_string(other.layers.size()) + " MoE layers";
    return false;
  }
  for (size_t l = 0; l < into.layers.size(); ++l) {
    LayerProfile &a = into.layers[l];
    const LayerProfile &b = other.layers[l];
    if (a.experts != b.experts || a.topK != b.topK || a.hidden != b.hidden ||
        a.intermediate != b.intermediate) {
      error = "layer " + std::to_string(l) +
              " differs in shape (experts, top_k, hidden, intermediate)";
      return false;
    }
    a.tokens += b.tokens;
    addInto(a.routed, b.routed);
    addInto(a.weightSum, b.weightSum);
    addInto(a.saliencySum, b.saliencySum);
    addInto(a.coselected, b.coselected);
    addInto(a.ratioSum, b.ratioSum);
    addInto(a.ratioHistogram, b.ratioHistogram);
    for (size_t r = 0; r < a.ratioMin.size(); ++r) {
      a.ratioMin[r] = std::min(a.ratioMin[r], b.ratioMin[r]);
      a.ratioMax[r] = std::max(a.ratioMax[r], b.ratioMax[r]);
    }
    addInto(a.outputSum, b.outputSum);
    addInto(a.inputAbsSum, b.inputAbsSum);
    addInto(a.hiddenAbsSum, b.hiddenAbsSum);
  }
  return true;
}
