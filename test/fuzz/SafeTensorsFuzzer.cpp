//===- SafeTensorsFuzzer.cpp - libFuzzer target for safetensors headers ---===//
//
// parseSafeTensors must accept or reject any bytes cleanly, and what it
// accepts must lie inside the image.
//
//===----------------------------------------------------------------------===//

#include "runtime/formats/SafeTensors.h"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<moec::rt::TensorInfo> tensors;
  moec::rt::Metadata metadata;
  std::string error;
  if (!moec::rt::parseSafeTensors(data, size, tensors, metadata, error))
    return 0;
  for (const moec::rt::TensorInfo &info : tensors)
    if (info.offset > size || info.size > size - info.offset)
      std::abort(); // Accepted a tensor outside the image.
  return 0;
}
