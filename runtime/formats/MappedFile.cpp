//===- MappedFile.cpp - Read-only memory-mapped files ---------------------===//

#include "runtime/formats/MappedFile.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace moec::rt {

std::optional<uint64_t> regularFileSize(const std::string &path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode))
    return std::nullopt;
  return static_cast<uint64_t>(info.st_size);
}

bool isReplaceable(const std::string &path) {
  struct stat info;
  return ::stat(path.c_str(), &info) != 0 || S_ISREG(info.st_mode);
}

std::unique_ptr<MappedFile> MappedFile::open(const std::string &path,
                                             std::string &error) {
  // O_NONBLOCK: opening a FIFO would otherwise wait for a writer; regular
  // files read the same with it.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    error = "cannot open '" + path + "': " + std::strerror(errno);
    return nullptr;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    error = "'" + path + "' is not a regular file";
    ::close(fd);
    return nullptr;
  }
  size_t size = static_cast<size_t>(st.st_size);
  const uint8_t *data = nullptr;
  // mmap rejects a zero length; an empty file maps to an empty view.
  if (size != 0) {
    void *addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      error = "cannot map '" + path + "': " + std::strerror(errno);
      ::close(fd);
      return nullptr;
    }
    data = static_cast<const uint8_t *>(addr);
  }
  ::close(fd);
  return std::unique_ptr<MappedFile>(new MappedFile(path, data, size));
}

MappedFile::~MappedFile() {
  if (size_ != 0)
    ::munmap(const_cast<uint8_t *>(data_), size_);
}

} // namespace moec::rt

void moec::rt::releaseMappedPages(const void *data, size_t size) {
  long page = ::sysconf(_SC_PAGESIZE);
  if (page <= 0 || size == 0)
    return;
  uintptr_t begin =
      (reinterpret_cast<uintptr_t>(data) + page - 1) & ~uintptr_t(page - 1);
  uintptr_t end =
      (reinterpret_cast<uintptr_t>(data) + size) & ~uintptr_t(page - 1);
  if (end > begin)
    ::madvise(reinterpret_cast<void *>(begin), end - begin, MADV_DONTNEED);
}
