//===- TextSettings.h - What a checkpoint says about its text --*- C++ -*-===//
//
// A checkpoint's text side is spread over several files: tokenizer.json
// (the tokenizer and its post-processor), tokenizer_config.json (BOS, EOS,
// add_bos_token, the chat template), generation_config.json (EOS ids and
// the sampling defaults), chat_template.jinja and config.json. This reads
// them into what generation needs. The compiler reads them with this same
// code when it embeds them, so a file the binary would reject fails the
// compile instead.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_RUNTIME_TOKENIZER_TEXTSETTINGS_H
#define MOEC_RUNTIME_TOKENIZER_TEXTSETTINGS_H

#include "runtime/tokenizer/ChatTemplate.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace moec::rt {

/// The files' names as a checkpoint directory has them, in the order of
/// TextFiles' members.
extern const char *const kTextFileNames[5];

/// The files' text; empty for a file the checkpoint lacks (tokenizer.json
/// is required).
struct TextFiles {
  std::string_view tokenizer, tokenizerConfig, generationConfig, chatTemplate,
      modelConfig;
  std::string_view *byIndex(size_t i);
};

/// Sampling as Hugging Face's generate does it; temperature 0 is greedy.
struct SamplingSettings {
  double temperature = 0;
  /// 0: no top-k.
  int64_t topK = 0;
  double topP = 1;
  double minP = 0;
  double repeatPenalty = 1;
};

struct TextSettings {
  std::unique_ptr<Tokenizer> tokenizer;
  /// The ids put around a prompt's ids: the post-processor's, with BOS
  /// added or removed as tokenizer_config.json's add_bos_token says.
  std::vector<int32_t> promptPrefix, promptSuffix;
  /// Generation stops at any of these (generation_config.json's,
  /// config.json's and tokenizer_config.json's EOS).
  std::vector<int32_t> stopIds;
  /// The BOS token's text, which some chat formats write.
  std::string bosText;
  ChatFormat chat = ChatFormat::None;
  /// Why there is no chat format, for --chat's error.
  std::string noChatReason;
  /// Defaults from generation_config.json (greedy without one, or when
  /// do_sample is false).
  SamplingSettings sampling;
};

/// Reads the files; false with a message naming the file on failure.
bool loadTextSettings(const TextFiles &files, TextSettings &settings,
                      std::string &error);

} // namespace moec::rt

#endif // MOEC_RUNTIME_TOKENIZER_TEXTSETTINGS_H
