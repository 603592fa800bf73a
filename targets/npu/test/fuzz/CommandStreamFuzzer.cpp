//===- CommandStreamFuzzer.cpp - libFuzzer target for command streams -----===//
//
// Feeds arbitrary bytes to decodeProgram. Besides crashes and sanitizer
// reports, it aborts when an accepted stream does not encode back to the
// same bytes (the format has no slack: reserved and padding bytes must be
// zero) or does not decode again.
//
//===----------------------------------------------------------------------===//

#include "machine/CommandStream.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

using namespace moec::npu;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Program program;
  std::string error;
  if (!decodeProgram(data, size, program, error)) {
    if (error.empty() || error.size() > 1024)
      abort();
    return 0;
  }
  std::string bytes = encodeProgram(program);
  if (bytes.size() != size || std::memcmp(bytes.data(), data, size) != 0)
    abort();
  Program again;
  if (!decodeProgram(reinterpret_cast<const uint8_t *>(bytes.data()),
                     bytes.size(), again, error) ||
      encodeProgram(again) != bytes)
    abort();
  return 0;
}
