//===- NpuImage.cpp - What an NPU binary embeds ---------------------------===//
//
// Layout: "MOECNPUI", u32 version, u32 entry count, u64 chip text size and
// the text; per entry: three tensor lists (u32 count; per tensor u32 element
// bytes, u32 rank, i64 dims, i32 state) and u32 bucket count; per bucket:
// i64 tokens, u64 program size and the program, u32 node count and per node
// five i64 (kind, a, b, c, imm), u32 check count and per check the message
// (u64 size, bytes), i64 condition, i64 input, lo, hi, u32 value count and
// the i64 values, u32 output count and the i64 row nodes, u32 phase count
// and per phase its label (u64 size, bytes). Little-endian.
//
//===----------------------------------------------------------------------===//

#include "machine/NpuImage.h"

#include <algorithm>
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
/// A bucket's scalar nodes, checks and output rows.
bool readBucketHost(Reader &r, ImageBucket &bucket, size_t size) {
  auto count = [&](uint32_t &n, const char *what) {
    if (!r.get(n, what))
      return false;
    if (n > size - r.at) {
      r.error =
          std::string("NPU image claims ") + std::to_string(n) + " " + what;
      return false;
    }
    return true;
  };
  uint32_t n;
  if (!count(n, "scalar nodes"))
    return false;
  if (n > kMaxScalarNodes) {
    r.error = "NPU image has " + std::to_string(n) +
              " scalar nodes, more "
              "than " +
              std::to_string(kMaxScalarNodes);
    return false;
  }
  bucket.scalars.resize(n);
  for (ScalarNode &node : bucket.scalars) {
    int64_t kind;
    if (!r.get(kind, "scalar node") || !r.get(node.a, "scalar node") ||
        !r.get(node.b, "scalar node") || !r.get(node.c, "scalar node") ||
        !r.get(node.imm, "scalar node"))
      return false;
    node.kind = ScalarKind(kind);
  }
  if (!count(n, "checks"))
    return false;
  bucket.checks.resize(n);
  for (ImageCheck &check : bucket.checks) {
    uint32_t values;
    if (!r.bytes(check.message, "check message") ||
        !r.get(check.condition, "check") || !r.get(check.input, "check") ||
        !r.get(check.lo, "check") || !r.get(check.hi, "check") ||
        !count(values, "check values"))
      return false;
    check.values.resize(values);
    for (int64_t &v : check.values)
      if (!r.get(v, "check value"))
        return false;
  }
  if (!count(n, "output rows"))
    return false;
  bucket.outputRows.resize(n);
  for (int64_t &rows : bucket.outputRows)
    if (!r.get(rows, "output rows"))
      return false;
  if (!count(n, "phases"))
    return false;
  bucket.phases.resize(n);
  for (std::string &phase : bucket.phases)
    if (!r.bytes(phase, "phase"))
      return false;
  return true;
}
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
        w.put<int32_t>(t.state);
      }
    }
    w.put<uint32_t>(entry.buckets.size());
    for (const ImageBucket &bucket : entry.buckets) {
      w.put<int64_t>(bucket.tokens);
      w.bytes(bucket.program);
      w.put<uint32_t>(bucket.scalars.size());
      for (const ScalarNode &n : bucket.scalars)
        for (int64_t word : {int64_t(n.kind), n.a, n.b, n.c, n.imm})
          w.put<int64_t>(word);
      w.put<uint32_t>(bucket.checks.size());
      for (const ImageCheck &c : bucket.checks) {
        w.bytes(c.message);
        for (int64_t word : {c.condition, c.input, c.lo, c.hi})
          w.put<int64_t>(word);
        w.put<uint32_t>(c.values.size());
        for (int64_t v : c.values)
          w.put<int64_t>(v);
      }
      w.put<uint32_t>(bucket.outputRows.size());
      for (int64_t r : bucket.outputRows)
        w.put<int64_t>(r);
      w.put<uint32_t>(bucket.phases.size());
      for (const std::string &phase : bucket.phases)
        w.bytes(phase);
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
        if (!r.get(t.state, "state"))
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
    for (ImageBucket &bucket : entry.buckets) {
      if (!r.get(bucket.tokens, "bucket") ||
          !r.bytes(bucket.program, "program") ||
          !readBucketHost(r, bucket, size))
        return false;
    }
  }
  return true;
}

bool moec::npu::evaluateScalar(
    const std::vector<ScalarNode> &nodes, int64_t index,
    const std::function<int64_t(int64_t)> &extent,
    const std::function<int64_t(int64_t, int64_t)> &word, int64_t &value,
    std::string &error) {
  // Operands precede their users, so a node only reads lower indices.
  if (index < 0 || size_t(index) >= nodes.size()) {
    error = "scalar node " + std::to_string(index) + " out of range";
    return false;
  }
  const ScalarNode &n = nodes[index];
  int64_t a = 0, b = 0, c = 0;
  auto operand = [&](int64_t i, int64_t &v) {
    if (i >= index) {
      error = "scalar node " + std::to_string(index) + " reads node " +
              std::to_string(i) + ", not an earlier one";
      return false;
    }
    return evaluateScalar(nodes, i, extent, word, v, error);
  };
  switch (n.kind) {
  case ScalarKind::Const:
    value = n.imm;
    return true;
  case ScalarKind::Extent:
    value = extent(n.imm);
    return true;
  case ScalarKind::InputWord:
    value = word(n.a, n.imm);
    return true;
  case ScalarKind::Select:
    if (!operand(n.a, a) || !operand(n.b, b) || !operand(n.c, c))
      return false;
    value = a != 0 ? b : c;
    return true;
  default:
    break;
  }
  if (!operand(n.a, a) || !operand(n.b, b))
    return false;
  switch (n.kind) {
  case ScalarKind::Add:
    value = int64_t(uint64_t(a) + uint64_t(b));
    return true;
  case ScalarKind::Sub:
    value = int64_t(uint64_t(a) - uint64_t(b));
    return true;
  case ScalarKind::Mul:
    value = int64_t(uint64_t(a) * uint64_t(b));
    return true;
  case ScalarKind::Min:
    value = std::min(a, b);
    return true;
  case ScalarKind::Max:
    value = std::max(a, b);
    return true;
  case ScalarKind::Less:
    value = a < b;
    return true;
  case ScalarKind::LessEqual:
    value = a <= b;
    return true;
  case ScalarKind::Equal:
    value = a == b;
    return true;
  case ScalarKind::And:
    value = a != 0 && b != 0;
    return true;
  default:
    error = "scalar node " + std::to_string(index) + " has unknown kind " +
            std::to_string(int64_t(n.kind));
    return false;
  }
}
