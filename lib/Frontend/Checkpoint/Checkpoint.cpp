//===- Checkpoint.cpp - Opening a Hugging Face checkpoint directory -------===//

#include "moec/Frontend/Checkpoint.h"

#include "moec/Support/WeightStore.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace moec;

static llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// config.json and the index are small; refuse a file that is not.
static constexpr uint64_t kMaxJsonBytes = 64 << 20;

static llvm::Expected<std::string> readJsonFile(const std::string &path) {
  uint64_t size = 0;
  if (std::error_code ec = llvm::sys::fs::file_size(path, size))
    return fail("cannot read '" + path + "': " + ec.message());
  if (size > kMaxJsonBytes)
    return fail("'" + path + "' is " + llvm::Twine(size) +
                " bytes, more than a JSON file moec reads (64 MiB)");
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return fail("cannot read '" + path + "': " + buffer.getError().message());
  return (*buffer)->getBuffer().str();
}

/// The shard files model.safetensors.index.json names, each once, in the
/// order of first mention; checks that each name is a plain file name.
static llvm::Expected<std::vector<std::string>>
readIndex(const std::string &path,
          llvm::StringMap<std::string> &shardOfTensor) {
  llvm::Expected<std::string> text = readJsonFile(path);
  if (!text)
    return text.takeError();
  llvm::Expected<llvm::json::Value> parsed = llvm::json::parse(*text);
  if (!parsed)
    return fail(path +
                ": is not valid JSON: " + llvm::toString(parsed.takeError()));
  const llvm::json::Object *root = parsed->getAsObject();
  const llvm::json::Object *map =
      root ? root->getObject("weight_map") : nullptr;
  if (!map)
    return fail(path + ": has no \"weight_map\" object");
  std::vector<std::string> shards;
  llvm::StringSet<> seen;
  for (const auto &[tensor, file] : *map) {
    std::optional<llvm::StringRef> name = file.getAsString();
    if (!name || name->empty() || name->contains('/') || name->contains('\\') ||
        *name == "." || *name == "..")
      return fail(path + ": tensor '" + tensor.str() +
                  "' maps to something that is not a file name in the "
                  "checkpoint directory");
    shardOfTensor[tensor.str()] = name->str();
    if (seen.insert(*name).second)
      shards.push_back(name->str());
  }
  if (shards.empty())
    return fail(path + ": \"weight_map\" is empty");
  // JSON objects are unordered: map the shards in a stable order.
  llvm::sort(shards);
  return shards;
}

static std::string shapeText(llvm::ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (auto [i, d] : llvm::enumerate(shape))
    text += (i ? ", " : "") + std::to_string(d);
  return text + "]";
}

llvm::Expected<Checkpoint> moec::openCheckpoint(llvm::StringRef directory,
                                                WeightStore &store) {
  Checkpoint checkpoint;
  checkpoint.directory = directory.str();
  auto inDirectory = [&](llvm::StringRef name) {
    llvm::SmallString<256> path(directory);
    llvm::sys::path::append(path, name);
    return path.str().str();
  };
  std::string configPath = inDirectory("config.json");
  llvm::Expected<std::string> configText = readJsonFile(configPath);
  if (!configText)
    return configText.takeError();
  llvm::Expected<DecoderConfig> config =
      parseDecoderConfig(*configText, configPath);
  if (!config)
    return config.takeError();
  checkpoint.config = std::move(*config);

  // One file, or the shards of the index.
  std::string single = inDirectory("model.safetensors");
  std::string indexPath = inDirectory("model.safetensors.index.json");
  llvm::StringMap<std::string> shardOfTensor;
  if (llvm::sys::fs::exists(indexPath)) {
    llvm::Expected<std::vector<std::string>> shards =
        readIndex(indexPath, shardOfTensor);
    if (!shards)
      return shards.takeError();
    for (const std::string &shard : *shards)
      checkpoint.files.push_back(inDirectory(shard));
  } else if (llvm::sys::fs::exists(single)) {
    checkpoint.files.push_back(single);
  } else {
    return fail("checkpoint '" + directory +
                "' has neither model.safetensors nor "
                "model.safetensors.index.json");
  }
  for (const std::string &file : checkpoint.files)
    if (llvm::Error error = store.addSafeTensorsFile(file))
      return error;

  for (const CheckpointTensor &tensor : getDecoderTensors(checkpoint.config)) {
    llvm::Expected<WeightView> view = store.lookup(tensor.name);
    if (!view) {
      llvm::consumeError(view.takeError());
      return fail("checkpoint '" + directory + "': tensor '" + tensor.name +
                  "' is missing (config.json's " +
                  getModelType(checkpoint.config.family) + " model reads it)");
    }
    if (view->shape != llvm::ArrayRef<int64_t>(tensor.shape))
      return fail("checkpoint '" + directory + "': tensor '" + tensor.name +
                  "' has shape " + shapeText(view->shape) +
                  ", config.json "
                  "implies " +
                  shapeText(tensor.shape));
    if (view->dtype != rt::DType::F32 && view->dtype != rt::DType::BF16 &&
        view->dtype != rt::DType::F16)
      return fail("checkpoint '" + directory + "': tensor '" + tensor.name +
                  "' is " + rt::dtypeName(view->dtype) +
                  "; moec reads F32, BF16 and F16 checkpoints");
    auto it = shardOfTensor.find(tensor.name);
    if (it != shardOfTensor.end() &&
        llvm::sys::path::filename(view->file) != it->second)
      return fail("checkpoint '" + directory + "': tensor '" + tensor.name +
                  "' is in " + llvm::sys::path::filename(view->file) +
                  ", but the index maps it to " + it->second);
  }
  return checkpoint;
}
