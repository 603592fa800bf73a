//===- RuntimeTest.cpp - The binary runtime: .npy, checksum, threads ------===//

#include "runtime/formats/Checksum.h"
#include "runtime/formats/Npy.h"
#include "runtime/host/ThreadPool.h"

#include "TempPath.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <vector>

using namespace moec::rt;
using moec::test::TempPath;

extern "C" void memrefCopy(int64_t elementSize, void *source, void *target);

namespace {

TEST(Npy, RoundTripKeepsDtypeShapeAndBytes) {
  TempPath path("array.npy");
  std::vector<float> values = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -1.0f};
  std::string error;
  ASSERT_TRUE(writeNpy(path.str(), DType::F32, {2, 3}, values.data(),
                       values.size() * 4, error))
      << error;
  NpyArray array;
  ASSERT_TRUE(readNpy(path.str(), array, error)) << error;
  EXPECT_EQ(array.dtype, DType::F32);
  EXPECT_EQ(array.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::memcmp(array.buffer.data.get(), values.data(), 24), 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(array.buffer.data.get()) % 64, 0u);
}

TEST(Npy, ScalarAndBoolArrays) {
  TempPath path("scalar.npy");
  bool flag = true;
  std::string error;
  ASSERT_TRUE(writeNpy(path.str(), DType::Bool, {}, &flag, 1, error));
  NpyArray array;
  ASSERT_TRUE(readNpy(path.str(), array, error)) << error;
  EXPECT_EQ(array.dtype, DType::Bool);
  EXPECT_TRUE(array.shape.empty());
}

TEST(Npy, RejectsTruncatedAndForeignFiles) {
  TempPath path("bad.npy");
  std::string error;
  std::vector<int64_t> values(8, 1);
  ASSERT_TRUE(writeNpy(path.str(), DType::I64, {8}, values.data(), 64, error));
  std::ifstream in(path.str(), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  in.close();
  std::ofstream(path.str(), std::ios::binary)
      << bytes.substr(0, bytes.size() - 8);
  NpyArray array;
  EXPECT_FALSE(readNpy(path.str(), array, error));
  EXPECT_NE(error.find("holds less data than its shape"), std::string::npos)
      << error;
  std::ofstream(path.str(), std::ios::binary) << "not numpy at all";
  EXPECT_FALSE(readNpy(path.str(), array, error));
  EXPECT_NE(error.find("bad magic"), std::string::npos) << error;
}

TEST(Checksum, ChunkedFoldMatchesWholeBufferAndSeesOneBit) {
  std::vector<uint8_t> data(kChecksumChunkBytes * 2 + 12345);
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = uint8_t(i * 131 + (i >> 9));
  uint64_t folded = 0;
  for (size_t offset = 0; offset < data.size(); offset += kChecksumChunkBytes)
    folded = foldChecksum(
        folded, hashChunk(data.data() + offset,
                          std::min(kChecksumChunkBytes, data.size() - offset)));
  uint64_t whole = checksumBytes(data.data(), data.size());
  EXPECT_EQ(folded, whole);
  data[data.size() / 2] ^= 1;
  EXPECT_NE(checksumBytes(data.data(), data.size()), whole);
  EXPECT_EQ(checksumToHex(0x1234abcdull), "000000001234abcd");
}

TEST(Checksum, StreamOfPiecesMatchesOneCall) {
  std::vector<uint8_t> data(kChecksumChunkBytes * 3 + 777);
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = uint8_t(i * 97 + (i >> 11));
  // Pieces straddling chunk boundaries, one exactly a chunk, empty ones.
  std::vector<size_t> cuts{0,
                           1000,
                           kChecksumChunkBytes + 5,
                           kChecksumChunkBytes + 5,
                           2 * kChecksumChunkBytes + 5,
                           3 * kChecksumChunkBytes,
                           data.size()};
  ChecksumStream stream;
  for (size_t i = 0; i + 1 < cuts.size(); ++i)
    stream.update(data.data() + cuts[i], cuts[i + 1] - cuts[i]);
  EXPECT_EQ(stream.finish(), checksumBytes(data.data(), data.size()));
  // An exact multiple of the chunk, and nothing at all.
  ChecksumStream exact;
  exact.update(data.data(), kChecksumChunkBytes);
  exact.update(data.data() + kChecksumChunkBytes, kChecksumChunkBytes);
  EXPECT_EQ(exact.finish(),
            checksumBytes(data.data(), 2 * kChecksumChunkBytes));
  EXPECT_EQ(ChecksumStream().finish(), checksumBytes(data.data(), 0));
}

TEST(ThreadPool, EveryIterationRunsExactlyOnce) {
  startThreadPool(3);
  std::vector<std::atomic<int>> hits(10007);
  auto body = [](void *context, int64_t begin, int64_t end) {
    auto *counts = static_cast<std::vector<std::atomic<int>> *>(context);
    for (int64_t i = begin; i < end; ++i)
      (*counts)[i].fetch_add(1);
  };
  for (int round = 0; round < 50; ++round)
    moec_parallel_for(int64_t(hits.size()), /*cost=*/1000, body, &hits);
  // Small loops run inline; they count too.
  moec_parallel_for(5, 1, body, &hits);
  stopThreadPool();
  for (size_t i = 0; i < hits.size(); ++i)
    ASSERT_EQ(hits[i].load(), i < 5 ? 51 : 50) << "iteration " << i;
}

TEST(MemrefCopy, CopiesAStridedView) {
  // A 2x3 view with row stride 4 of a 2x4 source into a dense 2x3 target.
  float source[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  float target[6] = {};
  int64_t src[7], dst[7];
  float *sourcePtr = source, *targetPtr = target;
  std::memcpy(&src[0], &sourcePtr, 8);
  std::memcpy(&src[1], &sourcePtr, 8);
  src[2] = 1; // offset
  src[3] = 2, src[4] = 3, src[5] = 4, src[6] = 1;
  std::memcpy(&dst[0], &targetPtr, 8);
  std::memcpy(&dst[1], &targetPtr, 8);
  dst[2] = 0;
  dst[3] = 2, dst[4] = 3, dst[5] = 3, dst[6] = 1;
  struct {
    int64_t rank;
    void *descriptor;
  } from{2, src}, to{2, dst};
  memrefCopy(4, &from, &to);
  float expected[6] = {1, 2, 3, 5, 6, 7};
  EXPECT_EQ(std::memcmp(target, expected, sizeof(expected)), 0);
}

} // namespace
