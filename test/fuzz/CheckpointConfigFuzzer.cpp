//===- CheckpointConfigFuzzer.cpp - libFuzzer target for config.json ------===//

#include "moec/Frontend/Checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::Expected<moec::DecoderConfig> config = moec::parseDecoderConfig(
      llvm::StringRef(reinterpret_cast<const char *>(data), size),
      "config.json");
  if (!config) {
    llvm::consumeError(config.takeError());
    return 0;
  }
  // The tensor list multiplies the config's sizes: it must stay bounded.
  moec::getDecoderTensors(*config);
  return 0;
}
