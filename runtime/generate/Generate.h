//===- Generate.h - Text in, text out: the binary's generation --*- C++ -*-===//
//
// A model moec built from a checkpoint with its tokenizer files takes text:
//
//   MODEL --prompt "TEXT" [-n N] [--temp T] [--top-k K] [--top-p P]
//         [--min-p P] [--repeat-penalty R] [--seed S] [--ignore-eos]
//         [--chat [--system TEXT]] [-i] [--print-tokens]
//
// encodes the prompt (with BOS as the checkpoint asks, or wrapped in its
// chat format), runs it through the KV cache, then samples a token at a
// time and streams its text to stdout until EOS or N tokens. Interactive
// mode (-i) reads further turns from stdin, one per line, keeping the
// cache. Timing goes to stderr. docs/generation.md has the details.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_RUNTIME_GENERATE_GENERATE_H
#define MOEC_RUNTIME_GENERATE_GENERATE_H

#include "runtime/host/EntryCall.h"

#include <optional>
#include <string>
#include <vector>

namespace moec::rt {

struct GenerateOptions {
  /// --prompt, or the contents of --prompt-file.
  std::optional<std::string> prompt;
  /// -n: tokens to generate per turn.
  int64_t newTokens = 256;
  std::optional<double> temperature, topP, minP, repeatPenalty;
  std::optional<int64_t> topK;
  std::optional<uint64_t> seed;
  bool ignoreEos = false;
  bool interactive = false;
  bool chat = false;
  std::string system;
  /// Print ids (the prompt's on one line, the generated ones on the next)
  /// instead of text.
  bool printTokens = false;

  /// Whether any generation option was given.
  bool requested = false;
};

/// Whether this runtime has the tokenizer: not where PCRE2 and utf8proc
/// have no build (the runtime of cross binaries, MOEC_RUNTIME_NO_TOKENIZER).
#ifdef MOEC_RUNTIME_NO_TOKENIZER
inline constexpr bool kRuntimeHasTokenizer = false;
#else
inline constexpr bool kRuntimeHasTokenizer = true;
#endif

/// Whether the compiler embedded the checkpoint's tokenizer.json and the
/// runtime can read it.
bool hasTokenizer(const Model &model);

/// If argv[i] is a generation option, reads it (and its value) into
/// `options` and returns the index of its last word; otherwise returns -1.
/// Exits with status 2 on a bad value.
int parseGenerateOption(int argc, char **argv, int i, GenerateOptions &options);

/// Prints the generation options for --help (of a model hasTokenizer
/// accepts).
void printGenerateHelp(const Model &model);

/// Runs generation with model entry `entry` (a token entry of a model
/// hasTokenizer accepts) whose KV cache holds `context` positions.
void generate(const Model &model, size_t entry, int64_t context,
              const GenerateOptions &options, std::vector<Descriptor> &weights,
              StateBuffers &state,
              const std::vector<std::pair<const void *, size_t>> &owned);

} // namespace moec::rt

#endif // MOEC_RUNTIME_GENERATE_GENERATE_H
