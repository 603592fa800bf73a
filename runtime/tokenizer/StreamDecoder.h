//===- StreamDecoder.h - Token ids to text, as they come --------*- C++ -*-===//
//
// Generation prints each token's text as soon as it is sampled. A token's
// text is not always whole characters: a byte-level token may end inside a
// UTF-8 sequence, and byte-fallback tokens (<0xE4>) carry one byte each.
// The decoder holds such a tail back until the character is complete; the
// pieces join to the decoding of all the ids, with bytes that never form a
// character (a model may sample any id) printed as U+FFFD, so that what it
// returns is always valid UTF-8. It decodes each new id together with the one
// before it, so that a decoder's rules for the start of a text (the
// SentencePiece Strip of a leading space) do not drop a generated space.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_RUNTIME_TOKENIZER_STREAMDECODER_H
#define MOEC_RUNTIME_TOKENIZER_STREAMDECODER_H

#include "runtime/tokenizer/Tokenizer.h"

#include <string>
#include <vector>

namespace moec::rt {

class StreamDecoder {
public:
  /// `context`: the id before the first one pushed (the prompt's last), or
  /// -1 for none.
  StreamDecoder(const Tokenizer &tokenizer, int32_t context);
  /// The text that `id` completes (possibly empty).
  std::string push(int32_t id);
  /// What is held back at the end (an incomplete character, as the
  /// tokenizer decodes it).
  std::string finish();

private:
  const Tokenizer &tokenizer;
  /// The ids decoded together: the context, then ids not yet printed.
  std::vector<int32_t> window;
  /// Bytes of decode(window) already returned.
  size_t printed = 0;
  std::string decodeWindow() const;
};

/// The length of the longest prefix of `text` that does not end inside a
/// UTF-8 character (an incomplete last sequence is left out).
size_t completeUtf8Prefix(const std::string &text);

} // namespace moec::rt

#endif // MOEC_RUNTIME_TOKENIZER_STREAMDECODER_H
