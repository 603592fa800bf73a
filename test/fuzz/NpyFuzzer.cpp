//===- NpyFuzzer.cpp - libFuzzer target for .npy files --------------------===//
//
// readNpy must accept or reject any file cleanly, allocating no more than
// the file holds.
//
//===----------------------------------------------------------------------===//

#include "FormatFuzzers.h"

#include "runtime/formats/Npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = moec::fuzz::writeScratch(data, size, ".npy");
  moec::rt::NpyArray array;
  std::string error;
  if (moec::rt::readNpy(path, array, error) && array.buffer.size > size)
    std::abort(); // Read more data than the file holds.
  return 0;
}
