//===- MappedFile.h - Read-only memory-mapped files -----------*- C++ -*-===//
//
// Weights are mapped, never copied: a mapped file costs address space, not
// memory, so loading a multi-GB model is independent of its size.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_RUNTIME_MAPPEDFILE_H
#define MOEC_RUNTIME_MAPPEDFILE_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace moec::rt {

class MappedFile {
public:
  /// Maps `path` read-only. On failure returns null and sets `error` to a
  /// message naming the file and the reason.
  static std::unique_ptr<MappedFile> open(const std::string &path,
                                          std::string &error);
  ~MappedFile();
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;

  const uint8_t *data() const { return data_; }
  size_t size() const { return size_; }
  const std::string &path() const { return path_; }

private:
  MappedFile(std::string path, const uint8_t *data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  std::string path_;
  const uint8_t *data_;
  size_t size_;
};

} // namespace moec::rt

#endif // MOEC_RUNTIME_MAPPEDFILE_H
