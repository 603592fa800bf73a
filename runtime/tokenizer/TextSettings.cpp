//===- TextSettings.cpp - What a checkpoint says about its text -----------===//

#include "runtime/tokenizer/TextSettings.h"

#include "runtime/formats/Json.h"

#include <algorithm>
#include <cmath>

using namespace moec::rt;

const char *const moec::rt::kTextFileNames[5] = {
    "tokenizer.json", "tokenizer_config.json", "generation_config.json",
    "chat_template.jinja", "config.json"};

std::string_view *TextFiles::byIndex(size_t i) {
  std::string_view *members[] = {&tokenizer, &tokenizerConfig,
                                 &generationConfig, &chatTemplate,
                                 &modelConfig};
  return i < 5 ? members[i] : nullptr;
}

namespace {
using json::Value;

/// Reads one file's JSON object (an empty file: an empty object).
bool parseObject(std::string_view text, const char *name, Value &root,
                 std::string &error) {
  if (text.empty())
    return true;
  if (!json::parse(text, root, error)) {
    error = std::string(name) + ": " + error;
    return false;
  }
  if (root.kind != Value::Kind::Object) {
    error = std::string(name) + ": not a JSON object";
    return false;
  }
  return true;
}

/// A token written as a string or as an AddedToken object ({"content"}).
std::string tokenText(const Value *value) {
  if (!value)
    return "";
  if (value->kind == Value::Kind::String)
    return value->string;
  if (const Value *content = value->find("content"))
    return content->string;
  return "";
}

class Reader {
public:
  Reader(const Tokenizer &tokenizer, std::string &error)
      : tokenizer(tokenizer), error(error) {}

  /// Appends the ids of `key` (an integer or a list of them) to `ids`.
  bool ids(const Value &root, const char *file, const char *key,
           std::vector<int32_t> &out) {
    const Value *value = root.find(key);
    if (!value || value->kind == Value::Kind::Null)
      return true;
    std::vector<Value> single;
    const std::vector<Value> *list = &value->array;
    if (value->kind != Value::Kind::Array) {
      single.push_back(*value);
      list = &single;
    }
    for (const Value &id : *list) {
      if (id.kind != Value::Kind::Number || id.number < 0 ||
          id.number >= tokenizer.vocabularySize() ||
          id.number != std::floor(id.number))
        return fail(std::string(file) + ": " + key + " " +
                    (id.numberText.empty() ? "(not a number)" : id.numberText) +
                    " is not one of the tokenizer's " +
                    std::to_string(tokenizer.vocabularySize()) + " ids");
      out.push_back(int32_t(id.number));
    }
    return true;
  }

  /// A number `key` within [lo, hi] into `out`, when present.
  bool number(const Value &root, const char *file, const char *key, double lo,
              double hi, double &out) {
    const Value *value = root.find(key);
    if (!value || value->kind == Value::Kind::Null)
      return true;
    if (value->kind != Value::Kind::Number || !(value->number >= lo) ||
        !(value->number <= hi))
      return fail(std::string(file) + ": " + key + " must be a number from " +
                  formatNumber(lo) + " to " + formatNumber(hi));
    out = value->number;
    return true;
  }

  bool fail(const std::string &message) {
    error = message;
    return false;
  }

private:
  static std::string formatNumber(double v) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%g", v);
    return buffer;
  }
  const Tokenizer &tokenizer;
  std::string &error;
};
} // namespace

bool moec::rt::loadTextSettings(const TextFiles &files, TextSettings &settings,
                                std::string &error) {
  settings.tokenizer = Tokenizer::load(files.tokenizer, error);
  if (!settings.tokenizer)
    return false;
  const Tokenizer &tokenizer = *settings.tokenizer;
  Value tokenizerConfig, generationConfig, modelConfig;
  if (!parseObject(files.tokenizerConfig, kTextFileNames[1], tokenizerConfig,
                   error) ||
      !parseObject(files.generationConfig, kTextFileNames[2], generationConfig,
                   error) ||
      !parseObject(files.modelConfig, kTextFileNames[4], modelConfig, error))
    return false;
  Reader read(tokenizer, error);

  // BOS: the post-processor's, unless add_bos_token says otherwise, as
  // transformers' LlamaTokenizerFast rebuilds its post-processor
  // (DeepSeek-V3's tokenizer.json adds no BOS; its config asks for one).
  settings.promptPrefix = tokenizer.specialPrefix();
  settings.promptSuffix = tokenizer.specialSuffix();
  settings.bosText = tokenText(tokenizerConfig.find("bos_token"));
  int32_t bos =
      settings.bosText.empty() ? -1 : tokenizer.tokenId(settings.bosText);
  if (!settings.bosText.empty() && bos < 0)
    return read.fail(std::string(kTextFileNames[1]) + ": bos_token '" +
                     settings.bosText + "' is not a token of tokenizer.json");
  std::vector<int32_t> &prefix = settings.promptPrefix;
  if (const Value *add = tokenizerConfig.find("add_bos_token");
      add && add->kind == Value::Kind::Bool && bos >= 0) {
    bool has = !prefix.empty() && prefix.front() == bos;
    if (add->boolean && !has)
      prefix.insert(prefix.begin(), bos);
    if (!add->boolean && has)
      prefix.erase(prefix.begin());
  }

  // EOS: every source's.
  std::vector<int32_t> &stop = settings.stopIds;
  std::string eosText = tokenText(tokenizerConfig.find("eos_token"));
  if (!eosText.empty()) {
    int32_t eos = tokenizer.tokenId(eosText);
    if (eos < 0)
      return read.fail(std::string(kTextFileNames[1]) + ": eos_token '" +
                       eosText + "' is not a token of tokenizer.json");
    stop.push_back(eos);
  }
  if (!read.ids(generationConfig, kTextFileNames[2], "eos_token_id", stop) ||
      !read.ids(modelConfig, kTextFileNames[4], "eos_token_id", stop))
    return false;
  std::sort(stop.begin(), stop.end());
  stop.erase(std::unique(stop.begin(), stop.end()), stop.end());

  // Sampling defaults, as generate reads generation_config.json: greedy
  // unless do_sample; then temperature 1, top_k 50, top_p 1.
  SamplingSettings &sampling = settings.sampling;
  const Value *doSample = generationConfig.find("do_sample");
  if (doSample && doSample->kind == Value::Kind::Bool && doSample->boolean) {
    sampling.temperature = 1;
    double topK = 50;
    const char *file = kTextFileNames[2];
    if (!read.number(generationConfig, file, "temperature", 0, 100,
                     sampling.temperature) ||
        !read.number(generationConfig, file, "top_k", 0, 1e9, topK) ||
        !read.number(generationConfig, file, "top_p", 0, 1, sampling.topP) ||
        !read.number(generationConfig, file, "min_p", 0, 1, sampling.minP))
      return false;
    sampling.topK = int64_t(topK);
  }
  if (!read.number(generationConfig, kTextFileNames[2], "repetition_penalty",
                   1e-3, 1e3, sampling.repeatPenalty))
    return false;

  // The chat format: chat_template.jinja first, as transformers reads it.
  std::string chatTemplate(files.chatTemplate);
  if (chatTemplate.empty()) {
    const Value *value = tokenizerConfig.find("chat_template");
    if (value && value->kind == Value::Kind::String)
      chatTemplate = value->string;
    if (value && value->kind == Value::Kind::Array)
      for (const Value &named : value->array) {
        const Value *name = named.find("name");
        const Value *text = named.find("template");
        if (text &&
            (chatTemplate.empty() || (name && name->string == "default")))
          chatTemplate = text->string;
      }
  }
  const Value *modelType = modelConfig.find("model_type");
  settings.chat = detectChatFormat(
      chatTemplate, modelType ? modelType->string : "", settings.noChatReason);
  return true;
}
