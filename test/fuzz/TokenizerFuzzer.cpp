//===- TokenizerFuzzer.cpp - libFuzzer target for tokenizer.json ----------===//
//
// Loads the input as tokenizer.json; when it loads, encodes and decodes a
// fixed multilingual text with it (regexes, merges, byte fallback) and
// streams the ids back to text.
//
//===----------------------------------------------------------------------===//

#include "runtime/tokenizer/StreamDecoder.h"
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
  // Streams the ids, then arbitrary ones (byte tokens, half characters).
  if (tokenizer->vocabularySize() == 0)
    return 0;
  moec::rt::StreamDecoder stream(*tokenizer, ids.empty() ? -1 : ids[0]);
  for (int32_t id : ids)
    stream.push(id);
  for (size_t i = 0; i < size && i < 64; ++i)
    stream.push(int32_t((data[i] * 2654435761u) % tokenizer->vocabularySize()));
  stream.finish();
  return 0;
}
