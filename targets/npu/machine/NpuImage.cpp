//===- NpuImage.cpp - What an NPU binary embeds ---------------------------===//
//
// Layout: "MOECNPUI", u32 version, u32 entry count, u64 chip text size and
// the text; per entry: three tensor lists (u32 count; per tensor u32 element
// bytes, u32 rank, i64 dims) and u32 bucket count; per bucket: i64 tokens,
// u64 program size and the program. Little-endian.
//
//===----------------------------------------------------------------------===//

#include "machine/NpuImage.h"

#include <cstring>

using namespace moec::npu;

static const char kImageMagic[8] = {'M', 'O', 'E', 'C', 'N', 'P', 'U', 'I'};

namespace {
struct Writer {
  std::string out;
  template <typename T> void put(T value) {
    out.append(reinterpret_cast<const char *>(&value), sizeof value);
  }
  void bytes(const std::string &data) {
    put<uint64_t>(data.size());
    out += data;
  }
};

struct Reader {
  const uint8_t *data;
  size_t size, at = 0;
  std::string &error;
  template <typename T> bool get(T &value, const char *what) {
    if (size - at < sizeof value) {
      error = std::string("NPU image truncated at its ") + what;
      return false;
    }
    std::memcpy(&value, data + at, sizeof value);
    at += sizeof value;
    return true;
  }
  bool bytes(std::string &value, const char *what) {
    uint64_t n;
    if (!get(n, what))
      return false;
    if (n > size - at) {
      error = std::string("NPU image's ") + what + " runs past its end";
      return false;
    }
    value.assign(reinterpret_cast<const char *>(data + at), n);
    at += n;
    return true;
  }
};
} // namespace

std::string moec::npu::encodeImage(const NpuImage &image) {
  Writer w;
  w.out.append(kImageMagic, sizeof kImageMagic);
  w.put<uint32_t>(kImageFormatVersion);
  w.put<uint32_t>(image.entries.size());
  w.bytes(image.chipText);
  for (const ImageEntry &entry : image.entries) {
    for (const auto *list : {&entry.inputs, &entry.weights, &entry.outputs}) {
      w.put<uint32_t>(list->size());
      for (const ImageTensor &t : *list) {
        w.put<uint32_t>(t.elemBytes);
        w.put<uint32_t>(t.dims.size());
        for (int64_t d : t.dims)
          w.put<int64_t>(d);
      }
    }
    w.put<uint32_t>(entry.buckets.size());
    for (const ImageBucket &bucket : entry.buckets) {
      w.put<int64_t>(bucket.tokens);
      w.bytes(bucket.program);
    }
  }
  return w.out;
}

bool moec::npu::decodeImage(const uint8_t *data, size_t size, NpuImage &image,
                            std::string &error) {
  Reader r{data, size, 0, error};
  if (size < sizeof kImageMagic ||
      std::memcmp(data, kImageMagic, sizeof kImageMagic) != 0) {
    error = "not an NPU image (bad magic)";
    return false;
  }
  r.at = sizeof kImageMagic;
  uint32_t version, entries;
  if (!r.get(version, "version") || !r.get(entries, "entry count"))
    return false;
  if (version != kImageFormatVersion) {
    error = "NPU image format " + std::to_string(version) +
            "; this binary reads format " + std::to_string(kImageFormatVersion);
    return false;
  }
  if (entries > size) {
    error = "NPU image claims " + std::to_string(entries) + " entries";
    return false;
  }
  if (!r.bytes(image.chipText, "chip description"))
    return false;
  image.entries.resize(entries);
  for (ImageEntry &entry : image.entries) {
    for (auto *list : {&entry.inputs, &entry.weights, &entry.outputs}) {
      uint32_t count;
      if (!r.get(count, "tensor count"))
        return false;
      if (count > size - r.at) {
        error = "NPU image claims " + std::to_string(count) + " tensors";
        return false;
      }
      list->resize(count);
      for (ImageTensor &t : *list) {
        uint32_t rank;
        if (!r.get(t.elemBytes, "element size") || !r.get(rank, "rank"))
          return false;
        if (rank > 8) {
          error = "NPU image has a tensor of rank " + std::to_string(rank);
          return false;
        }
        t.dims.resize(rank);
        for (int64_t &d : t.dims)
          if (!r.get(d, "dimension"))
            return false;
      }
    }
    uint32_t buckets;
    if (!r.get(buckets, "bucket count"))
      return false;
    if (buckets > size - r.at) {
      error = "NPU image claims " + std::to_string(buckets) + " buckets";
      return false;
    }
    entry.buckets.resize(buckets);
    for (ImageBucket &bucket : entry.buckets)
      if (!r.get(bucket.tokens, "bucket") ||
          !r.bytes(bucket.program, "program"))
        return false;
  }
  return true;
}
