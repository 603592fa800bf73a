//===- PolicyFuzzer.cpp - libFuzzer target for quantization policies ------===//

#include "FormatFuzzers.h"

#include "passes/Quant/QuantPolicy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = moec::fuzz::writeScratch(data, size, ".json");
  std::string error;
  moec::QuantPolicy::load(path, error);
  return 0;
}
