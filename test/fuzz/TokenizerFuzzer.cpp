//===- TokenizerFuzzer.cpp - libFuzzer target for tokenizer.json ----------===//
//
// Loads the input as tokenizer.json; when it loads, encodes and decodes a
// fixed multilingual text with it (regexes, merges, byte fallback).
//
//===----------------------------------------------------------------------===//

#include "runtime/tokenizer/Tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string error;
  std::unique_ptr<moec::rt::Tokenizer> tokenizer = moec::rt::Tokenizer::load(
      std::string_view(reinterpret_cast<const char *>(data), size), error);
  if (!tokenizer)
    return 0;
  std::vector<int32_t> ids = tokenizer->encode(
      "Hello, world! It's 2026: 12345 \xE4\xBD\xA0\xE5\xA5\xBD "
      "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB\r\n\tcaf\xC3\xA9  x");
  tokenizer->decode(ids);
  return 0;
}
