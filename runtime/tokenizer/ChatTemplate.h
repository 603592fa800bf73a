//===- ChatTemplate.h - The families' chat formats, fixed -------*- C++ -*-===//
//
// --chat wraps each turn the way the checkpoint's chat template would. The
// templates are Jinja; the binary carries no Jinja engine. It recognizes
// which family's format a template writes (by the markers it contains) and
// renders that format's fixed text: ChatML (Qwen), DeepSeek-V3, Mistral's
// [INST] and GPT-OSS's harmony. Tools, images and a template's other
// branches are not rendered; docs/generation.md lists what each writes.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_RUNTIME_TOKENIZER_CHATTEMPLATE_H
#define MOEC_RUNTIME_TOKENIZER_CHATTEMPLATE_H

#include <string>
#include <string_view>

namespace moec::rt {

enum class ChatFormat { None, ChatML, DeepSeek, Mistral, Harmony };

const char *chatFormatName(ChatFormat format);

/// The format the Jinja text `chatTemplate` writes, or, when the checkpoint
/// ships none, the one its family (config.json's model_type) uses. None,
/// with the reason in `why`, when neither says.
ChatFormat detectChatFormat(std::string_view chatTemplate,
                            std::string_view modelType, std::string &why);

/// The text of a conversation's first turn up to where the assistant
/// answers: the optional system message, the user's message, and the
/// generation prompt. `bos` is the BOS token's text for formats that write
/// it; `date` (YYYY-MM-DD) is harmony's current date.
std::string renderFirstTurn(ChatFormat format, std::string_view bos,
                            std::string_view system, std::string_view user,
                            std::string_view date);

/// The text that closes the assistant's answer and adds the next user turn
/// and generation prompt.
std::string renderNextTurn(ChatFormat format, std::string_view user);

} // namespace moec::rt

#endif // MOEC_RUNTIME_TOKENIZER_CHATTEMPLATE_H
