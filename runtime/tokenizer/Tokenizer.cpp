//===- Tokenizer.cpp - A Hugging Face tokenizer.json, in C++ --------------===//
//
// The pipeline of Hugging Face tokenizers (tokenizers/src/tokenizer): split
// the text on added tokens; normalize and pre-tokenize each other segment
// into words; run the model (BPE) on each word; decode by the decoder.
//
//===----------------------------------------------------------------------===//

#include "runtime/tokenizer/Tokenizer.h"

#include "runtime/formats/Json.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <unordered_map>

using namespace moec::rt;

namespace {
/// A compiled pattern; matches as PCRE2 with UTF and Unicode properties.
class Regex {
public:
  bool compile(const std::string &pattern, std::string &error) {
    int code;
    PCRE2_SIZE offset;
    re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()),
                       pattern.size(), PCRE2_UTF | PCRE2_UCP, &code, &offset,
                       nullptr);
    if (!re) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(code, message, sizeof message);
      error = "pre-tokenizer regex does not compile at offset " +
              std::to_string(offset) + ": " +
              reinterpret_cast<const char *>(message);
      return false;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    data = pcre2_match_data_create_from_pattern(re, nullptr);
    return true;
  }
  ~Regex() {
    pcre2_match_data_free(data);
    pcre2_code_free(re);
  }
  /// The next match at or after `from`: [begin, end), or false.
  bool find(std::string_view text, size_t from, size_t &begin,
            size_t &end) const {
    int rc = pcre2_match(re, reinterpret_cast<PCRE2_SPTR>(text.data()),
                         text.size(), from, 0, data, nullptr);
    if (rc < 0)
      return false;
    PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(data);
    begin = ovector[0];
    end = ovector[1];
    return true;
  }

private:
  pcre2_code *re = nullptr;
  pcre2_match_data *data = nullptr;
};

/// The length of the UTF-8 character that starts with byte `c`.
size_t utf8Length(unsigned char c) {
  return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/// `text` with every `pattern` replaced by `content`, left to right (the
/// Replace normalizer and decoder).
std::string replaceAll(
    const std::string &text,
    const std::vector<std::pair<std::string, std::string>> &replacements) {
  std::string result = text;
  for (const auto &[pattern, content] : replacements) {
    std::string replaced;
    for (size_t i = 0; i < result.size();) {
      if (result.compare(i, pattern.size(), pattern) == 0) {
        replaced += content;
        i += pattern.size();
      } else {
        replaced.push_back(result[i++]);
      }
    }
    result = std::move(replaced);
  }
  return result;
}

/// GPT-2's bytes_to_unicode: each byte as a printable character.
std::vector<std::string> byteLevelAlphabet() {
  std::vector<std::string> alphabet(256);
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) ||
                     (b >= 174 && b <= 255);
    int cp = printable ? b : 256 + extra++;
    utf8proc_uint8_t buf[4];
    utf8proc_ssize_t n = utf8proc_encode_char(cp, buf);
    alphabet[b].assign(reinterpret_cast<char *>(buf), n);
  }
  return alphabet;
}

struct AddedToken {
  std::string content;
  int32_t id;
};
} // namespace

struct Tokenizer::Impl {
  std::unordered_map<std::string, int32_t> vocab;
  std::vector<std::string> tokens;
  /// Pair "a\0b" -> rank.
  std::unordered_map<std::string, int32_t> merges;
  bool ignoreMerges = false;
  /// SentencePiece style: unknown symbols become their <0xHH> byte tokens.
  bool byteFallback = false;
  int32_t unknown = -1;
  bool fuseUnknown = false;
  bool nfc = false;
  /// Normalizer steps Prepend (first) and Replace (pattern -> content).
  std::string prepend;
  std::vector<std::pair<std::string, std::string>> replacements;
  /// Decoder steps: Replace per token, ByteFallback, then Strip `strip`
  /// leading copies of `stripContent` from the joined text.
  std::vector<std::pair<std::string, std::string>> decodeReplacements;
  bool decodeByteFallback = false;
  std::string stripContent;
  int stripStart = 0;
  std::vector<std::unique_ptr<Regex>> splits;
  bool byteLevel = false;
  std::vector<std::string> alphabet;
  std::unordered_map<std::string, uint8_t> alphabetBytes;
  /// Longest first, so that the longest added token at a place wins.
  std::vector<AddedToken> added;
  /// Indices into `added` of the tokens that start with each byte.
  std::vector<size_t> addedByFirstByte[256];
  /// Per id: whether it is an added token (decoded as written).
  std::vector<bool> isAdded;
  /// The post-processor's ids around a text's ids.
  std::vector<int32_t> prefix, suffix;

  void encodeWord(const std::string &word, std::vector<int32_t> &ids) const;
  void encodeSegment(std::string_view text, std::vector<int32_t> &ids) const;
};

/// Byte-level BPE of one pre-tokenized word (already byte-level mapped).
void Tokenizer::Impl::encodeWord(const std::string &word,
                                 std::vector<int32_t> &ids) const {
  if (ignoreMerges) {
    auto whole = vocab.find(word);
    if (whole != vocab.end()) {
      ids.push_back(whole->second);
      return;
    }
  }
  std::vector<std::string> symbols;
  for (size_t i = 0; i < word.size();) {
    size_t n = std::min(utf8Length(word[i]), word.size() - i);
    symbols.push_back(word.substr(i, n));
    i += n;
  }
  // Merge the lowest-ranked pair, leftmost first, until none is left.
  while (symbols.size() > 1) {
    int32_t best = INT32_MAX;
    size_t at = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      std::string key = symbols[i];
      key.push_back('\0');
      key += symbols[i + 1];
      auto it = merges.find(key);
      if (it != merges.end() && it->second < best) {
        best = it->second;
        at = i;
      }
    }
    if (best == INT32_MAX)
      break;
    symbols[at] += symbols[at + 1];
    symbols.erase(symbols.begin() + at + 1);
  }
  for (const std::string &symbol : symbols) {
    auto it = vocab.find(symbol);
    if (it != vocab.end()) {
      ids.push_back(it->second);
      continue;
    }
    // SentencePiece's byte fallback: each byte as its <0xHH> token.
    bool bytes = byteFallback;
    std::vector<int32_t> byteIds;
    for (unsigned char c : symbol) {
      static const char hex[] = "0123456789ABCDEF";
      std::string name = std::string("<0x") + hex[c >> 4] + hex[c & 15] + ">";
      auto byte = vocab.find(name);
      if (byte == vocab.end()) {
        bytes = false;
        break;
      }
      byteIds.push_back(byte->second);
    }
    if (bytes) {
      ids.insert(ids.end(), byteIds.begin(), byteIds.end());
      continue;
    }
    // Unknown: the unk token (repeated ones fused), else nothing, as the
    // library drops a piece it cannot encode.
    if (unknown >= 0 && !(fuseUnknown && !ids.empty() && ids.back() == unknown))
      ids.push_back(unknown);
  }
}

/// Normalizes, pre-tokenizes and encodes text without added tokens.
void Tokenizer::Impl::encodeSegment(std::string_view text,
                                    std::vector<int32_t> &ids) const {
  std::string normalized(text);
  if (!prepend.empty() && !normalized.empty())
    normalized = prepend + normalized;
  normalized = replaceAll(normalized, replacements);
  if (nfc && !normalized.empty()) {
    utf8proc_uint8_t *out = utf8proc_NFC(
        reinterpret_cast<const utf8proc_uint8_t *>(normalized.c_str()));
    if (out) {
      normalized = reinterpret_cast<char *>(out);
      std::free(out);
    }
  }
  std::vector<std::string> pieces{normalized};
  for (const std::unique_ptr<Regex> &split : splits) {
    std::vector<std::string> next;
    for (const std::string &piece : pieces) {
      size_t from = 0, begin, end;
      while (from < piece.size() && split->find(piece, from, begin, end)) {
        if (end == begin) { // an empty match: step one character
          from = begin + utf8Length(piece[begin]);
          continue;
        }
        if (begin > from)
          next.push_back(piece.substr(from, begin - from));
        next.push_back(piece.substr(begin, end - begin));
        from = end;
      }
      if (from < piece.size())
        next.push_back(piece.substr(from));
    }
    pieces = std::move(next);
  }
  for (const std::string &piece : pieces) {
    if (!byteLevel) {
      encodeWord(piece, ids);
      continue;
    }
    std::string mapped;
    for (unsigned char c : piece)
      mapped += alphabet[c];
    encodeWord(mapped, ids);
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    const AddedToken *match = nullptr;
    for (size_t index : impl->addedByFirstByte[uint8_t(text[i])]) {
      const AddedToken &token = impl->added[index];
      if (text.compare(i, token.content.size(), token.content) == 0) {
        match = &token;
        break;
      }
    }
    if (!match) {
      ++i;
      continue;
    }
    impl->encodeSegment(text.substr(start, i - start), ids);
    ids.push_back(match->id);
    i += match->content.size();
    start = i;
  }
  impl->encodeSegment(text.substr(start), ids);
  return ids;
}

/// The byte of a <0xHH> token, or -1.
static int byteOfToken(const std::string &token) {
  if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>')
    return -1;
  return int(std::strtol(token.substr(3, 2).c_str(), nullptr, 16));
}

std::string Tokenizer::decode(const std::vector<int32_t> &ids) const {
  std::string text;
  if (!impl->byteLevel) {
    // Replace per token, byte fallback (runs of bytes that are not UTF-8
    // become U+FFFD per byte, as the library does), fuse, strip.
    std::string bytes;
    auto flush = [&] {
      if (bytes.empty())
        return;
      bool valid = true;
      for (size_t i = 0; valid && i < bytes.size();) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(
            reinterpret_cast<const utf8proc_uint8_t *>(bytes.data()) + i,
            bytes.size() - i, &cp);
        if (n <= 0)
          valid = false;
        else
          i += n;
      }
      if (valid)
        text += bytes;
      else
        for (size_t i = 0; i < bytes.size(); ++i)
          text += "\xEF\xBF\xBD";
      bytes.clear();
    };
    for (int32_t id : ids) {
      if (id < 0 || size_t(id) >= impl->tokens.size())
        continue;
      const std::string &token = impl->tokens[id];
      int byte = impl->decodeByteFallback ? byteOfToken(token) : -1;
      if (byte >= 0) {
        bytes.push_back(char(byte));
        continue;
      }
      flush();
      text += replaceAll(token, impl->decodeReplacements);
    }
    flush();
    for (int i = 0;
         i < impl->stripStart && !impl->stripContent.empty() &&
         text.compare(0, impl->stripContent.size(), impl->stripContent) == 0;
         ++i)
      text.erase(0, impl->stripContent.size());
    return text;
  }
  for (int32_t id : ids) {
    if (id < 0 || size_t(id) >= impl->tokens.size())
      continue;
    const std::string &token = impl->tokens[id];
    if (!impl->byteLevel || impl->isAdded[id]) {
      text += token;
      continue;
    }
    for (size_t i = 0; i < token.size();) {
      size_t n = std::min(utf8Length(token[i]), token.size() - i);
      auto it = impl->alphabetBytes.find(token.substr(i, n));
      if (it != impl->alphabetBytes.end())
        text.push_back(char(it->second));
      i += n;
    }
  }
  return text;
}

int32_t Tokenizer::vocabularySize() const {
  return int32_t(impl->tokens.size());
}

const std::vector<int32_t> &Tokenizer::specialPrefix() const {
  return impl->prefix;
}

const std::vector<int32_t> &Tokenizer::specialSuffix() const {
  return impl->suffix;
}

int32_t Tokenizer::tokenId(std::string_view token) const {
  for (const AddedToken &added : impl->added)
    if (added.content == token)
      return added.id;
  auto it = impl->vocab.find(std::string(token));
  return it == impl->vocab.end() ? -1 : it->second;
}

int Tokenizer::fallbackByte(int32_t id) const {
  if (!impl->decodeByteFallback || id < 0 || size_t(id) >= impl->tokens.size())
    return -1;
  return byteOfToken(impl->tokens[id]);
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

/// The pre-tokenizers of `value` (one, or a Sequence) into `impl`.
static bool readPreTokenizer(const json::Value &value, Tokenizer::Impl &impl,
                             std::string &error) {
  const json::Value *type = value.find("type");
  std::string kind = type ? type->string : "";
  if (kind == "Sequence") {
    const json::Value *list = value.find("pretokenizers");
    if (!list)
      return error = "tokenizer.json: a Sequence pre-tokenizer has no list",
             false;
    for (const json::Value &item : list->array)
      if (!readPreTokenizer(item, impl, error))
        return false;
    return true;
  }
  if (kind == "Split") {
    const json::Value *pattern = value.find("pattern");
    const json::Value *regex = pattern ? pattern->find("Regex") : nullptr;
    const json::Value *behavior = value.find("behavior");
    const json::Value *invert = value.find("invert");
    if (!regex || !behavior || behavior->string != "Isolated" ||
        (invert && invert->kind == json::Value::Kind::Bool && invert->boolean))
      return error = "tokenizer.json: only Split pre-tokenizers with a Regex, "
                     "behavior Isolated and no invert are supported",
             false;
    auto compiled = std::make_unique<Regex>();
    if (!compiled->compile(regex->string, error))
      return error = "tokenizer.json: " + error, false;
    impl.splits.push_back(std::move(compiled));
    return true;
  }
  if (kind == "ByteLevel") {
    const json::Value *prefix = value.find("add_prefix_space");
    const json::Value *useRegex = value.find("use_regex");
    if ((prefix && prefix->boolean) || (useRegex && useRegex->boolean))
      return error = "tokenizer.json: a ByteLevel pre-tokenizer with "
                     "add_prefix_space or use_regex is not supported",
             false;
    impl.byteLevel = true;
    return true;
  }
  return error =
             "tokenizer.json: pre-tokenizer '" + kind + "' is not supported",
         false;
}

/// A Replace normalizer or decoder of a String pattern, appended to `to`.
static bool readReplace(const json::Value &value, const char *what,
                        std::vector<std::pair<std::string, std::string>> &to,
                        std::string &error) {
  const json::Value *pattern = value.find("pattern");
  const json::Value *literal = pattern ? pattern->find("String") : nullptr;
  const json::Value *content = value.find("content");
  if (!literal || !content || literal->string.empty())
    return error = std::string("tokenizer.json: only Replace ") + what +
                   " of a String are supported",
           false;
  to.push_back({literal->string, content->string});
  return true;
}

static bool readNormalizer(const json::Value &value, Tokenizer::Impl &impl,
                           std::string &error) {
  if (value.kind == json::Value::Kind::Null)
    return true;
  const json::Value *type = value.find("type");
  std::string kind = type ? type->string : "";
  if (kind == "NFC")
    return impl.nfc = true, true;
  if (kind == "Prepend") {
    const json::Value *prepend = value.find("prepend");
    if (!prepend || !impl.replacements.empty())
      return error = "tokenizer.json: a Prepend normalizer must come first "
                     "and name what it prepends",
             false;
    impl.prepend = prepend->string;
    return true;
  }
  if (kind == "Replace")
    return readReplace(value, "normalizers", impl.replacements, error);
  if (kind == "Sequence") {
    const json::Value *list = value.find("normalizers");
    if (list)
      for (const json::Value &item : list->array)
        if (!readNormalizer(item, impl, error))
          return false;
    return true;
  }
  return error = "tokenizer.json: normalizer '" + kind + "' is not supported",
         false;
}

/// The decoders of `value` (one, or a Sequence). ByteLevel goes with the
/// ByteLevel pre-tokenizer; the others are SentencePiece's chain.
static bool readDecoder(const json::Value &value, Tokenizer::Impl &impl,
                        std::string &error) {
  const json::Value *type = value.find("type");
  std::string kind = type ? type->string : "";
  if (kind == "Sequence") {
    const json::Value *list = value.find("decoders");
    if (list)
      for (const json::Value &item : list->array)
        if (!readDecoder(item, impl, error))
          return false;
    return true;
  }
  if (kind == "ByteLevel" || kind == "Fuse")
    return true;
  if (kind == "ByteFallback")
    return impl.decodeByteFallback = true, true;
  if (kind == "Replace")
    return readReplace(value, "decoders", impl.decodeReplacements, error);
  if (kind == "Strip") {
    const json::Value *content = value.find("content");
    const json::Value *start = value.find("start");
    const json::Value *stop = value.find("stop");
    if (!content || (stop && stop->number != 0))
      return error = "tokenizer.json: only Strip decoders of leading "
                     "content are supported",
             false;
    impl.stripContent = content->string;
    impl.stripStart = start ? int(start->number) : 0;
    return true;
  }
  return error = "tokenizer.json: decoder '" + kind + "' is not supported",
         false;
}

/// The post-processor's ids around a single text: TemplateProcessing's
/// `single` (SpecialToken pieces before and after the Sequence), or none
/// for ByteLevel (which only adjusts offsets); a Sequence of these.
static bool readPostProcessor(const json::Value &value, Tokenizer::Impl &impl,
                              std::string &error) {
  const json::Value *type = value.find("type");
  std::string kind = type ? type->string : "";
  if (kind == "ByteLevel")
    return true;
  if (kind == "Sequence") {
    const json::Value *list = value.find("processors");
    if (list)
      for (const json::Value &processor : list->array)
        if (!readPostProcessor(processor, impl, error))
          return false;
    return true;
  }
  if (kind != "TemplateProcessing")
    return error =
               "tokenizer.json: post_processor '" + kind + "' is not supported",
           false;
  const json::Value *single = value.find("single");
  const json::Value *specials = value.find("special_tokens");
  bool afterSequence = false;
  for (const json::Value &piece :
       single ? single->array : std::vector<json::Value>()) {
    if (piece.find("Sequence")) {
      afterSequence = true;
      continue;
    }
    const json::Value *special = piece.find("SpecialToken");
    const json::Value *name = special ? special->find("id") : nullptr;
    const json::Value *entry =
        name && specials ? specials->find(name->string) : nullptr;
    const json::Value *ids = entry ? entry->find("ids") : nullptr;
    if (!ids)
      return error = "tokenizer.json: post_processor names a special token "
                     "it does not define",
             false;
    for (const json::Value &id : ids->array) {
      if (id.number < 0 || id.number >= double(impl.tokens.size()))
        return error = "tokenizer.json: post_processor id " + id.numberText +
                       " is outside the vocabulary",
               false;
      (afterSequence ? impl.suffix : impl.prefix).push_back(int32_t(id.number));
    }
  }
  return true;
}

/// Ids are array indices: integers from 0 to this bound (o200k has 200k).
static constexpr double kMaxTokenId = 1 << 24;

static bool validId(const json::Value &id) {
  return id.kind == json::Value::Kind::Number && id.number >= 0 &&
         id.number < kMaxTokenId && id.number == double(int32_t(id.number));
}

std::unique_ptr<Tokenizer> Tokenizer::load(std::string_view text,
                                           std::string &error) {
  json::Value root;
  if (!json::parse(text, root, error)) {
    error = "tokenizer.json: " + error;
    return nullptr;
  }
  auto impl = std::make_unique<Impl>();
  const json::Value *model = root.find("model");
  const json::Value *type = model ? model->find("type") : nullptr;
  if (!type || type->string != "BPE") {
    error = "tokenizer.json: model '" + (type ? type->string : "") +
            "' is not supported (only BPE)";
    return nullptr;
  }
  if (const json::Value *fallback = model->find("byte_fallback"))
    impl->byteFallback = fallback->boolean;
  if (const json::Value *fuse = model->find("fuse_unk"))
    impl->fuseUnknown = fuse->boolean;
  if (const json::Value *ignore = model->find("ignore_merges"))
    impl->ignoreMerges = ignore->boolean;
  const json::Value *vocab = model->find("vocab");
  const json::Value *merges = model->find("merges");
  if (!vocab || !merges) {
    error = "tokenizer.json: the BPE model lacks vocab or merges";
    return nullptr;
  }
  int32_t maxId = -1;
  for (const auto &[token, id] : vocab->object) {
    if (!validId(id)) {
      error = "tokenizer.json: the id of '" + token +
              "' is not an integer from 0 to 2^24";
      return nullptr;
    }
    impl->vocab[token] = int32_t(id.number);
    maxId = std::max(maxId, int32_t(id.number));
  }
  const json::Value *added = root.find("added_tokens");
  if (added)
    for (const json::Value &token : added->array) {
      const json::Value *content = token.find("content");
      const json::Value *id = token.find("id");
      if (!content || !id)
        continue;
      if (!validId(*id)) {
        error = "tokenizer.json: the id of added token '" + content->string +
                "' is not an integer from 0 to 2^24";
        return nullptr;
      }
      impl->added.push_back({content->string, int32_t(id->number)});
      maxId = std::max(maxId, int32_t(id->number));
    }
  if (const json::Value *unk = model->find("unk_token"))
    if (unk->kind == json::Value::Kind::String) {
      auto it = impl->vocab.find(unk->string);
      if (it != impl->vocab.end())
        impl->unknown = it->second;
    }
  std::sort(impl->added.begin(), impl->added.end(),
            [](const AddedToken &a, const AddedToken &b) {
              return a.content.size() > b.content.size();
            });
  impl->tokens.resize(maxId + 1);
  for (const auto &[token, id] : impl->vocab)
    impl->tokens[id] = token;
  impl->isAdded.assign(maxId + 1, false);
  for (size_t index = 0; index < impl->added.size(); ++index) {
    const AddedToken &token = impl->added[index];
    impl->tokens[token.id] = token.content;
    impl->isAdded[token.id] = true;
    if (!token.content.empty())
      impl->addedByFirstByte[uint8_t(token.content[0])].push_back(index);
  }
  for (size_t rank = 0; rank < merges->array.size(); ++rank) {
    const json::Value &merge = merges->array[rank];
    std::string key;
    if (merge.kind == json::Value::Kind::String) {
      size_t space = merge.string.find(' ');
      if (space == std::string::npos)
        continue;
      key =
          merge.string.substr(0, space) + '\0' + merge.string.substr(space + 1);
    } else if (merge.array.size() == 2) {
      key = merge.array[0].string + '\0' + merge.array[1].string;
    }
    impl->merges.emplace(std::move(key), int32_t(rank));
  }
  if (const json::Value *normalizer = root.find("normalizer"))
    if (!readNormalizer(*normalizer, *impl, error))
      return nullptr;
  if (const json::Value *pre = root.find("pre_tokenizer"))
    if (pre->kind != json::Value::Kind::Null &&
        !readPreTokenizer(*pre, *impl, error))
      return nullptr;
  if (const json::Value *decoder = root.find("decoder"))
    if (decoder->kind != json::Value::Kind::Null &&
        !readDecoder(*decoder, *impl, error))
      return nullptr;
  if (const json::Value *post = root.find("post_processor"))
    if (post->kind != json::Value::Kind::Null &&
        !readPostProcessor(*post, *impl, error))
      return nullptr;
  impl->alphabet = byteLevelAlphabet();
  for (int b = 0; b < 256; ++b)
    impl->alphabetBytes[impl->alphabet[b]] = uint8_t(b);
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(impl)));
}
