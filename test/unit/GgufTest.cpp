//===- GgufTest.cpp - The runtime's GGUF reader ---------------------------===//
//
// Images written byte by byte here after ggml's docs/gguf.md, a valid one
// and one per way the reader must refuse a file.
//
//===----------------------------------------------------------------------===//

#include "runtime/formats/Gguf.h"

#include "TempPath.h"

#include <gtest/gtest.h>

#include <fstream>

using namespace moec::rt;
using moec::test::TempPath;

namespace {

/// Writes a GGUF image: the header, key-value pairs and tensor infos as
/// they are added, then the data section at the alignment.
class ImageWriter {
public:
  explicit ImageWriter(uint32_t version = 3) : version(version) {}

  template <typename T> static void put(std::vector<uint8_t> &out, T value) {
    uint8_t bytes[sizeof(T)];
    std::memcpy(bytes, &value, sizeof(T));
    out.insert(out.end(), bytes, bytes + sizeof(T));
  }
  static void putString(std::vector<uint8_t> &out, const std::string &s) {
    put<uint64_t>(out, s.size());
    out.insert(out.end(), s.begin(), s.end());
  }

  template <typename T>
  ImageWriter &scalar(const std::string &key, GgufValueType type, T value) {
    putString(keys, key);
    put<uint32_t>(keys, uint32_t(type));
    put<T>(keys, value);
    ++keyCount;
    return *this;
  }
  ImageWriter &string(const std::string &key, const std::string &value) {
    putString(keys, key);
    put<uint32_t>(keys, uint32_t(GgufValueType::String));
    putString(keys, value);
    ++keyCount;
    return *this;
  }
  /// An array's key and header, `count` elements of `elementType`; the
  /// elements are the caller's to add (or not).
  ImageWriter &arrayHeader(const std::string &key, GgufValueType elementType,
                           uint64_t count) {
    putString(keys, key);
    put<uint32_t>(keys, uint32_t(GgufValueType::Array));
    put<uint32_t>(keys, uint32_t(elementType));
    put<uint64_t>(keys, count);
    ++keyCount;
    return *this;
  }
  ImageWriter &strings(const std::string &key,
                       const std::vector<std::string> &values) {
    arrayHeader(key, GgufValueType::String, values.size());
    for (const std::string &v : values)
      putString(keys, v);
    return *this;
  }
  ImageWriter &floats(const std::string &key, const std::vector<float> &v) {
    arrayHeader(key, GgufValueType::Float32, v.size());
    for (float f : v)
      put<float>(keys, f);
    return *this;
  }
  /// A tensor info; its data is `bytes` zero bytes at data offset `offset`.
  ImageWriter &tensor(const std::string &name, std::vector<uint64_t> dims,
                      uint32_t type, uint64_t offset, uint64_t bytes) {
    putString(infos, name);
    put<uint32_t>(infos, dims.size());
    for (uint64_t d : dims)
      put<uint64_t>(infos, d);
    put<uint32_t>(infos, type);
    put<uint64_t>(infos, offset);
    dataBytes = std::max(dataBytes, offset + bytes);
    ++tensorCount;
    return *this;
  }
  std::vector<uint8_t> image(uint64_t alignment = 32) const {
    std::vector<uint8_t> out = {'G', 'G', 'U', 'F'};
    put<uint32_t>(out, version);
    put<uint64_t>(out, tensorCount);
    put<uint64_t>(out, keyCount);
    out.insert(out.end(), keys.begin(), keys.end());
    out.insert(out.end(), infos.begin(), infos.end());
    out.resize((out.size() + alignment - 1) / alignment * alignment);
    // Data: byte i of the section holds i % 251.
    for (uint64_t i = 0; i < dataBytes; ++i)
      out.push_back(uint8_t(i % 251));
    return out;
  }

private:
  uint32_t version;
  uint64_t keyCount = 0, tensorCount = 0, dataBytes = 0;
  std::vector<uint8_t> keys, infos;
};

std::string parseError(const std::vector<uint8_t> &image) {
  GgufImage parsed;
  std::string error;
  EXPECT_FALSE(parseGguf(image.data(), image.size(), parsed, error));
  return error;
}

/// A valid image: an architecture, a count, a float, a vocabulary, scores,
/// an F32 [2, 3] matrix (dims {3, 2}) and a Q8_0 one of 2 rows of 64.
ImageWriter validWriter() {
  ImageWriter w;
  w.string("general.architecture", "olmoe")
      .scalar<uint32_t>("olmoe.block_count", GgufValueType::UInt32, 3)
      .scalar<float>("olmoe.rope.freq_base", GgufValueType::Float32, 1e4f)
      .scalar<uint8_t>("tokenizer.ggml.add_bos_token", GgufValueType::Bool, 1)
      .strings("tokenizer.ggml.tokens", {"<s>", "a",
                                         "\xc4\xa0"
                                         "b"})
      .floats("tokenizer.ggml.scores", {0.0f, -1.5f, -2.0f})
      .tensor("token_embd.weight", {3, 2}, 0, 0, 24)
      .tensor("blk.0.ffn_down.weight", {64, 2}, 8, 32, 2 * 2 * 34);
  return w;
}

TEST(GgufTest, ReadsMetadataAndTensors) {
  std::vector<uint8_t> image = validWriter().image();
  GgufImage parsed;
  std::string error;
  ASSERT_TRUE(parseGguf(image.data(), image.size(), parsed, error)) << error;
  EXPECT_EQ(parsed.version, 3u);
  EXPECT_EQ(parsed.alignment, 32u);
  EXPECT_EQ(parsed.dataOffset % 32, 0u);
  ASSERT_TRUE(parsed.find("general.architecture"));
  EXPECT_EQ(parsed.find("general.architecture")->string, "olmoe");
  EXPECT_EQ(parsed.find("olmoe.block_count")->asUnsigned(), 3u);
  EXPECT_EQ(parsed.find("olmoe.rope.freq_base")->asFloat(), 1e4);
  EXPECT_EQ(parsed.find("tokenizer.ggml.add_bos_token")->unsignedValue, 1u);
  const GgufValue *tokens = parsed.find("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens);
  ASSERT_EQ(tokens->strings.size(), 3u);
  EXPECT_EQ(tokens->strings[2], "\xc4\xa0"
                                "b");
  const GgufValue *scores = parsed.find("tokenizer.ggml.scores");
  ASSERT_EQ(scores->count, 3u);
  EXPECT_EQ(scores->floatElement(1), -1.5);
  EXPECT_FALSE(parsed.find("olmoe.missing"));

  const GgufTensor *embd = parsed.findTensor("token_embd.weight");
  ASSERT_TRUE(embd);
  EXPECT_EQ(embd->dims, (std::vector<uint64_t>{3, 2}));
  EXPECT_EQ(embd->elements, 6u);
  EXPECT_EQ(embd->size, 24u);
  EXPECT_EQ(embd->offset, parsed.dataOffset);
  const GgufTensor *down = parsed.findTensor("blk.0.ffn_down.weight");
  ASSERT_TRUE(down);
  EXPECT_EQ(down->size, 136u); // 2 rows of 2 Q8_0 blocks of 34 bytes
  EXPECT_EQ(down->offset, parsed.dataOffset + 32);
  EXPECT_EQ(image[down->offset], 32 % 251);
  EXPECT_STREQ(ggmlType(down->type)->name, "Q8_0");
}

TEST(GgufTest, VersionTwoAndAlignmentKey) {
  ImageWriter w(2);
  w.scalar<uint32_t>("general.alignment", GgufValueType::UInt32, 64)
      .tensor("a", {16}, 0, 64, 64)
      .tensor("b", {16}, 30, 0, 32);
  std::vector<uint8_t> image = w.image(64);
  GgufImage parsed;
  std::string error;
  ASSERT_TRUE(parseGguf(image.data(), image.size(), parsed, error)) << error;
  EXPECT_EQ(parsed.alignment, 64u);
  EXPECT_EQ(parsed.dataOffset % 64, 0u);
  EXPECT_STREQ(ggmlType(parsed.findTensor("b")->type)->name, "BF16");
}

TEST(GgufTest, RefusesMalformedHeaders) {
  std::vector<uint8_t> image = validWriter().image();
  std::vector<uint8_t> bad = image;
  bad[0] = 'X';
  EXPECT_NE(parseError(bad).find("magic"), std::string::npos);
  EXPECT_NE(parseError({'G', 'G', 'U', 'F', 3}).find("past the end"),
            std::string::npos);
  EXPECT_NE(parseError(ImageWriter(1).image()).find("version 1"),
            std::string::npos);
  bad = image;
  std::swap(bad[4], bad[7]); // version 3 as a big-endian file writes it
  EXPECT_NE(parseError(bad).find("big-endian"), std::string::npos);
  bad = image;
  bad[16 + 7] = 0x10; // key count 2^60
  EXPECT_NE(parseError(bad).find("key-value pairs, more than"),
            std::string::npos);
  bad = image;
  bad[8 + 7] = 0x10; // tensor count 2^60
  EXPECT_NE(parseError(bad).find("tensors, more than"), std::string::npos);
  // Truncated anywhere in the header: refused, never read past the end.
  for (size_t cut = 0; cut < image.size() - 200; ++cut)
    parseError(std::vector<uint8_t>(image.begin(), image.begin() + cut));
}

TEST(GgufTest, RefusesMalformedMetadata) {
  ImageWriter w;
  w.string("k", "v").string("k", "w");
  EXPECT_NE(parseError(w.image()).find("'k' appears twice"), std::string::npos);

  ImageWriter unknown;
  unknown.scalar<uint32_t>("k", GgufValueType(13), 0);
  EXPECT_NE(parseError(unknown.image()).find("value type 13"),
            std::string::npos);

  ImageWriter nested;
  nested.arrayHeader("n", GgufValueType::Array, 0);
  EXPECT_NE(parseError(nested.image()).find("holds arrays"), std::string::npos);

  ImageWriter huge; // 2^61 doubles: 2^64 bytes, which wraps to 0
  huge.arrayHeader("scores", GgufValueType::Float64, uint64_t(1) << 61);
  EXPECT_NE(parseError(huge.image()).find("past the end"), std::string::npos);

  ImageWriter alignment;
  alignment.scalar<uint32_t>("general.alignment", GgufValueType::UInt32, 48);
  EXPECT_NE(parseError(alignment.image()).find("power of two"),
            std::string::npos);
  ImageWriter wideAlignment;
  wideAlignment.scalar<uint64_t>("general.alignment", GgufValueType::UInt64,
                                 32);
  EXPECT_NE(parseError(wideAlignment.image()).find("uint32"),
            std::string::npos);
}

TEST(GgufTest, RefusesMalformedTensors) {
  auto refused = [](ImageWriter w) { return parseError(w.image()); };
  EXPECT_NE(refused(ImageWriter().tensor("t", {1, 1, 1, 1, 1}, 0, 0, 4))
                .find("5 dims"),
            std::string::npos);
  EXPECT_NE(refused(ImageWriter().tensor("t", {}, 0, 0, 4)).find("0 dims"),
            std::string::npos);
  EXPECT_NE(refused(ImageWriter().tensor("t", {32}, 4, 0, 18))
                .find("ggml type 4, which ggml does not define"),
            std::string::npos);
  EXPECT_NE(refused(ImageWriter().tensor("t", {33, 2}, 8, 0, 68))
                .find("not a multiple of its 32-element blocks"),
            std::string::npos);
  EXPECT_NE(refused(ImageWriter().tensor(
                        "t", {uint64_t(1) << 32, uint64_t(1) << 32}, 0, 0, 4))
                .find("overflow"),
            std::string::npos);
  EXPECT_NE(refused(ImageWriter().tensor("t", {4}, 0, 16, 16))
                .find("not a multiple of the 32-byte alignment"),
            std::string::npos);
  EXPECT_NE(refused(ImageWriter().tensor("t", {4}, 0, 0, 8))
                .find("lies past the end"),
            std::string::npos);
  EXPECT_NE(refused(ImageWriter()
                        .tensor("a", {16}, 0, 0, 64)
                        .tensor("b", {16}, 0, 32, 64))
                .find("'a' and 'b' overlap"),
            std::string::npos);
  EXPECT_NE(
      refused(
          ImageWriter().tensor("a", {8}, 0, 0, 32).tensor("a", {8}, 0, 32, 32))
          .find("'a' appears twice"),
      std::string::npos);
  EXPECT_NE(refused(ImageWriter().tensor("", {8}, 0, 0, 32)).find("empty"),
            std::string::npos);
}

TEST(GgufTest, OpensFiles) {
  TempPath path("model.gguf");
  std::vector<uint8_t> image = validWriter().image();
  {
    std::ofstream out(path.str(), std::ios::binary);
    out.write(reinterpret_cast<const char *>(image.data()), image.size());
  }
  std::string error;
  std::unique_ptr<GgufFile> file = GgufFile::open(path.str(), error);
  ASSERT_TRUE(file) << error;
  const GgufTensor *embd = file->image().findTensor("token_embd.weight");
  ASSERT_TRUE(embd);
  EXPECT_EQ(file->data(*embd)[1], 1);

  image.resize(image.size() - 1);
  {
    std::ofstream out(path.str(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char *>(image.data()), image.size());
  }
  EXPECT_FALSE(GgufFile::open(path.str(), error));
  EXPECT_NE(error.find("is not a valid GGUF file: tensor "
                       "'blk.0.ffn_down.weight'"),
            std::string::npos)
      << error;
  EXPECT_FALSE(GgufFile::open(path.str() + ".missing", error));
}

TEST(GgufTest, AgreesWithGgufPyOnTheSeeds) {
  // The fuzz corpus's seeds (written with Python's struct); gguf-py's
  // GGUFReader reads the same tensors at the same offsets, sizes recorded
  // here.
  struct Expected {
    const char *name, *type;
    std::vector<uint64_t> dims;
    uint64_t offset, size;
  };
  auto check = [](const std::string &file, const std::vector<Expected> &all) {
    std::string error;
    auto gguf = GgufFile::open(
        std::string(MOEC_SOURCE_DIR) + "/test/fuzz/corpus-gguf/" + file, error);
    ASSERT_TRUE(gguf) << error;
    ASSERT_EQ(gguf->image().tensors.size(), all.size());
    for (const Expected &e : all) {
      const GgufTensor *t = gguf->image().findTensor(e.name);
      ASSERT_TRUE(t) << e.name;
      EXPECT_STREQ(ggmlType(t->type)->name, e.type);
      EXPECT_EQ(t->dims, e.dims);
      EXPECT_EQ(t->offset, e.offset);
      EXPECT_EQ(t->size, e.size);
    }
  };
  check("seed_olmoe_f32_q8_0_q4_0",
        {{"token_embd.weight", "F32", {4, 3}, 480, 48},
         {"blk.0.ffn_down_exps.weight", "Q8_0", {32, 2, 2}, 544, 136},
         {"output.weight", "Q4_0", {32, 3}, 704, 54}});
  check("seed_v2_aligned_q4_k_bf16",
        {{"blk.0.attn_q.weight", "Q4_K", {256, 1}, 256, 144},
         {"blk.0.attn_k.weight", "BF16", {64, 2}, 448, 256}});
}

} // namespace
