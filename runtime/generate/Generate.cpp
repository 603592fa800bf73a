//===- Generate.cpp - Text in, text out: the binary's generation ----------===//

#include "runtime/generate/Generate.h"

#include "runtime/generate/Sampler.h"
#include "runtime/host/TokenSession.h"
#include "runtime/tokenizer/StreamDecoder.h"
#include "runtime/tokenizer/TextSettings.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

using namespace moec::rt;

[[noreturn]] static void usageError(const std::string &message) {
  std::fprintf(stderr, "error: %s (see --help)\n", message.c_str());
  std::exit(2);
}

[[noreturn]] static void dataError(const std::string &message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  std::exit(1);
}

bool moec::rt::hasTokenizer(const Model &model) {
  if (!kRuntimeHasTokenizer)
    return false;
  for (const Model::EmbeddedFile &file : model.files)
    if (file.name == kTextFileNames[0])
      return true;
  return false;
}

#ifndef MOEC_RUNTIME_NO_TOKENIZER
/// Reads the embedded text files; exits with status 1 on failure.
static void loadEmbeddedText(const Model &model, TextSettings &settings) {
  TextFiles files;
  for (const Model::EmbeddedFile &file : model.files)
    for (size_t i = 0; i < std::size(kTextFileNames); ++i)
      if (file.name == kTextFileNames[i])
        *files.byIndex(i) = file.contents;
  std::string error;
  if (!loadTextSettings(files, settings, error))
    dataError("the embedded " + error);
}

#endif

int moec::rt::parseGenerateOption(int argc, char **argv, int i,
                                  GenerateOptions &options) {
  std::string arg = argv[i];
  std::string value;
  bool inlineValue = false;
  if (size_t eq = arg.find('=');
      eq != std::string::npos && arg.rfind("--", 0) == 0) {
    value = arg.substr(eq + 1);
    arg = arg.substr(0, eq);
    inlineValue = true;
  }
  auto next = [&]() -> std::string {
    if (inlineValue)
      return value;
    if (i + 1 >= argc)
      usageError(arg + " needs a value");
    return argv[++i];
  };
  auto real = [&](double lo, double hi) {
    std::string text = next();
    char *end;
    double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end || !(v >= lo && v <= hi))
      usageError(arg + " needs a number from " + std::to_string(lo) + " to " +
                 std::to_string(hi) + ", got '" + text + "'");
    return v;
  };
  auto integer = [&](long long lo, long long hi) {
    std::string text = next();
    char *end;
    errno = 0;
    long long v = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end || errno || v < lo || v > hi)
      usageError(arg + " needs an integer from " + std::to_string(lo) + " to " +
                 std::to_string(hi) + ", got '" + text + "'");
    return v;
  };
  if (arg == "--prompt") {
    options.prompt = next();
  } else if (arg == "--prompt-file") {
    std::string file = next();
    std::ifstream in(file, std::ios::binary);
    if (!in)
      dataError("--prompt-file: cannot read '" + file + "'");
    std::ostringstream text;
    text << in.rdbuf();
    options.prompt = text.str();
  } else if (arg == "-n" || arg == "--n-predict") {
    options.newTokens = integer(0, 1 << 30);
  } else if (arg == "--temp") {
    options.temperature = real(0, 100);
  } else if (arg == "--top-k") {
    options.topK = integer(0, 1 << 30);
  } else if (arg == "--top-p") {
    options.topP = real(0, 1);
  } else if (arg == "--min-p") {
    options.minP = real(0, 1);
  } else if (arg == "--repeat-penalty") {
    options.repeatPenalty = real(1e-3, 1e3);
  } else if (arg == "--seed") {
    options.seed = uint64_t(integer(0, INT64_MAX));
  } else if (arg == "--system") {
    options.system = next();
  } else if (arg == "--ignore-eos" && !inlineValue) {
    options.ignoreEos = true;
  } else if ((arg == "-i" || arg == "--interactive") && !inlineValue) {
    options.interactive = true;
  } else if (arg == "--chat" && !inlineValue) {
    options.chat = true;
  } else if (arg == "--print-tokens" && !inlineValue) {
    options.printTokens = true;
  } else {
    return -1;
  }
  options.requested = true;
  return i;
}

#ifdef MOEC_RUNTIME_NO_TOKENIZER
// Without the tokenizer no model has one (hasTokenizer), and Main calls
// neither (--prompt is refused there with the reason).
void moec::rt::printGenerateHelp(const Model &) {}
void moec::rt::generate(const Model &, size_t, int64_t, const GenerateOptions &,
                        std::vector<Descriptor> &, StateBuffers &,
                        const std::vector<std::pair<const void *, size_t>> &) {
  dataError("this runtime is built without the tokenizer");
}
#else
void moec::rt::printGenerateHelp(const Model &model) {
  TextSettings settings;
  loadEmbeddedText(model, settings);
  const SamplingSettings &s = settings.sampling;
  std::printf(
      "\ntext generation (the checkpoint's tokenizer is built in):\n"
      "  --prompt TEXT          the prompt\n"
      "  --prompt-file FILE     the prompt, from a file\n"
      "  -n N                   tokens to generate (default 256; 0: only read "
      "the prompt)\n"
      "  --temp T               temperature; 0 is greedy (default %g)\n"
      "  --top-k K              keep the K most likely tokens; 0: all "
      "(default %lld)\n"
      "  --top-p P              keep the most likely tokens with mass P "
      "(default %g)\n"
      "  --min-p P              drop tokens less likely than P x the most "
      "likely (default %g)\n"
      "  --repeat-penalty R     penalize every token seen so far (default "
      "%g)\n"
      "  --seed S               the random seed (default: a random one, "
      "printed)\n"
      "  --ignore-eos           do not stop at end-of-sequence tokens\n"
      "  --chat                 wrap the prompt in the chat format (%s)\n"
      "  --system TEXT          the system message, with --chat\n"
      "  -i                     interactive: after the prompt, read turns "
      "from stdin,\n"
      "                         one per line, keeping the KV cache\n"
      "  --print-tokens         print the prompt's ids and the generated "
      "ids instead of text\n"
      "defaults come from the checkpoint's generation_config.json; text "
      "goes to stdout,\nspeed to stderr\n",
      s.temperature, (long long)s.topK, s.topP, s.minP, s.repeatPenalty,
      settings.chat == ChatFormat::None ? settings.noChatReason.c_str()
                                        : chatFormatName(settings.chat));
}

namespace {
double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since)
      .count();
}

void printIds(const std::vector<int32_t> &ids) {
  for (size_t i = 0; i < ids.size(); ++i)
    std::printf("%s%d", i ? " " : "", ids[i]);
  std::printf("\n");
  std::fflush(stdout);
}

std::string today() {
  std::time_t now = std::time(nullptr);
  char text[16];
  std::strftime(text, sizeof text, "%Y-%m-%d", std::localtime(&now));
  return text;
}
} // namespace

void moec::rt::generate(
    const Model &model, size_t entry, int64_t context,
    const GenerateOptions &options, std::vector<Descriptor> &weights,
    StateBuffers &state,
    const std::vector<std::pair<const void *, size_t>> &owned) {
  TextSettings settings;
  loadEmbeddedText(model, settings);
  const Tokenizer &tokenizer = *settings.tokenizer;
  if (options.chat && settings.chat == ChatFormat::None)
    usageError("--chat: " + settings.noChatReason);
  if (!options.system.empty() && !options.chat)
    usageError("--system needs --chat");
  if (!options.prompt && !options.interactive)
    usageError("--prompt TEXT or --prompt-file FILE is needed (or -i)");
  SamplingSettings sampling = settings.sampling;
  if (options.temperature)
    sampling.temperature = *options.temperature;
  if (options.topK)
    sampling.topK = *options.topK;
  if (options.topP)
    sampling.topP = *options.topP;
  if (options.minP)
    sampling.minP = *options.minP;
  if (options.repeatPenalty)
    sampling.repeatPenalty = *options.repeatPenalty;
  uint64_t seed = options.seed ? *options.seed : std::random_device()();
  if (!options.seed && sampling.temperature > 0 && options.newTokens > 0)
    std::fprintf(stderr, "seed %llu\n", (unsigned long long)seed);
  Sampler sampler(sampling, seed);
  std::vector<float> logits;
  TokenSession session(model, entry, context, weights, state, owned);
  // Runs ids through the cache; `logits` gets the last row.
  auto feed = [&](const std::vector<int32_t> &ids) {
    std::vector<int64_t> wide(ids.begin(), ids.end());
    session.feed(
        wide, model.maxTokens,
        [&](const float *rows, int64_t n) {
          logits.assign(rows + (n - 1) * session.vocab,
                        rows + n * session.vocab);
        },
        /*lastRow=*/true);
  };
  if (tokenizer.vocabularySize() > session.vocab)
    dataError("the tokenizer has " +
              std::to_string(tokenizer.vocabularySize()) +
              " ids, the model's logits " + std::to_string(session.vocab));

  std::vector<int32_t> history;
  // Sampled but not yet run through the model: the last token of a turn
  // cut short by -n, which the next turn's text follows.
  std::vector<int32_t> pending;
  bool first = true;
  std::string line;
  while (true) {
    // The next turn's text.
    std::string text;
    if (first && options.prompt) {
      text = *options.prompt;
    } else {
      if (!options.interactive)
        break;
      std::fprintf(stderr, "> ");
      std::fflush(stderr);
      if (!std::getline(std::cin, line))
        break;
      if (!line.empty() && line.back() == '\r')
        line.pop_back();
      text = line;
    }
    std::vector<int32_t> ids = pending;
    pending.clear();
    if (options.chat) {
      std::string turn = first
                             ? renderFirstTurn(settings.chat, settings.bosText,
                                               options.system, text, today())
                             : renderNextTurn(settings.chat, text);
      std::vector<int32_t> encoded = tokenizer.encode(turn);
      ids.insert(ids.end(), encoded.begin(), encoded.end());
    } else if (first) {
      std::vector<int32_t> encoded = tokenizer.encode(text);
      ids.insert(ids.end(), settings.promptPrefix.begin(),
                 settings.promptPrefix.end());
      ids.insert(ids.end(), encoded.begin(), encoded.end());
      ids.insert(ids.end(), settings.promptSuffix.begin(),
                 settings.promptSuffix.end());
    } else {
      std::vector<int32_t> encoded = tokenizer.encode("\n" + text);
      ids.insert(ids.end(), encoded.begin(), encoded.end());
    }
    first = false;
    if (options.printTokens)
      printIds(ids);
    if (options.newTokens == 0 && options.printTokens && !options.interactive)
      return;
    if (ids.empty())
      dataError("the prompt has no tokens (an empty text, and the "
                "checkpoint adds no BOS)");
    if (!session.fits(ids.size()))
      dataError("the prompt needs " + std::to_string(ids.size()) +
                " positions; the KV cache has " +
                std::to_string(session.context - session.position) +
                " left of " + std::to_string(session.context) +
                " (--ctx-size sets them)");
    auto promptStart = std::chrono::steady_clock::now();
    feed(ids);
    double promptSeconds = seconds(promptStart);
    history.insert(history.end(), ids.begin(), ids.end());

    // Generate.
    auto start = std::chrono::steady_clock::now();
    StreamDecoder decoder(tokenizer, ids.back());
    std::vector<int32_t> generated;
    bool full = false;
    for (int64_t i = 0; i < options.newTokens; ++i) {
      int32_t id = sampler.sample(logits.data(), session.vocab, history);
      if (!options.ignoreEos && std::binary_search(settings.stopIds.begin(),
                                                   settings.stopIds.end(), id))
        break;
      generated.push_back(id);
      history.push_back(id);
      if (!options.printTokens) {
        std::string piece = decoder.push(id);
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
      }
      if (i + 1 == options.newTokens) {
        pending.push_back(id);
        break;
      }
      if (!session.fits(1)) {
        full = true;
        break;
      }
      feed({id});
    }
    double generateSeconds = seconds(start);
    if (options.printTokens) {
      printIds(generated);
    } else {
      std::string rest = decoder.finish();
      std::fwrite(rest.data(), 1, rest.size(), stdout);
      std::printf("\n");
      std::fflush(stdout);
    }
    std::fprintf(stderr,
                 "prompt: %zu tokens in %.3f s (%.1f tokens/s); generated: "
                 "%zu tokens in %.3f s (%.1f tokens/s)\n",
                 ids.size(), promptSeconds, ids.size() / promptSeconds,
                 generated.size(), generateSeconds,
                 generated.empty() ? 0.0 : generated.size() / generateSeconds);
    if (full) {
      std::fprintf(stderr,
                   "the KV cache is full (%lld positions; --ctx-size "
                   "sets them)\n",
                   (long long)session.context);
      return;
    }
  }
}
#endif // MOEC_RUNTIME_NO_TOKENIZER
