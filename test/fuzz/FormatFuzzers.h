//===- FormatFuzzers.h - Feeding fuzz inputs to readers of paths -*- C++ -*-===//
//
// Readers that take a path (.npy, routing profiles, quantization policies)
// are fuzzed through one temporary regular file per process, rewritten for
// each input.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TEST_FUZZ_FORMATFUZZERS_H
#define MOEC_TEST_FUZZ_FORMATFUZZERS_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace moec::fuzz {

/// Writes `data` to this process's scratch file (suffix `extension`) and
/// returns its path.
inline std::string writeScratch(const uint8_t *data, size_t size,
                                const char *extension) {
  const char *dir = std::getenv("TMPDIR");
  std::string path = std::string(dir ? dir : "/tmp") + "/moec-fuzz-" +
                     std::to_string(::getpid()) + extension;
  FILE *file = std::fopen(path.c_str(), "wb");
  if (!file || std::fwrite(data, 1, size, file) != size)
    std::abort();
  std::fclose(file);
  return path;
}

} // namespace moec::fuzz

#endif // MOEC_TEST_FUZZ_FORMATFUZZERS_H
