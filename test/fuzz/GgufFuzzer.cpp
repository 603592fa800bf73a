//===- GgufFuzzer.cpp - libFuzzer target for GGUF files -------------------===//
//
// parseGguf must accept or reject any bytes cleanly, and what it accepts
// (tensors, keys, strings, arrays) must lie inside the image.
//
//===----------------------------------------------------------------------===//

#include "runtime/formats/Gguf.h"

#include <cstdlib>

using namespace moec::rt;

namespace {
/// Aborts unless [at, at + bytes) lies inside [data, data + size).
void checkInside(const void *at, uint64_t bytes, const uint8_t *data,
                 size_t size) {
  auto *p = static_cast<const uint8_t *>(at);
  if (bytes == 0)
    return;
  if (p < data || uint64_t(p - data) > size || bytes > size - (p - data))
    std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  GgufImage image;
  std::string error;
  if (!parseGguf(data, size, image, error))
    return 0;
  for (const GgufTensor &tensor : image.tensors) {
    if (tensor.offset > size || tensor.size > size - tensor.offset)
      std::abort(); // Accepted a tensor outside the image.
    checkInside(tensor.name.data(), tensor.name.size(), data, size);
  }
  for (const GgufKeyValue &entry : image.metadata) {
    checkInside(entry.key.data(), entry.key.size(), data, size);
    const GgufValue &value = entry.value;
    checkInside(value.string.data(), value.string.size(), data, size);
    for (std::string_view s : value.strings)
      checkInside(s.data(), s.size(), data, size);
    if (value.type == GgufValueType::Array && value.elements)
      for (uint64_t i = 0; i < value.count; ++i)
        (void)value.floatElement(i); // reads inside, or ASan says so
  }
  return 0;
}
