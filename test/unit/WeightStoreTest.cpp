//===- WeightStoreTest.cpp - Weights referenced by key --------------------===//

#include "moec/Support/WeightStore.h"

#include "runtime/formats/SafeTensors.h"

#include "TempPath.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace moec;
using moec::test::TempPath;

namespace {

void writeFile(const std::string &path,
               const std::vector<rt::TensorToWrite> &tensors) {
  std::string error;
  ASSERT_TRUE(rt::writeSafeTensors(path, tensors, {}, error)) << error;
}

std::string errorText(llvm::Error error) {
  return llvm::toString(std::move(error));
}

/// The weight named `key`; records a test failure when there is none.
WeightView get(const WeightStore &store, llvm::StringRef key) {
  llvm::Expected<WeightView> view = store.lookup(key);
  if (!view) {
    ADD_FAILURE() << llvm::toString(view.takeError());
    return WeightView{rt::DType::U8, {}, {}, {}};
  }
  return *view;
}

/// Asserts success, printing the error otherwise.
#define ASSERT_OK(expr)                                                        \
  do {                                                                         \
    llvm::Error error = (expr);                                                \
    ASSERT_FALSE(error) << llvm::toString(std::move(error));                   \
  } while (false)

TEST(WeightStoreTest, ServesTensorsOfAMappedFileWithoutCopying) {
  TempPath path("a.safetensors");
  std::vector<uint16_t> w(16 * 8, 0x3f80); // bf16 1.0
  writeFile(
      path.str(),
      {{"experts.w", rt::DType::BF16, {2, 8, 8}, w.data(), w.size() * 2}});
  WeightStore store;
  ASSERT_OK(store.addSafeTensorsFile(path.str()));
  llvm::Expected<WeightView> view = store.lookup("experts.w");
  ASSERT_OK(view.takeError());
  EXPECT_EQ(view->dtype, rt::DType::BF16);
  EXPECT_EQ(view->shape, (llvm::ArrayRef<int64_t>{2, 8, 8}));
  EXPECT_EQ(view->bytes.size(), w.size() * 2);
  EXPECT_EQ(view->file, path.str());
  EXPECT_EQ(view->bytes[0], 0x80);
  EXPECT_EQ(view->bytes[1], 0x3f);
  // Adding the same file again is a no-op, not a key conflict.
  ASSERT_OK(store.addSafeTensorsFile(path.str()));
  EXPECT_EQ(store.size(), 1u);
}

TEST(WeightStoreTest, ReportsUnknownKeysAndMissingFiles) {
  WeightStore store;
  EXPECT_EQ(errorText(store.lookup("nope").takeError()),
            "no weight named 'nope' in the weight store");
  std::string message =
      errorText(store.addSafeTensorsFile("/nonexistent/w.safetensors"));
  EXPECT_NE(message.find("/nonexistent/w.safetensors"), std::string::npos);
  EXPECT_EQ(store.size(), 0u);
}

TEST(WeightStoreTest, RefusesAKeyFromTwoFiles) {
  TempPath first("1.safetensors"), second("2.safetensors");
  float value = 1.0f;
  writeFile(first.str(), {{"w", rt::DType::F32, {1}, &value, 4}});
  writeFile(second.str(), {{"v", rt::DType::F32, {1}, &value, 4},
                           {"w", rt::DType::F32, {1}, &value, 4}});
  WeightStore store;
  ASSERT_OK(store.addSafeTensorsFile(first.str()));
  std::string message = errorText(store.addSafeTensorsFile(second.str()));
  EXPECT_NE(message.find("weight 'w' is provided by both"), std::string::npos);
  // Nothing of the rejected file was added.
  EXPECT_FALSE(store.contains("v"));
}

TEST(WeightStoreTest, BlobsGetUniqueKeysAndSaveToAFile) {
  WeightStore store;
  std::string a = store.addBlob("pruned", rt::DType::F32, {2},
                                {0, 0, 128, 63, 0, 0, 0, 64});
  std::string b = store.addBlob("pruned", rt::DType::I8, {3}, {1, 2, 3});
  EXPECT_EQ(a, "pruned");
  EXPECT_EQ(b, "pruned_1");
  EXPECT_TRUE(store.isUnsavedBlob(a));
  EXPECT_EQ(get(store, b).bytes, (llvm::ArrayRef<uint8_t>{1, 2, 3}));

  TempPath path("blobs.safetensors");
  ASSERT_OK(store.saveBlobs({a, b}, path.str()));
  EXPECT_FALSE(store.isUnsavedBlob(a));
  EXPECT_EQ(get(store, a).file, path.str());
  EXPECT_EQ(get(store, b).bytes, (llvm::ArrayRef<uint8_t>{1, 2, 3}));

  // A fresh store reading the file sees the same weights.
  WeightStore reloaded;
  ASSERT_OK(reloaded.addSafeTensorsFile(path.str()));
  EXPECT_EQ(get(reloaded, a).shape, (llvm::ArrayRef<int64_t>{2}));
  EXPECT_EQ(get(reloaded, a).bytes,
            (llvm::ArrayRef<uint8_t>{0, 0, 128, 63, 0, 0, 0, 64}));
}

TEST(WeightStoreTest, SavingAFileBackedWeightIsAnError) {
  TempPath path("f.safetensors");
  float value = 1.0f;
  writeFile(path.str(), {{"w", rt::DType::F32, {1}, &value, 4}});
  WeightStore store;
  ASSERT_OK(store.addSafeTensorsFile(path.str()));
  TempPath out("out.safetensors");
  EXPECT_EQ(errorText(store.saveBlobs({"w"}, out.str())),
            "'w' is not an unsaved blob");
}

} // namespace

namespace {

TEST(WeightStoreTest, StacksWithoutCopyingUntilJoined) {
  TempPath path("parts.safetensors");
  std::vector<uint16_t> a(6, 0x3f80), b(6, 0x4000); // bf16 1.0 and 2.0
  writeFile(path.str(), {{"e.0", rt::DType::BF16, {2, 3}, a.data(), 12},
                         {"e.1", rt::DType::BF16, {2, 3}, b.data(), 12},
                         {"w", rt::DType::BF16, {3, 2}, b.data(), 12}});
  WeightStore store;
  ASSERT_OK(store.addSafeTensorsFile(path.str()));
  llvm::Expected<std::string> key = store.addStack("experts", {"e.0", "e.1"});
  ASSERT_OK(key.takeError());
  // Pieces are the parts' own bytes, in the file.
  llvm::Expected<WeightPieces> pieces = store.lookupPieces(*key);
  ASSERT_OK(pieces.takeError());
  EXPECT_EQ(pieces->shape, (llvm::ArrayRef<int64_t>{2, 2, 3}));
  EXPECT_EQ(pieces->size, 24u);
  ASSERT_EQ(pieces->pieces.size(), 2u);
  EXPECT_EQ(pieces->pieces[1].bytes.data(), get(store, "e.1").bytes.data());
  EXPECT_EQ(pieces->pieces[0].file, path.str());
  // lookup() joins them once.
  WeightView joined = get(store, *key);
  ASSERT_EQ(joined.bytes.size(), 24u);
  EXPECT_EQ(joined.bytes[1], 0x3f);
  EXPECT_EQ(joined.bytes[13], 0x40);
  EXPECT_TRUE(store.isUnsavedBlob(*key));
  // Mismatched or missing parts are refused, naming them.
  EXPECT_EQ(errorText(store.addStack("x", {"e.0", "nope"}).takeError()),
            "no weight named 'nope' to stack");
  EXPECT_EQ(errorText(store.addStack("x", {"e.0", "w"}).takeError()),
            "'w' differs from 'e.0' in dtype or shape");
  EXPECT_EQ(errorText(store.addStack("x", {*key}).takeError()),
            "'experts' is itself a stack");
}

TEST(WeightStoreTest, SavesAStackPartByPart) {
  TempPath parts("parts.safetensors"), saved("saved.safetensors");
  std::vector<float> a{1, 2}, b{3, 4};
  writeFile(parts.str(), {{"p.0", rt::DType::F32, {2}, a.data(), 8},
                          {"p.1", rt::DType::F32, {2}, b.data(), 8}});
  WeightStore store;
  ASSERT_OK(store.addSafeTensorsFile(parts.str()));
  std::string key = llvm::cantFail(store.addStack("s", {"p.0", "p.1"}));
  ASSERT_OK(store.saveBlobs({key}, saved.str()));
  WeightView view = get(store, key);
  EXPECT_EQ(view.file, saved.str());
  float values[4];
  std::memcpy(values, view.bytes.data(), 16);
  EXPECT_EQ(std::vector<float>(values, values + 4),
            (std::vector<float>{1, 2, 3, 4}));
}

} // namespace
