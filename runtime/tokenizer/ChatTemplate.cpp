//===- ChatTemplate.cpp - The families' chat formats, fixed ---------------===//

#include "runtime/tokenizer/ChatTemplate.h"

using namespace moec::rt;

const char *moec::rt::chatFormatName(ChatFormat format) {
  switch (format) {
  case ChatFormat::ChatML:
    return "ChatML";
  case ChatFormat::DeepSeek:
    return "DeepSeek-V3";
  case ChatFormat::Mistral:
    return "Mistral [INST]";
  case ChatFormat::Harmony:
    return "harmony (GPT-OSS)";
  case ChatFormat::None:
    break;
  }
  return "none";
}

ChatFormat moec::rt::detectChatFormat(std::string_view chatTemplate,
                                      std::string_view modelType,
                                      std::string &why) {
  auto has = [&](std::string_view marker) {
    return chatTemplate.find(marker) != std::string_view::npos;
  };
  if (!chatTemplate.empty()) {
    if (has("<|im_start|>"))
      return ChatFormat::ChatML;
    if (has("<｜User｜>") && has("<｜Assistant｜>"))
      return ChatFormat::DeepSeek;
    if (has("[INST]"))
      return ChatFormat::Mistral;
    if (has("<|start|>") && has("<|message|>"))
      return ChatFormat::Harmony;
    why = "the checkpoint's chat template is not one of the formats the "
          "binary writes (ChatML, DeepSeek-V3, Mistral [INST], harmony)";
    return ChatFormat::None;
  }
  // Templates some families ship outside tokenizer_config.json.
  if (modelType == "gpt_oss")
    return ChatFormat::Harmony;
  if (modelType == "mixtral" || modelType == "mistral")
    return ChatFormat::Mistral;
  why = "the checkpoint has no chat template (tokenizer_config.json's "
        "chat_template or chat_template.jinja)";
  return ChatFormat::None;
}

static std::string chatMLTurn(std::string_view role, std::string_view text) {
  return "<|im_start|>" + std::string(role) + "\n" + std::string(text) +
         "<|im_end|>\n";
}

static std::string harmonyMessage(std::string_view role,
                                  std::string_view text) {
  return "<|start|>" + std::string(role) + "<|message|>" + std::string(text) +
         "<|end|>";
}

std::string moec::rt::renderFirstTurn(ChatFormat format, std::string_view bos,
                                      std::string_view system,
                                      std::string_view user,
                                      std::string_view date) {
  std::string text;
  switch (format) {
  case ChatFormat::ChatML:
    if (!system.empty())
      text = chatMLTurn("system", system);
    return text + chatMLTurn("user", user) + "<|im_start|>assistant\n";
  case ChatFormat::DeepSeek:
    return std::string(bos) + std::string(system) + "<｜User｜>" +
           std::string(user) + "<｜Assistant｜>";
  case ChatFormat::Mistral:
    // Mixtral-Instruct's template has no system role; later Mistral
    // templates put the system message before the first user message.
    text = std::string(bos) + "[INST] ";
    if (!system.empty())
      text += std::string(system) + "\n\n";
    return text + std::string(user) + " [/INST]";
  case ChatFormat::Harmony:
    text = harmonyMessage(
        "system", "You are ChatGPT, a large language model trained by "
                  "OpenAI.\nKnowledge cutoff: 2024-06\nCurrent date: " +
                      std::string(date) +
                      "\n\nReasoning: medium\n\n# Valid channels: analysis, "
                      "commentary, final. Channel must be included for every "
                      "message.");
    if (!system.empty())
      text += harmonyMessage("developer",
                             "# Instructions\n\n" + std::string(system));
    return text + harmonyMessage("user", user) + "<|start|>assistant";
  case ChatFormat::None:
    break;
  }
  return std::string(user);
}

std::string moec::rt::renderNextTurn(ChatFormat format, std::string_view user) {
  switch (format) {
  case ChatFormat::ChatML:
    return "<|im_end|>\n" + chatMLTurn("user", user) +
           "<|im_start|>assistant\n";
  case ChatFormat::DeepSeek:
    return "<｜end▁of▁sentence｜><｜User｜>" + std::string(user) +
           "<｜Assistant｜>";
  case ChatFormat::Mistral:
    return "</s>[INST] " + std::string(user) + " [/INST]";
  case ChatFormat::Harmony:
    return "<|end|>" + harmonyMessage("user", user) + "<|start|>assistant";
  case ChatFormat::None:
    break;
  }
  return std::string(user);
}
