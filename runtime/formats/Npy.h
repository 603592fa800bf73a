//===- Npy.h - NumPy .npy files ---------------------------------*- C++ -*-===//
//
// The binary's input and output format: format versions 1-3, C order,
// little-endian (or byte-sized) elements of the dtypes in DType.h that
// NumPy has (no bfloat16 or fp8).
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_RUNTIME_FORMATS_NPY_H
#define MOEC_RUNTIME_FORMATS_NPY_H

#include "runtime/formats/DType.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace moec::rt {

/// A 64-byte aligned buffer.
struct AlignedBuffer {
  struct Free {
    void operator()(uint8_t *p) const;
  };
  std::unique_ptr<uint8_t, Free> data;
  size_t size = 0;
  static AlignedBuffer allocate(size_t size);
};

struct NpyArray {
  DType dtype;
  std::vector<int64_t> shape;
  AlignedBuffer buffer;
};

/// Reads `path`; false with a message naming the file and the problem.
bool readNpy(const std::string &path, NpyArray &array, std::string &error);
/// Writes an array atomically (a temporary file renamed into place).
bool writeNpy(const std::string &path, DType dtype,
              const std::vector<int64_t> &shape, const void *data, size_t size,
              std::string &error);
/// The NumPy spelling of a dtype ("float32"), for messages.
std::string numpyName(DType dtype);

} // namespace moec::rt

#endif // MOEC_RUNTIME_FORMATS_NPY_H
