//===- WeightStore.cpp - Weights referenced by key ------------------------===//

#include "moec/Support/WeightStore.h"

#include "runtime/formats/MappedFile.h"
#include "runtime/formats/SafeTensors.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"

#include <cassert>
#include <mutex>

using namespace moec;

namespace {
struct Entry {
  rt::DType dtype;
  llvm::SmallVector<int64_t> shape;
  const uint8_t *data = nullptr;
  size_t size = 0;
  /// Index into Impl::files, or -1 for a blob held in `blob`.
  int fileIndex = -1;
  std::unique_ptr<std::vector<uint8_t>> blob;
  /// A stack's parts; `blob` holds them joined once lookup() needs it.
  std::vector<std::string> parts;
};
} // namespace

struct WeightStore::Impl {
  // Passes may run on several functions at once and create blobs
  // concurrently; every access to the tables goes through this lock.
  mutable std::mutex mutex;
  std::vector<std::unique_ptr<rt::SafeTensorsFile>> files;
  llvm::StringMap<unsigned> fileIndexByRealPath;
  /// Raw files serving ranges; their entries have fileIndex >= rawBase.
  std::vector<std::unique_ptr<rt::MappedFile>> rawFiles;
  llvm::StringMap<unsigned> rawIndexByRealPath;
  static constexpr int rawBase = 1 << 30;
  llvm::StringMap<Entry> entries;

  llvm::StringRef fileOf(const Entry &entry) const {
    if (entry.fileIndex < 0)
      return llvm::StringRef();
    if (entry.fileIndex >= rawBase)
      return rawFiles[entry.fileIndex - rawBase]->path();
    return files[entry.fileIndex]->path();
  }

  /// Registers every tensor of the already-validated `file` under its name.
  llvm::Error adopt(std::unique_ptr<rt::SafeTensorsFile> file,
                    llvm::StringRef realPath, bool replaceBlobs) {
    for (const rt::TensorInfo &info : file->tensors()) {
      auto it = entries.find(info.name);
      if (it == entries.end())
        continue;
      if (replaceBlobs && it->second.fileIndex < 0)
        continue;
      return llvm::createStringError(
          "weight '%s' is provided by both '%s' and '%s'", info.name.c_str(),
          it->second.fileIndex < 0 ? "a pass-created blob"
                                   : fileOf(it->second).str().c_str(),
          file->path().c_str());
    }
    unsigned index = files.size();
    for (const rt::TensorInfo &info : file->tensors()) {
      Entry &entry = entries[info.name];
      entry.dtype = info.dtype;
      entry.shape.assign(info.shape.begin(), info.shape.end());
      entry.data = file->data(info);
      entry.size = info.size;
      entry.fileIndex = index;
      entry.blob.reset();
      entry.parts.clear();
    }
    fileIndexByRealPath[realPath] = index;
    files.push_back(std::move(file));
    return llvm::Error::success();
  }
};

WeightStore::WeightStore() : impl(std::make_unique<Impl>()) {}
WeightStore::~WeightStore() = default;

static llvm::Expected<std::unique_ptr<rt::SafeTensorsFile>>
openSafeTensors(llvm::StringRef path, llvm::SmallVectorImpl<char> &realPath) {
  if (std::error_code ec = llvm::sys::fs::real_path(path, realPath))
    return llvm::createStringError(ec, "cannot open weights file '%s': %s",
                                   path.str().c_str(), ec.message().c_str());
  std::string error;
  std::unique_ptr<rt::SafeTensorsFile> file =
      rt::SafeTensorsFile::open(path.str(), error);
  if (!file)
    return llvm::createStringError(error);
  return file;
}

llvm::Error WeightStore::addSafeTensorsFile(llvm::StringRef path) {
  llvm::SmallString<256> realPath;
  auto file = openSafeTensors(path, realPath);
  if (!file)
    return file.takeError();
  std::lock_guard<std::mutex> lock(impl->mutex);
  if (impl->fileIndexByRealPath.count(realPath))
    return llvm::Error::success();
  return impl->adopt(std::move(*file), realPath, /*replaceBlobs=*/false);
}

llvm::Error WeightStore::addFileRange(llvm::StringRef key, llvm::StringRef path,
                                      uint64_t offset, rt::DType dtype,
                                      llvm::ArrayRef<int64_t> shape) {
  llvm::SmallString<256> realPath;
  if (std::error_code ec = llvm::sys::fs::real_path(path, realPath))
    return llvm::createStringError(ec, "cannot open weights file '%s': %s",
                                   path.str().c_str(), ec.message().c_str());
  uint64_t size =
      rt::numElements({shape.begin(), shape.end()}) * rt::dtypeSize(dtype);
  std::lock_guard<std::mutex> lock(impl->mutex);
  auto known = impl->rawIndexByRealPath.find(realPath);
  unsigned index;
  if (known != impl->rawIndexByRealPath.end()) {
    index = known->second;
  } else {
    std::string error;
    std::unique_ptr<rt::MappedFile> file =
        rt::MappedFile::open(path.str(), error);
    if (!file)
      return llvm::createStringError(error);
    index = impl->rawFiles.size();
    impl->rawIndexByRealPath[realPath] = index;
    impl->rawFiles.push_back(std::move(file));
  }
  const rt::MappedFile &file = *impl->rawFiles[index];
  if (offset > file.size() || size > file.size() - offset)
    return llvm::createStringError(
        "weight '%s' needs bytes [%llu, %llu) of '%s', which has only %zu",
        key.str().c_str(), (unsigned long long)offset,
        (unsigned long long)(offset + size), path.str().c_str(), file.size());
  const uint8_t *data = file.data() + offset;
  auto it = impl->entries.find(key);
  if (it != impl->entries.end()) {
    const Entry &entry = it->second;
    if (entry.data == data && entry.size == size && entry.dtype == dtype &&
        llvm::ArrayRef<int64_t>(entry.shape) == shape)
      return llvm::Error::success();
    return llvm::createStringError(
        "weight '%s' is provided by both '%s' and '%s'", key.str().c_str(),
        entry.fileIndex < 0 ? "a pass-created blob"
                            : impl->fileOf(entry).str().c_str(),
        path.str().c_str());
  }
  Entry &entry = impl->entries[key];
  entry.dtype = dtype;
  entry.shape.assign(shape.begin(), shape.end());
  entry.data = data;
  entry.size = size;
  entry.fileIndex = Impl::rawBase + index;
  return llvm::Error::success();
}

std::string WeightStore::addBlob(llvm::StringRef keyHint, rt::DType dtype,
                                 llvm::ArrayRef<int64_t> shape,
                                 std::vector<uint8_t> bytes) {
  assert(rt::numElements({shape.begin(), shape.end()}) *
                 static_cast<int64_t>(rt::dtypeSize(dtype)) ==
             static_cast<int64_t>(bytes.size()) &&
         "blob size does not match its shape");
  std::lock_guard<std::mutex> lock(impl->mutex);
  std::string key = keyHint.empty() ? std::string("blob") : keyHint.str();
  for (unsigned suffix = 1; impl->entries.count(key); ++suffix)
    key = (keyHint.empty() ? "blob" : keyHint).str() + "_" +
          std::to_string(suffix);
  Entry &entry = impl->entries[key];
  entry.dtype = dtype;
  entry.shape.assign(shape.begin(), shape.end());
  entry.blob = std::make_unique<std::vector<uint8_t>>(std::move(bytes));
  entry.data = entry.blob->data();
  entry.size = entry.blob->size();
  return key;
}

llvm::Expected<std::string>
WeightStore::addStack(llvm::StringRef keyHint,
                      llvm::ArrayRef<std::string> parts) {
  std::lock_guard<std::mutex> lock(impl->mutex);
  if (parts.empty())
    return llvm::createStringError("a stack needs at least one part");
  const Entry *first = nullptr;
  uint64_t size = 0;
  for (const std::string &part : parts) {
    auto it = impl->entries.find(part);
    if (it == impl->entries.end())
      return llvm::createStringError("no weight named '%s' to stack",
                                     part.c_str());
    const Entry &entry = it->second;
    if (!entry.parts.empty())
      return llvm::createStringError("'%s' is itself a stack", part.c_str());
    if (first && (entry.dtype != first->dtype || entry.shape != first->shape))
      return llvm::createStringError("'%s' differs from '%s' in dtype or shape",
                                     part.c_str(), parts.front().c_str());
    first = first ? first : &entry;
    size += entry.size;
  }
  std::string key = keyHint.empty() ? std::string("stack") : keyHint.str();
  for (unsigned suffix = 1; impl->entries.count(key); ++suffix)
    key = (keyHint.empty() ? "stack" : keyHint).str() + "_" +
          std::to_string(suffix);
  Entry &entry = impl->entries[key];
  entry.dtype = first->dtype;
  entry.shape.assign({int64_t(parts.size())});
  entry.shape.append(first->shape.begin(), first->shape.end());
  entry.size = size;
  entry.parts.assign(parts.begin(), parts.end());
  return key;
}

llvm::Expected<WeightView> WeightStore::lookup(llvm::StringRef key) const {
  std::lock_guard<std::mutex> lock(impl->mutex);
  auto it = impl->entries.find(key);
  if (it == impl->entries.end())
    return llvm::createStringError("no weight named '%s' in the weight store",
                                   key.str().c_str());
  Entry &entry = it->second;
  if (!entry.parts.empty() && !entry.data) {
    // Joined once, for the consumers that need one piece.
    entry.blob = std::make_unique<std::vector<uint8_t>>();
    entry.blob->reserve(entry.size);
    for (const std::string &part : entry.parts) {
      const Entry &p = impl->entries.find(part)->second;
      entry.blob->insert(entry.blob->end(), p.data, p.data + p.size);
    }
    entry.data = entry.blob->data();
  }
  return WeightView{entry.dtype, entry.shape,
                    llvm::ArrayRef<uint8_t>(entry.data, entry.size),
                    impl->fileOf(entry)};
}

llvm::Expected<WeightPieces>
WeightStore::lookupPieces(llvm::StringRef key) const {
  std::lock_guard<std::mutex> lock(impl->mutex);
  auto it = impl->entries.find(key);
  if (it == impl->entries.end())
    return llvm::createStringError("no weight named '%s' in the weight store",
                                   key.str().c_str());
  const Entry &entry = it->second;
  WeightPieces result{entry.dtype, entry.shape, {}, entry.size};
  auto view = [&](const Entry &e) {
    return WeightView{e.dtype, e.shape, llvm::ArrayRef<uint8_t>(e.data, e.size),
                      impl->fileOf(e)};
  };
  if (entry.parts.empty() || entry.data) {
    result.pieces.push_back(view(entry));
    return result;
  }
  for (const std::string &part : entry.parts)
    result.pieces.push_back(view(impl->entries.find(part)->second));
  return result;
}

bool WeightStore::contains(llvm::StringRef key) const {
  std::lock_guard<std::mutex> lock(impl->mutex);
  return impl->entries.count(key);
}

bool WeightStore::isUnsavedBlob(llvm::StringRef key) const {
  std::lock_guard<std::mutex> lock(impl->mutex);
  auto it = impl->entries.find(key);
  return it != impl->entries.end() && it->second.fileIndex < 0;
}

llvm::Error WeightStore::saveBlobs(llvm::ArrayRef<std::string> keys,
                                   llvm::StringRef path) {
  std::lock_guard<std::mutex> lock(impl->mutex);
  std::vector<rt::TensorToWrite> tensors;
  for (const std::string &key : keys) {
    auto it = impl->entries.find(key);
    if (it == impl->entries.end() || it->second.fileIndex >= 0)
      return llvm::createStringError("'%s' is not an unsaved blob",
                                     key.c_str());
    const Entry &entry = it->second;
    tensors.push_back(
        {key, entry.dtype,
         std::vector<int64_t>(entry.shape.begin(), entry.shape.end()),
         entry.data, entry.size});
    // A stack not yet joined is written part by part.
    if (!entry.data)
      for (const std::string &part : entry.parts) {
        const Entry &p = impl->entries.find(part)->second;
        tensors.back().pieces.push_back({p.data, p.size});
      }
  }
  std::string error;
  if (!rt::writeSafeTensors(path.str(), tensors, {{"producer", "moec"}}, error))
    return llvm::createStringError(error);
  llvm::SmallString<256> realPath;
  auto file = openSafeTensors(path, realPath);
  if (!file)
    return file.takeError();
  // The file now backs these keys; adopting it releases the blobs' memory.
  return impl->adopt(std::move(*file), realPath, /*replaceBlobs=*/true);
}

size_t WeightStore::size() const {
  std::lock_guard<std::mutex> lock(impl->mutex);
  return impl->entries.size();
}
