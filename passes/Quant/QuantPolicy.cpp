//===- QuantPolicy.cpp - Mixed-precision choices per layer and expert -----===//

#include "passes/Quant/QuantPolicy.h"

#include "runtime/formats/RoutingProfile.h"

#include "dialects/decoder/IR/LinearRoles.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <cmath>

using namespace moec;

std::string moec::choiceName(const QuantChoice &choice) {
  return choice ? choice->str() : "fp32";
}

static std::optional<QuantChoice> parseChoice(const llvm::json::Value *value,
                                              const std::string &where,
                                              std::string &error) {
  std::optional<llvm::StringRef> text =
      value ? value->getAsString() : std::nullopt;
  if (text && *text == "fp32")
    return QuantChoice();
  if (text)
    if (std::optional<QuantScheme> scheme = QuantScheme::parse(*text))
      return QuantChoice(*scheme);
  error = where + ": expected \"fp32\" or a scheme (int8, int4-g32, "
                  "int4-g64, int4-g128, optionally ,asym)";
  return std::nullopt;
}

/// A non-negative integer key.
static std::optional<int64_t> parseIndex(llvm::StringRef key) {
  int64_t index;
  if (key.getAsInteger(10, index) || index < 0)
    return std::nullopt;
  return index;
}

/// The deepest nesting of JSON arrays and objects in `text` (outside
/// strings), stopping once it exceeds `limit`: llvm::json recurses per level
/// and a deep enough file would overflow the stack.
static int jsonNesting(llvm::StringRef text, int limit) {
  int depth = 0, deepest = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size() && deepest <= limit; ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

std::optional<QuantPolicy> QuantPolicy::load(llvm::StringRef path,
                                             std::string &error) {
  // A policy is a small regular file: not a device, a FIFO or gigabytes.
  constexpr uint64_t kMaxBytes = 16 << 20;
  llvm::sys::fs::file_status status;
  if (std::error_code ec = llvm::sys::fs::status(path, status)) {
    error = "cannot read the quantization policy '" + path.str() +
            "': " + ec.message();
    return std::nullopt;
  }
  if (status.type() != llvm::sys::fs::file_type::regular_file ||
      status.getSize() > kMaxBytes) {
    error = "the quantization policy '" + path.str() +
            "' is not a regular "
            "file of at most 16 MiB";
    return std::nullopt;
  }
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> file =
      llvm::MemoryBuffer::getFile(path);
  if (!file) {
    error = "cannot read the quantization policy '" + path.str() +
            "': " + file.getError().message();
    return std::nullopt;
  }
  std::string prefix = "quantization policy '" + path.str() + "'";
  constexpr int kMaxNesting = 64;
  if (jsonNesting((*file)->getBuffer(), kMaxNesting) > kMaxNesting) {
    error = prefix + ": JSON nested more than " + std::to_string(kMaxNesting) +
            " levels deep";
    return std::nullopt;
  }
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse((*file)->getBuffer());
  if (!json) {
    error = prefix + ": " + llvm::toString(json.takeError());
    return std::nullopt;
  }
  const llvm::json::Object *root = json->getAsObject();
  if (!root) {
    error = prefix + ": expected a JSON object";
    return std::nullopt;
  }
  QuantPolicy policy;
  for (const auto &[key, value] : *root) {
    std::string where = prefix + ", \"" + key.str() + "\"";
    if (key == "default") {
      std::optional<QuantChoice> choice = parseChoice(&value, where, error);
      if (!choice)
        return std::nullopt;
      policy.defaultChoice = *choice;
    } else if (key == "layers" || key == "experts") {
      const llvm::json::Object *table = value.getAsObject();
      if (!table) {
        error = where + ": expected an object keyed by layer index";
        return std::nullopt;
      }
      for (const auto &[layerKey, entry] : *table) {
        std::string at = where + "[" + layerKey.str() + "]";
        std::optional<int64_t> layer = parseIndex(layerKey);
        if (!layer) {
          error = at + ": a layer index must be a non-negative integer";
          return std::nullopt;
        }
        if (key == "layers") {
          std::optional<QuantChoice> choice = parseChoice(&entry, at, error);
          if (!choice)
            return std::nullopt;
          policy.layers[*layer] = *choice;
          continue;
        }
        const llvm::json::Object *perExpert = entry.getAsObject();
        if (!perExpert) {
          error = at + ": expected an object keyed by expert index";
          return std::nullopt;
        }
        for (const auto &[expertKey, expertValue] : *perExpert) {
          std::string atExpert = at + "[" + expertKey.str() + "]";
          std::optional<int64_t> expert = parseIndex(expertKey);
          if (!expert) {
            error = atExpert + ": an expert index must be a non-negative "
                               "integer";
            return std::nullopt;
          }
          std::optional<QuantChoice> choice =
              parseChoice(&expertValue, atExpert, error);
          if (!choice)
            return std::nullopt;
          policy.experts[*layer][*expert] = *choice;
        }
      }
    } else if (key == "hot") {
      const llvm::json::Object *hot = value.getAsObject();
      std::optional<llvm::StringRef> profile =
          hot ? hot->getString("profile") : std::nullopt;
      std::optional<double> fraction =
          hot ? hot->getNumber("fraction") : std::nullopt;
      if (!profile || !fraction || *fraction < 0 || *fraction > 1) {
        error = where + ": expected {\"profile\": FILE, \"fraction\": F in "
                        "[0, 1], \"scheme\": SCHEME}";
        return std::nullopt;
      }
      std::optional<QuantChoice> choice =
          parseChoice(hot->get("scheme"), where + ".scheme", error);
      if (!choice)
        return std::nullopt;
      llvm::SmallString<256> resolved(*profile);
      if (llvm::sys::path::is_relative(resolved)) {
        resolved = llvm::sys::path::parent_path(path);
        llvm::sys::path::append(resolved, *profile);
      }
      policy.hot = Hot{resolved.str().str(), *fraction, *choice};
    } else if (key == "linears") {
      const llvm::json::Object *table = value.getAsObject();
      if (!table) {
        error = where + ": expected an object keyed by role";
        return std::nullopt;
      }
      for (const auto &[role, entry] : *table) {
        std::string at = where + "[" + role.str() + "]";
        if (!llvm::is_contained(decoder::kQuantizableRoles, role.str())) {
          error = at + ": unknown role (expected attention, mlp, "
                       "shared_expert, lm_head)";
          return std::nullopt;
        }
        std::optional<QuantChoice> choice = parseChoice(&entry, at, error);
        if (!choice)
          return std::nullopt;
        policy.linears[role.str()] = *choice;
      }
    } else {
      error = prefix + ": unknown key \"" + key.str() +
              "\" (expected default, layers, experts, hot, linears)";
      return std::nullopt;
    }
  }
  return policy;
}

std::vector<QuantChoice>
QuantPolicy::choicesFor(int64_t layer, int64_t numExperts,
                        const std::vector<int64_t> *routed,
                        const QuantChoice &fallback) const {
  QuantChoice base = defaultChoice ? *defaultChoice : fallback;
  if (auto it = layers.find(layer); it != layers.end())
    base = it->second;
  std::vector<QuantChoice> choices(numExperts, base);
  if (hot && routed) {
    std::vector<int64_t> order = rt::rankExperts(*routed);
    int64_t count = int64_t(std::ceil(hot->fraction * double(numExperts)));
    for (int64_t i = 0; i < count; ++i)
      choices[order[i]] = hot->choice;
  }
  if (auto it = experts.find(layer); it != experts.end())
    for (const auto &[expert, choice] : it->second)
      if (expert < numExperts)
        choices[expert] = choice;
  return choices;
}
