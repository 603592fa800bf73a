//===- StreamDecoder.cpp - Token ids to text, as they come ----------------===//

#include "runtime/tokenizer/StreamDecoder.h"

using namespace moec::rt;

/// The bytes of the valid UTF-8 sequence at `at`, or of its longest valid
/// start (a maximal subpart, Unicode 3.9), which counts as one invalid
/// character: 0 for a byte no character starts with.
static size_t utf8Sequence(const std::string &text, size_t at, bool &valid) {
  unsigned char c = text[at];
  valid = true;
  if (c < 0x80)
    return 1;
  size_t length = c >= 0xC2 && c <= 0xDF   ? 2
                  : c >= 0xE0 && c <= 0xEF ? 3
                  : c >= 0xF0 && c <= 0xF4 ? 4
                                           : 0;
  valid = false;
  if (!length)
    return 1;
  // The second byte's range depends on the first (no overlong forms, no
  // surrogates, nothing past U+10FFFF); later ones are 80..BF.
  unsigned char lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
  unsigned char hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
  size_t n = 1;
  for (; n < length && at + n < text.size(); ++n) {
    unsigned char next = text[at + n];
    if (next < (n == 1 ? lo : 0x80) || next > (n == 1 ? hi : 0xBF))
      break;
  }
  valid = n == length;
  return n;
}

/// `text` with each maximal subpart that is not UTF-8 replaced by U+FFFD,
/// as Rust's from_utf8_lossy (Hugging Face's decoders) and JavaScript's
/// TextDecoder do.
static std::string lossyUtf8(const std::string &text) {
  std::string result;
  for (size_t i = 0; i < text.size();) {
    bool valid;
    size_t n = utf8Sequence(text, i, valid);
    if (valid)
      result.append(text, i, n);
    else
      result += "\xEF\xBF\xBD";
    i += n;
  }
  return result;
}

size_t moec::rt::completeUtf8Prefix(const std::string &text) {
  // Find the start of the last character (at most 3 continuation bytes
  // back) and whether its sequence is complete.
  size_t n = text.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    unsigned char c = text[n - back];
    if ((c & 0xC0) == 0x80)
      continue; // a continuation byte
    size_t length = c < 0x80    ? 1
                    : c >= 0xF0 ? 4
                    : c >= 0xE0 ? 3
                    : c >= 0xC0 ? 2
                                : 1;
    return back < length ? n - back : n;
  }
  return n;
}

StreamDecoder::StreamDecoder(const Tokenizer &tokenizer, int32_t context)
    : tokenizer(tokenizer) {
  if (context >= 0) {
    window.push_back(context);
    printed = decodeWindow().size();
  }
}

std::string StreamDecoder::decodeWindow() const {
  return tokenizer.decode(window);
}

std::string StreamDecoder::push(int32_t id) {
  window.push_back(id);
  // A run of byte tokens is decoded once its character is complete: until
  // then the decoder would turn it into U+FFFD.
  std::string bytes;
  for (size_t i = window.size(); i-- > 0;) {
    int byte = tokenizer.fallbackByte(window[i]);
    if (byte < 0)
      break;
    bytes.insert(bytes.begin(), char(byte));
  }
  if (!bytes.empty() && completeUtf8Prefix(bytes) != bytes.size())
    return "";
  std::string text = decodeWindow();
  size_t complete = completeUtf8Prefix(text);
  if (complete <= printed)
    return "";
  std::string piece = lossyUtf8(text.substr(printed, complete - printed));
  if (complete == text.size()) {
    // Everything is out: the window restarts at the last id, or at the
    // start of the run of byte tokens it ends, which the decoder reads as
    // one (half a run would decode as U+FFFD).
    size_t keep = window.size() - 1;
    while (keep > 0 && tokenizer.fallbackByte(window[keep]) >= 0 &&
           tokenizer.fallbackByte(window[keep - 1]) >= 0)
      --keep;
    if (keep > 0 && tokenizer.fallbackByte(window[keep]) >= 0)
      --keep;
    window.erase(window.begin(), window.begin() + keep);
    printed = decodeWindow().size();
  } else {
    printed = complete;
  }
  return piece;
}

std::string StreamDecoder::finish() {
  std::string text = decodeWindow();
  std::string rest =
      text.size() > printed ? lossyUtf8(text.substr(printed)) : "";
  if (!window.empty())
    window.erase(window.begin(), window.end() - 1);
  printed = decodeWindow().size();
  return rest;
}
