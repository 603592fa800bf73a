//===- SafeTensors.h - Read and write safetensors files -------*- C++ -*-===//
//
// The safetensors format: an 8-byte little-endian header length, a JSON
// header mapping tensor names to {dtype, shape, data_offsets} (plus an
// optional "__metadata__" string map), then the raw little-endian data.
// Reading maps the file; tensors are views into the mapping.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_RUNTIME_FORMATS_SAFETENSORS_H
#define MOEC_RUNTIME_FORMATS_SAFETENSORS_H

#include "runtime/formats/DType.h"
#include "runtime/formats/MappedFile.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace moec::rt {

struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  /// Byte offset of the tensor's data from the start of the file.
  uint64_t offset;
  uint64_t size;
};

using Metadata = std::vector<std::pair<std::string, std::string>>;

/// Parses and validates the header of a complete safetensors image: bounds,
/// sizes consistent with dtype and shape, no overlapping tensors. Returns
/// false with a message in `error` for any malformed input.
bool parseSafeTensors(const uint8_t *data, size_t size,
                      std::vector<TensorInfo> &tensors, Metadata &metadata,
                      std::string &error);

class SafeTensorsFile {
public:
  /// Maps and validates `path`; null with `error` set on failure.
  static std::unique_ptr<SafeTensorsFile> open(const std::string &path,
                                               std::string &error);

  const std::string &path() const { return file->path(); }
  const std::vector<TensorInfo> &tensors() const { return infos; }
  const Metadata &metadata() const { return meta; }
  const TensorInfo *find(std::string_view name) const;
  const uint8_t *data(const TensorInfo &info) const {
    return file->data() + info.offset;
  }

private:
  std::unique_ptr<MappedFile> file;
  std::vector<TensorInfo> infos;
  Metadata meta;
};

struct TensorToWrite {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void *data;
  size_t size;
  /// When not empty, the bytes are these pieces one after another (`data`
  /// is unused; `size` is their total), written without joining them.
  std::vector<std::pair<const void *, size_t>> pieces = {};
  /// The pieces lie in read-only file mappings: drop their pages once
  /// written (releaseMappedPages), so that copying a large weight keeps
  /// memory bounded.
  bool releasePieces = false;
};

/// Writes a safetensors file. The data goes to a temporary file beside
/// `path` that is renamed into place only when complete, so a failure never
/// leaves a half-written file. The data section starts 64-byte aligned.
bool writeSafeTensors(const std::string &path,
                      const std::vector<TensorToWrite> &tensors,
                      const Metadata &metadata, std::string &error);

/// Number of elements of `shape`, or -1 on a negative dimension or overflow.
int64_t numElements(const std::vector<int64_t> &shape);

} // namespace moec::rt

#endif // MOEC_RUNTIME_FORMATS_SAFETENSORS_H
