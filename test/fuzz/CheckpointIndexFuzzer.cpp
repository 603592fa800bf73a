//===- CheckpointIndexFuzzer.cpp - libFuzzer target for the shard index ---===//
//
// Each input is model.safetensors.index.json of a scratch checkpoint whose
// config.json is a small valid Llama; the shards it names do not exist.
//
//===----------------------------------------------------------------------===//

#include "moec/Frontend/Checkpoint.h"
#include "moec/Support/WeightStore.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

static std::string scratchDirectory() {
  llvm::SmallString<128> dir;
  if (llvm::sys::fs::createUniqueDirectory("moec-fuzz-index", dir))
    std::abort();
  std::error_code ec;
  llvm::raw_fd_ostream config((dir + "/config.json").str(), ec);
  if (ec)
    std::abort();
  config << R"({"model_type": "llama", "hidden_size": 64,
    "vocab_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
    "intermediate_size": 96, "max_position_embeddings": 2048})";
  return dir.str().str();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const std::string dir = scratchDirectory();
  {
    std::error_code ec;
    llvm::raw_fd_ostream index(dir + "/model.safetensors.index.json", ec);
    if (ec)
      std::abort();
    index.write(reinterpret_cast<const char *>(data), size);
  }
  moec::WeightStore store;
  llvm::Expected<moec::Checkpoint> checkpoint =
      moec::openCheckpoint(dir, store);
  if (!checkpoint)
    llvm::consumeError(checkpoint.takeError());
  return 0;
}
