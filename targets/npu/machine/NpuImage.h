//===- NpuImage.h - What an NPU binary embeds -------------------*- C++ -*-===//
//
// The compiler writes one image per model: the chip description it
// compiled for and, per entry point, the tensors it takes and returns and
// one command-stream program per token-count bucket. The binary's host
// program reads it back and runs the bucket that holds a call's tokens.
// In a program, an input or weight segment's name is the index of the
// entry's argument it binds (inputs, then weights) and an output
// segment's the index of its result.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_MACHINE_NPUIMAGE_H
#define MOEC_TARGETS_NPU_MACHINE_NPUIMAGE_H

#include <cstdint>
#include <string>
#include <vector>

namespace moec::npu {

constexpr uint32_t kImageFormatVersion = 1;

/// A tensor an entry point takes or returns; a dimension of -1 is the
/// token count.
struct ImageTensor {
  uint32_t elemBytes = 4;
  std::vector<int64_t> dims;
};

struct ImageBucket {
  int64_t tokens = 0;
  /// encodeProgram's bytes.
  std::string program;
};

struct ImageEntry {
  std::vector<ImageTensor> inputs, weights, outputs;
  std::vector<ImageBucket> buckets;
};

struct NpuImage {
  std::string chipText;
  std::vector<ImageEntry> entries;
};

std::string encodeImage(const NpuImage &image);
/// Decodes and bounds-checks an image (not the programs inside).
bool decodeImage(const uint8_t *data, size_t size, NpuImage &image,
                 std::string &error);

} // namespace moec::npu

#endif // MOEC_TARGETS_NPU_MACHINE_NPUIMAGE_H
