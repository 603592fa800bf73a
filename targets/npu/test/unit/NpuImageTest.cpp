//===- NpuImageTest.cpp - The image's host records round-trip -------------===//

#include "machine/NpuImage.h"

#include <gtest/gtest.h>

using namespace moec::npu;

namespace {
/// position + tokens <= 8 (a context check), and the rows of logits:
/// (1 <= rows && rows <= tokens) ? rows : tokens.
ImageBucket sampleBucket() {
  ImageBucket b;
  b.tokens = 16;
  b.program = "program bytes";
  b.scalars = {
      {ScalarKind::InputWord, 2, 0, 0, 0}, // 0: position
      {ScalarKind::Extent, 0, 0, 0, 0},    // 1: tokens
      {ScalarKind::Add, 0, 1, 0, 0},       // 2
      {ScalarKind::Const, 0, 0, 0, 8},     // 3
      {ScalarKind::LessEqual, 2, 3, 0, 0}, // 4
      {ScalarKind::InputWord, 1, 0, 0, 0}, // 5: rows wanted
      {ScalarKind::Const, 0, 0, 0, 1},     // 6
      {ScalarKind::LessEqual, 6, 5, 0, 0}, // 7
      {ScalarKind::LessEqual, 5, 1, 0, 0}, // 8
      {ScalarKind::And, 7, 8, 0, 0},       // 9
      {ScalarKind::Select, 9, 5, 1, 0},    // 10
  };
  b.checks = {{"reaches {0}, more than {1}", 4, {2, 3}, -1, 0, 0},
              {"id {0} outside [0, 128)", -1, {}, 0, 0, 128}};
  b.outputRows = {10, -1};
  return b;
}
} // namespace

TEST(NpuImage, HostRecordsRoundTrip) {
  NpuImage image;
  image.chipText = "chip";
  ImageEntry entry;
  entry.inputs = {{8, {-1}, -1}, {8, {1}, -1}, {8, {1}, 1}};
  entry.outputs = {{4, {-1, 128}, -1}, {8, {1}, 2}};
  entry.buckets = {sampleBucket()};
  image.entries = {entry};
  std::string bytes = encodeImage(image);
  NpuImage back;
  std::string error;
  ASSERT_TRUE(decodeImage(reinterpret_cast<const uint8_t *>(bytes.data()),
                          bytes.size(), back, error))
      << error;
  EXPECT_EQ(encodeImage(back), bytes);
  const ImageBucket &b = back.entries[0].buckets[0];
  ASSERT_EQ(b.checks.size(), 2u);
  EXPECT_EQ(b.checks[0].message, "reaches {0}, more than {1}");
  EXPECT_EQ(b.checks[1].hi, 128);
  EXPECT_EQ(back.entries[0].outputs[1].state, 2);
  // Every truncation is refused with a message, never read past the end.
  for (size_t n = 0; n < bytes.size(); ++n) {
    NpuImage cut;
    EXPECT_FALSE(decodeImage(reinterpret_cast<const uint8_t *>(bytes.data()), n,
                             cut, error));
  }
}

TEST(NpuImage, EvaluatesScalars) {
  ImageBucket b = sampleBucket();
  auto run = [&](int64_t node, int64_t tokens, int64_t position, int64_t rows) {
    int64_t value = 0;
    std::string error;
    EXPECT_TRUE(evaluateScalar(
        b.scalars, node, [&](int64_t) { return tokens; },
        [&](int64_t input, int64_t) { return input == 2 ? position : rows; },
        value, error))
        << error;
    return value;
  };
  EXPECT_EQ(run(4, 3, 5, 0), 1);    // 5 + 3 <= 8
  EXPECT_EQ(run(4, 4, 5, 0), 0);    // 9 > 8
  EXPECT_EQ(run(10, 12, 0, 0), 12); // 0: every row
  EXPECT_EQ(run(10, 12, 0, 1), 1);  // the last row
  EXPECT_EQ(run(10, 12, 0, 13), 12);
  // A node that reads a later one is refused (no cycles).
  b.scalars[2].a = 5;
  int64_t value;
  std::string error;
  EXPECT_FALSE(evaluateScalar(
      b.scalars, 2, [](int64_t) { return 0; },
      [](int64_t, int64_t) { return 0; }, value, error));
  EXPECT_NE(error.find("not an earlier one"), std::string::npos) << error;
}
