//===- MappedFile.h - Read-only memory-mapped files -----------*- C++ -*-===//
//
// Weights are mapped, never copied: a mapped file costs address space, not
// memory, so loading a multi-GB model is independent of its size.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_RUNTIME_FORMATS_MAPPEDFILE_H
#define MOEC_RUNTIME_FORMATS_MAPPEDFILE_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace moec::rt {

/// The size of `path` when it is a regular file; std::nullopt when it is
/// missing or something else (a device or a FIFO would be read without end,
/// and opening a FIFO blocks).
std::optional<uint64_t> regularFileSize(const std::string &path);
/// Whether a file written elsewhere may be renamed over `path`: it does not
/// exist or is a regular file (never a device, a FIFO or a directory).
bool isReplaceable(const std::string &path);

/// Drops the resident pages of [data, data + size), which must lie in a
/// read-only file mapping (they fault in again from the file if read);
/// keeps memory bounded while large mapped weights are copied once.
void releaseMappedPages(const void *data, size_t size);

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

#endif // MOEC_RUNTIME_FORMATS_MAPPEDFILE_H
