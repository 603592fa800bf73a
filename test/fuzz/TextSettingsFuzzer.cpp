//===- TextSettingsFuzzer.cpp - libFuzzer target for a checkpoint's text --===//
//
// Reads the input as tokenizer_config.json, generation_config.json and
// config.json (and as chat_template.jinja) beside a fixed small
// tokenizer.json, as the compiler and the binary read a checkpoint's text
// files; when they load, renders a chat turn and streams arbitrary ids.
//
//===----------------------------------------------------------------------===//

#include "runtime/tokenizer/StreamDecoder.h"
#include "runtime/tokenizer/TextSettings.h"

static const char kTokenizer[] = R"({
  "added_tokens": [{"id": 0, "content": "<unk>"}, {"id": 1, "content": "<s>"},
                   {"id": 2, "content": "</s>"}],
  "normalizer": {"type": "Sequence", "normalizers": [
    {"type": "Prepend", "prepend": "\u2581"},
    {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
  "post_processor": {"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
               {"Sequence": {"id": "A", "type_id": 0}}],
    "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
  "decoder": {"type": "Sequence", "decoders": [
    {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
    {"type": "ByteFallback"}, {"type": "Fuse"},
    {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
  "model": {"type": "BPE", "byte_fallback": true, "fuse_unk": true,
    "unk_token": "<unk>",
    "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0xE4>": 3, "<0xBD>": 4,
              "<0xA0>": 5, "\u2581": 6, "a": 7, "b": 8, "\u2581a": 9},
    "merges": ["\u2581 a"]}
})";

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view input(reinterpret_cast<const char *>(data), size);
  moec::rt::TextFiles files;
  files.tokenizer = kTokenizer;
  files.tokenizerConfig = input;
  files.generationConfig = input;
  files.modelConfig = input;
  files.chatTemplate = input;
  moec::rt::TextSettings settings;
  std::string error;
  if (!moec::rt::loadTextSettings(files, settings, error))
    return 0;
  const moec::rt::Tokenizer &tokenizer = *settings.tokenizer;
  tokenizer.encode(moec::rt::renderFirstTurn(settings.chat, settings.bosText,
                                             "system", "a b \xE4\xBD\xA0",
                                             "2026-12-07"));
  moec::rt::StreamDecoder stream(
      tokenizer, settings.promptPrefix.empty() ? -1 : settings.promptPrefix[0]);
  for (size_t i = 0; i < size && i < 256; ++i)
    stream.push(int32_t(data[i] % tokenizer.vocabularySize()));
  stream.finish();
  return 0;
}
