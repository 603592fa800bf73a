//===- SafeTensors.cpp - Read and write safetensors files -----------------===//

#include "runtime/formats/SafeTensors.h"

#include "runtime/formats/Json.h"
#include "runtime/formats/MappedFile.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>

namespace moec::rt {

/// The reference implementation's limit; a larger header is a corrupt file.
static constexpr uint64_t kMaxHeaderSize = 100u << 20;
static constexpr size_t kDataAlignment = 64;

int64_t numElements(const std::vector<int64_t> &shape) {
  int64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0 || (dim != 0 && count > INT64_MAX / dim))
      return -1;
    count *= dim;
  }
  return count;
}

static bool parseTensorEntry(const std::string &name, const json::Value &entry,
                             uint64_t dataSize, TensorInfo &info,
                             std::string &error) {
  auto bad = [&](const std::string &why) {
    error = "tensor '" + name + "': " + why;
    return false;
  };
  if (entry.kind != json::Value::Kind::Object)
    return bad("entry is not an object");
  const json::Value *dtype = entry.find("dtype");
  const json::Value *shape = entry.find("shape");
  const json::Value *offsets = entry.find("data_offsets");
  if (!dtype || dtype->kind != json::Value::Kind::String)
    return bad("missing string 'dtype'");
  if (!shape || shape->kind != json::Value::Kind::Array)
    return bad("missing array 'shape'");
  if (!offsets || offsets->kind != json::Value::Kind::Array ||
      offsets->array.size() != 2)
    return bad("'data_offsets' is not a pair");
  std::optional<DType> parsed = parseDType(dtype->string);
  if (!parsed)
    return bad("unknown dtype '" + dtype->string + "'");
  info.name = name;
  info.dtype = *parsed;
  for (const json::Value &dim : shape->array) {
    uint64_t value;
    if (!json::toUInt64(dim, value) || value > INT64_MAX)
      return bad("shape entries must be non-negative integers");
    info.shape.push_back(static_cast<int64_t>(value));
  }
  uint64_t begin, end;
  if (!json::toUInt64(offsets->array[0], begin) ||
      !json::toUInt64(offsets->array[1], end))
    return bad("'data_offsets' must be non-negative integers");
  if (begin > end || end > dataSize)
    return bad("data_offsets [" + std::to_string(begin) + ", " +
               std::to_string(end) + ") fall outside the " +
               std::to_string(dataSize) + "-byte data section");
  int64_t count = numElements(info.shape);
  uint64_t elementSize = dtypeSize(info.dtype);
  if (count < 0 || static_cast<uint64_t>(count) > UINT64_MAX / elementSize)
    return bad("shape is too large");
  if (static_cast<uint64_t>(count) * elementSize != end - begin)
    return bad("holds " + std::to_string(end - begin) + " bytes but its " +
               std::string(dtypeName(info.dtype)) + " shape needs " +
               std::to_string(static_cast<uint64_t>(count) * elementSize));
  info.offset = begin;
  info.size = end - begin;
  return true;
}

bool parseSafeTensors(const uint8_t *data, size_t size,
                      std::vector<TensorInfo> &tensors, Metadata &metadata,
                      std::string &error) {
  tensors.clear();
  metadata.clear();
  if (size < 8) {
    error = "file is too small to be safetensors (" + std::to_string(size) +
            " bytes)";
    return false;
  }
  uint64_t headerSize = 0;
  for (int i = 7; i >= 0; --i)
    headerSize = (headerSize << 8) | data[i];
  if (headerSize > kMaxHeaderSize || headerSize > size - 8) {
    error = "header length " + std::to_string(headerSize) +
            " exceeds the file size or the 100 MiB limit";
    return false;
  }
  std::string_view headerText(reinterpret_cast<const char *>(data + 8),
                              headerSize);
  json::Value header;
  std::string jsonError;
  if (!json::parse(headerText, header, jsonError)) {
    error = "header: " + jsonError;
    return false;
  }
  if (header.kind != json::Value::Kind::Object) {
    error = "header is not a JSON object";
    return false;
  }
  uint64_t dataStart = 8 + headerSize;
  uint64_t dataSize = size - dataStart;
  for (const auto &[name, entry] : header.object) {
    if (name == "__metadata__") {
      if (entry.kind != json::Value::Kind::Object) {
        error = "'__metadata__' is not an object";
        return false;
      }
      for (const auto &[key, value] : entry.object) {
        if (value.kind != json::Value::Kind::String) {
          error = "metadata value '" + key + "' is not a string";
          return false;
        }
        metadata.emplace_back(key, value.string);
      }
      continue;
    }
    TensorInfo info;
    if (!parseTensorEntry(name, entry, dataSize, info, error))
      return false;
    info.offset += dataStart;
    tensors.push_back(std::move(info));
  }
  // Tensors may not share bytes: a writer that overlaps them is corrupt.
  std::vector<const TensorInfo *> byOffset;
  for (const TensorInfo &info : tensors)
    if (info.size != 0)
      byOffset.push_back(&info);
  std::sort(byOffset.begin(), byOffset.end(),
            [](auto *a, auto *b) { return a->offset < b->offset; });
  for (size_t i = 1; i < byOffset.size(); ++i) {
    if (byOffset[i - 1]->offset + byOffset[i - 1]->size > byOffset[i]->offset) {
      error = "tensors '" + byOffset[i - 1]->name + "' and '" +
              byOffset[i]->name + "' overlap";
      return false;
    }
  }
  return true;
}

std::unique_ptr<SafeTensorsFile> SafeTensorsFile::open(const std::string &path,
                                                       std::string &error) {
  std::unique_ptr<MappedFile> file = MappedFile::open(path, error);
  if (!file)
    return nullptr;
  auto result = std::unique_ptr<SafeTensorsFile>(new SafeTensorsFile());
  if (!parseSafeTensors(file->data(), file->size(), result->infos, result->meta,
                        error)) {
    error = "'" + path + "' is not a valid safetensors file: " + error;
    return nullptr;
  }
  result->file = std::move(file);
  return result;
}

const TensorInfo *SafeTensorsFile::find(std::string_view name) const {
  for (const TensorInfo &info : infos)
    if (info.name == name)
      return &info;
  return nullptr;
}

static std::string buildHeader(const std::vector<TensorToWrite> &tensors,
                               const Metadata &metadata) {
  std::string header = "{";
  bool first = true;
  auto separate = [&] {
    if (!first)
      header += ',';
    first = false;
  };
  if (!metadata.empty()) {
    separate();
    header += "\"__metadata__\":{";
    for (size_t i = 0; i < metadata.size(); ++i) {
      if (i)
        header += ',';
      json::appendQuoted(header, metadata[i].first);
      header += ':';
      json::appendQuoted(header, metadata[i].second);
    }
    header += '}';
  }
  uint64_t offset = 0;
  for (const TensorToWrite &tensor : tensors) {
    separate();
    json::appendQuoted(header, tensor.name);
    header += ":{\"dtype\":\"";
    header += dtypeName(tensor.dtype);
    header += "\",\"shape\":[";
    for (size_t i = 0; i < tensor.shape.size(); ++i) {
      if (i)
        header += ',';
      header += std::to_string(tensor.shape[i]);
    }
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + tensor.size) + "]}";
    offset += tensor.size;
  }
  header += '}';
  // Pad with spaces (allowed by the format) so the data starts aligned.
  while ((8 + header.size()) % kDataAlignment != 0)
    header += ' ';
  return header;
}

bool writeSafeTensors(const std::string &path,
                      const std::vector<TensorToWrite> &tensors,
                      const Metadata &metadata, std::string &error) {
  for (const TensorToWrite &tensor : tensors) {
    size_t pieceBytes = 0;
    for (const auto &piece : tensor.pieces)
      pieceBytes += piece.second;
    if (!tensor.pieces.empty() && pieceBytes != tensor.size) {
      error = "tensor '" + tensor.name + "' has pieces of " +
              std::to_string(pieceBytes) + " bytes, not " +
              std::to_string(tensor.size);
      return false;
    }
    int64_t count = numElements(tensor.shape);
    if (count < 0 ||
        static_cast<uint64_t>(count) * dtypeSize(tensor.dtype) != tensor.size) {
      error = "tensor '" + tensor.name + "' has " +
              std::to_string(tensor.size) +
              " bytes, which does not match its " +
              std::string(dtypeName(tensor.dtype)) + " shape";
      return false;
    }
  }
  // Renamed into place below: never over a device, a FIFO or a directory.
  if (!isReplaceable(path)) {
    error = "cannot write '" + path + "': not a regular file";
    return false;
  }
  std::string header = buildHeader(tensors, metadata);
  std::string tmpPath = path + ".tmp." + std::to_string(::getpid());
  FILE *out = std::fopen(tmpPath.c_str(), "wb");
  if (!out) {
    error = "cannot create '" + tmpPath + "': " + std::strerror(errno);
    return false;
  }
  uint8_t length[8];
  uint64_t headerSize = header.size();
  for (int i = 0; i < 8; ++i)
    length[i] = static_cast<uint8_t>(headerSize >> (8 * i));
  bool ok = std::fwrite(length, 1, 8, out) == 8 &&
            std::fwrite(header.data(), 1, header.size(), out) == header.size();
  for (const TensorToWrite &tensor : tensors) {
    if (tensor.pieces.empty()) {
      ok = ok && (tensor.size == 0 ||
                  std::fwrite(tensor.data, 1, tensor.size, out) == tensor.size);
      continue;
    }
    for (const auto &[data, size] : tensor.pieces) {
      ok = ok && (size == 0 || std::fwrite(data, 1, size, out) == size);
      if (tensor.releasePieces)
        releaseMappedPages(data, size);
    }
  }
  ok = (std::fclose(out) == 0) && ok;
  if (!ok || std::rename(tmpPath.c_str(), path.c_str()) != 0) {
    error = "cannot write '" + path + "': " + std::strerror(errno);
    std::remove(tmpPath.c_str());
    return false;
  }
  return true;
}

} // namespace moec::rt
