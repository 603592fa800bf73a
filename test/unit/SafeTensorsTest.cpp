//===- SafeTensorsTest.cpp - The runtime's safetensors reader and writer --===//

#include "runtime/formats/SafeTensors.h"

#include "TempPath.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

using namespace moec::rt;
using moec::test::TempPath;

namespace {

/// Builds a safetensors image from a header and a data section.
std::vector<uint8_t> makeImage(const std::string &header,
                               const std::vector<uint8_t> &data) {
  std::vector<uint8_t> image(8);
  uint64_t size = header.size();
  for (int i = 0; i < 8; ++i)
    image[i] = static_cast<uint8_t>(size >> (8 * i));
  image.insert(image.end(), header.begin(), header.end());
  image.insert(image.end(), data.begin(), data.end());
  return image;
}

std::string parseError(const std::vector<uint8_t> &image) {
  std::vector<TensorInfo> tensors;
  Metadata metadata;
  std::string error;
  EXPECT_FALSE(parseSafeTensors(image.data(), image.size(), tensors, metadata,
                                error));
  return error;
}

TEST(SafeTensorsTest, WriteThenReadRoundTrips) {
  TempPath path("w.safetensors");
  std::vector<float> a = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 8.0f};
  std::vector<int32_t> b = {-1, 2, 3};
  std::string error;
  ASSERT_TRUE(writeSafeTensors(
      path.str(),
      {{"layer.a", DType::F32, {2, 3}, a.data(), a.size() * 4},
       {"layer.b", DType::I32, {3}, b.data(), b.size() * 4}},
      {{"producer", "moec"}}, error))
      << error;
  auto file = SafeTensorsFile::open(path.str(), error);
  ASSERT_TRUE(file) << error;
  ASSERT_EQ(file->tensors().size(), 2u);
  const TensorInfo *info = file->find("layer.a");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->dtype, DType::F32);
  EXPECT_EQ(info->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::memcmp(file->data(*info), a.data(), 24), 0);
  // The data section starts 64-byte aligned so kernels can use aligned loads.
  EXPECT_EQ(file->tensors()[0].offset % 64, 0u);
  ASSERT_TRUE(file->find("layer.b"));
  EXPECT_EQ(std::memcmp(file->data(*file->find("layer.b")), b.data(), 12), 0);
  ASSERT_EQ(file->metadata().size(), 1u);
  EXPECT_EQ(file->metadata()[0].second, "moec");
}

TEST(SafeTensorsTest, ReadsAHandWrittenFile) {
  // As the Python reference implementation writes it: no padding needed.
  std::vector<uint8_t> data = {0, 0, 128, 63, 0, 0, 0, 64}; // 1.0f, 2.0f
  auto image = makeImage(
      R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data);
  std::vector<TensorInfo> tensors;
  Metadata metadata;
  std::string error;
  ASSERT_TRUE(parseSafeTensors(image.data(), image.size(), tensors, metadata,
                               error))
      << error;
  ASSERT_EQ(tensors.size(), 1u);
  float values[2];
  std::memcpy(values, image.data() + tensors[0].offset, 8);
  EXPECT_EQ(values[0], 1.0f);
  EXPECT_EQ(values[1], 2.0f);
}

TEST(SafeTensorsTest, RejectsMalformedFiles) {
  std::vector<uint8_t> four(4, 0);
  auto tensor = [](const char *entry) {
    return std::string(R"({"x":)") + entry + "}";
  };
  struct Case {
    std::vector<uint8_t> image;
    const char *message;
  } cases[] = {
      {{1, 2, 3}, "too small"},
      {{255, 255, 255, 255, 0, 0, 0, 0}, "header length"},
      {makeImage("{\"x\":", {}), "invalid JSON"},
      {makeImage("[]", {}), "not a JSON object"},
      {makeImage(tensor(R"({"dtype":"F31","shape":[1],"data_offsets":[0,4]})"),
                 four),
       "unknown dtype 'F31'"},
      {makeImage(tensor(R"({"dtype":"F32","shape":[2],"data_offsets":[0,4]})"),
                 four),
       "holds 4 bytes but its F32 shape needs 8"},
      {makeImage(tensor(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})"),
                 four),
       "fall outside the 4-byte data section"},
      {makeImage(tensor(R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})"),
                 four),
       "non-negative integers"},
      {makeImage(R"({"x":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                 R"("y":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})",
                 four),
       "overlap"},
      {makeImage(R"({"__metadata__":{"a":1}})", {}),
       "metadata value 'a' is not a string"},
  };
  for (const Case &c : cases)
    EXPECT_NE(parseError(c.image).find(c.message), std::string::npos)
        << c.message;
}

TEST(SafeTensorsTest, MissingFileNamesThePath) {
  std::string error;
  EXPECT_FALSE(SafeTensorsFile::open("/nonexistent/moec.safetensors", error));
  EXPECT_NE(error.find("/nonexistent/moec.safetensors"), std::string::npos);
}

TEST(SafeTensorsTest, WriterRejectsSizeMismatchAndLeavesNoFile) {
  TempPath path("bad.safetensors");
  float value = 1.0f;
  std::string error;
  EXPECT_FALSE(writeSafeTensors(path.str(),
                                {{"x", DType::F32, {2}, &value, 4}}, {},
                                error));
  EXPECT_NE(error.find("does not match"), std::string::npos);
  EXPECT_FALSE(std::ifstream(path.str()).good());
}

TEST(SafeTensorsTest, DTypeNamesRoundTrip) {
  for (const char *name : {"BOOL", "U8", "I8", "F16", "BF16", "F32", "F64",
                           "F8_E4M3", "F8_E5M2", "F8_E8M0", "I64"}) {
    std::optional<DType> dtype = parseDType(name);
    ASSERT_TRUE(dtype) << name;
    EXPECT_EQ(dtypeName(*dtype), name);
  }
  EXPECT_EQ(dtypeSize(DType::BF16), 2u);
  EXPECT_FALSE(parseDType("f32"));
}

} // namespace
