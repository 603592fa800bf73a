//===- Tokenizer.h - A Hugging Face tokenizer.json, in C++ ------*- C++ -*-===//
//
// Encodes text to token ids and decodes them back the way Hugging Face's
// tokenizers library does for a tokenizer.json: added and special tokens
// matched first, then the normalizer (NFC, through utf8proc), the
// pre-tokenizer (regex splits through PCRE2 with Unicode properties, and
// the byte-level mapping), and byte-level BPE with the file's merges. No
// LLVM or MLIR: binaries link it. What a file asks for that is not
// implemented is an error naming it when the file is loaded.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_RUNTIME_TOKENIZER_TOKENIZER_H
#define MOEC_RUNTIME_TOKENIZER_TOKENIZER_H

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace moec::rt {

class Tokenizer {
public:
  /// Parses tokenizer.json's text; null with a message on failure.
  static std::unique_ptr<Tokenizer> load(std::string_view json,
                                         std::string &error);
  ~Tokenizer();

  /// The ids of `text`, without the special tokens a post-processor adds.
  std::vector<int32_t> encode(std::string_view text) const;
  /// The text of `ids` (bytes that are not valid UTF-8 on their own, such
  /// as half a character, are kept as they are).
  std::string decode(const std::vector<int32_t> &ids) const;
  /// One past the largest id.
  int32_t vocabularySize() const;

  /// The ids the post-processor (TemplateProcessing's `single`) puts before
  /// and after a text's ids: BOS for SentencePiece-style files.
  const std::vector<int32_t> &specialPrefix() const;
  const std::vector<int32_t> &specialSuffix() const;
  /// The id of the token spelled `token` (vocabulary or added), or -1.
  int32_t tokenId(std::string_view token) const;
  /// For a <0xHH> token the decoder turns into a byte: that byte; else -1.
  int fallbackByte(int32_t id) const;

  struct Impl;

private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

} // namespace moec::rt

#endif // MOEC_RUNTIME_TOKENIZER_TOKENIZER_H
