//===- Main.cpp - The command line of every compiled model ----------------===//
//
//   MODEL [--entry NAME] --input NAME=FILE.npy ...
//         [--output FILE.npy | NAME=FILE.npy ...] [--calls N]
//         [--bench [--iterations N]] [--threads N] [--help]
//   MODEL --tokens ids.npy [--logits out.npy] ...   (a checkpoint's model)
//   MODEL --prompt TEXT [-n N] ...                   (with its tokenizer)
//
// Exit status: 0 success, 1 bad input data or weights, 2 bad usage.
//
//===----------------------------------------------------------------------===//

#include "moec/Runtime/BinaryAbi.h"
#include "runtime/formats/Npy.h"
#include "runtime/generate/Generate.h"
#include "runtime/host/EntryCall.h"
#include "runtime/host/Model.h"
#include "runtime/host/ProfileRecorder.h"
#include "runtime/host/ThreadPool.h"
#include "runtime/host/TokenBench.h"
#include "runtime/host/TokenRun.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits.h>
#include <malloc.h>
#include <map>
#include <string>
#include <unistd.h>
#include <utility>

using namespace moec::rt;

void moec_check_failed(const char *message, int64_t v0, int64_t v1, int64_t v2,
                       int64_t v3) {
  const int64_t values[MOEC_ABI_CHECK_VALUES] = {v0, v1, v2, v3};
  std::string text;
  for (const char *c = message; *c; ++c) {
    if (c[0] == '{' && c[1] == '{') {
      text.push_back('{');
      ++c;
    } else if (c[0] == '{' && c[1] >= '0' && c[1] <= '3' && c[2] == '}') {
      text += std::to_string(values[c[1] - '0']);
      c += 2;
    } else {
      text.push_back(*c);
    }
  }
  std::fprintf(stderr, "error: %s\n", text.c_str());
  // Any thread may fail a check: exit without the destructors that join the
  // thread pool's workers.
  std::_Exit(1);
}

namespace {
struct Options {
  /// The entry point to call: --entry, or the first.
  size_t entry = 0;
  /// Calls in a row (the state carries over); outputs are the last call's.
  int calls = 1;
  std::map<std::string, std::string> inputs;
  std::vector<std::string> bareInputs;
  std::map<std::string, std::string> outputs;
  std::vector<std::string> bareOutputs;
  bool bench = false;
  int iterations = 20;
  bool iterationsGiven = false;
  /// --bench of a decoder model: --bench-prompt, --bench-gen, --bench-depth.
  TokenBenchOptions tokenBench;
  bool tokenBenchGiven = false;
  int benchTokens = 0;
  int threads = 0;
  std::string profileOut;
  /// --ctx-size: the KV cache's positions (0: the model's default).
  int64_t contextSize = 0;
  /// --tokens, --logits, --chunk, --last-logits (a decoder model).
  TokenRunOptions tokenRun;
  bool lastLogitsGiven = false;
  /// --prompt and the other options of text generation.
  GenerateOptions generate;
};

[[noreturn]] void usageError(const std::string &message) {
  std::fprintf(stderr, "error: %s (see --help)\n", message.c_str());
  std::exit(2);
}

[[noreturn]] void dataError(const std::string &message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  std::exit(1);
}

std::string describeShape(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") +
            (shape[i] < 0 ? std::string("T") : std::to_string(shape[i]));
  return text + "]";
}

/// The inputs or outputs the user passes or receives (not the state).
std::vector<TensorSpec> userValues(const std::vector<TensorSpec> &values) {
  std::vector<TensorSpec> user;
  for (const TensorSpec &spec : values)
    if (spec.state.empty())
      user.push_back(spec);
  return user;
}

void printHelp(const Model &model, const char *argv0) {
  bool several = model.entries.size() > 1;
  std::printf("%s: the compiled model '%s' (moec)\n\n", argv0,
              model.name.c_str());
  std::printf("usage: %s %s--input NAME=FILE.npy ... [--output FILE.npy | "
              "NAME=FILE.npy ...]\n"
              "          [--calls N] [--bench [--iterations N] "
              "[--bench-tokens T]] [--threads N]\n\n",
              argv0, several ? "[--entry NAME] " : "");
  if (isTokenEntry(model.entries[0]) && hasTokenizer(model))
    std::printf("       %s --prompt TEXT [-n N] [--temp T] [--seed S] "
                "[--chat] [-i] (see below)\n",
                argv0);
  if (isTokenEntry(model.entries[0]))
    std::printf("       %s --bench [--bench-prompt P] [--bench-gen G] "
                "[--bench-depth D] [--iterations R]\n",
                argv0);
  if (isTokenEntry(model.entries[0]))
    std::printf("       %s --tokens ids.npy [--logits out.npy] [--chunk N] "
                "[--last-logits]\n\n"
                "  --tokens ids.npy       token ids (int32 or int64 [T]), run "
                "as one prompt\n"
                "  --logits out.npy       where to write the logits, float32 "
                "[T, vocab]\n"
                "  --chunk N              feed the ids N at a time through "
                "the KV cache\n"
                "                         (--chunk 1: token by token)\n"
                "  --last-logits          write only the last row [1, vocab]\n"
                "  --bench                prefill and decode speed, as "
                "llama-bench's pp and tg:\n"
                "                         P ids in one call (--bench-prompt, "
                "default 512) and G\n"
                "                         calls of one id (--bench-gen, "
                "default 128), each after\n"
                "                         D positions of KV cache "
                "(--bench-depth, default 0);\n"
                "                         the median of R repetitions "
                "(--iterations, default 3)\n",
                argv0);
  if (model.context)
    std::printf("  --ctx-size N           positions the KV cache holds "
                "(default %lld)\n",
                (long long)model.context);
  if (several)
    std::printf("  --entry NAME           the entry point to call (default "
                "'%s')\n",
                model.entries[0].name.c_str());
  std::printf("  --input NAME=FILE.npy  an input (a bare FILE.npy when the "
              "model has one input)\n"
              "  --output FILE.npy      where to write the output (NAME=FILE "
              "for one of several);\n"
              "                         without it, a summary is printed\n"
              "  --calls N              call the model N times in a row with "
              "the same inputs\n"
              "                         (the state carries over); outputs are "
              "the last call's\n"
              "  --bench                time the model and print one summary "
              "line\n"
              "  --iterations N         timed runs for --bench (default 20)\n"
              "  --bench-tokens T       each timed run takes the next T rows "
              "of the inputs\n"
              "                         (cycling), so runs route "
              "differently; the inputs\n"
              "                         hold a multiple of T rows\n"
              "  --threads N            threads (default: the CPUs this "
              "process may use)\n");
  if (model.profiledLayers)
    std::printf("  --profile-out FILE     where to write the routing profile "
                "of this run\n"
                "                         (JSON, and FILE's .safetensors "
                "sidecar; default\n"
                "                         %s.profile.json)\n",
                model.name.c_str());
  for (const EntrySpec &entry : model.entries) {
    std::string heading = several ? "entry '" + entry.name + "' " : "";
    std::printf("\n%sinputs (T: any size from 0 to %lld):\n", heading.c_str(),
                (long long)model.maxTokens);
    for (const TensorSpec &input : userValues(entry.inputs))
      std::printf("  %s: %s %s\n", input.name.c_str(),
                  numpyName(input.dtype).c_str(),
                  describeShape(input.shape).c_str());
    std::printf("%soutputs:\n", heading.c_str());
    for (const TensorSpec &output : userValues(entry.outputs))
      std::printf("  %s: %s, rank %zu\n", output.name.c_str(),
                  numpyName(output.dtype).c_str(), output.shape.size());
  }
  if (!model.state.empty()) {
    std::printf("\nstate (zero at start, kept across calls):\n");
    for (const TensorSpec &state : model.state) {
      // The context-sized dimension prints as ctx.
      std::string shape = describeShape(state.shape);
      if (!state.shape.empty() && state.shape[0] < 0)
        shape = "[ctx" + shape.substr(2);
      std::printf("  %s: %s %s\n", state.name.c_str(),
                  numpyName(state.dtype).c_str(), shape.c_str());
    }
  }
  if (isTokenEntry(model.entries[0]) && hasTokenizer(model))
    printGenerateHelp(model);
  // The target's own flags (BinaryAbi.h).
  if (moec_target_flags_help)
    std::printf("\n%s", moec_target_flags_help);
  std::printf("\nexit status: 0 success, 1 bad input data or weights, 2 bad "
              "usage\n");
}

/// The index of the entry point --entry names (empty: the first).
size_t selectEntry(const Model &model, const std::string &name) {
  if (name.empty())
    return 0;
  std::string names;
  for (size_t i = 0; i < model.entries.size(); ++i) {
    if (model.entries[i].name == name)
      return i;
    names += (i ? ", " : "") + model.entries[i].name;
  }
  usageError("the model has no entry point '" + name + "' (it has " + names +
             ")");
}

Options parseOptions(int argc, char **argv, const Model &model) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    if (int last = parseGenerateOption(argc, argv, i, options.generate);
        last >= 0) {
      i = last;
      continue;
    }
    std::string arg = argv[i];
    // --iterations=N and --threads=N also work.
    std::string inlineValue;
    bool hasInlineValue = false;
    size_t eq = arg.find('=');
    if (eq != std::string::npos &&
        (arg.rfind("--iterations=", 0) == 0 || arg.rfind("--calls=", 0) == 0 ||
         arg.rfind("--tokens=", 0) == 0 || arg.rfind("--logits=", 0) == 0 ||
         arg.rfind("--chunk=", 0) == 0 || arg.rfind("--ctx-size=", 0) == 0 ||
         arg.rfind("--entry=", 0) == 0 ||
         arg.rfind("--bench-tokens=", 0) == 0 ||
         arg.rfind("--bench-prompt=", 0) == 0 ||
         arg.rfind("--bench-gen=", 0) == 0 ||
         arg.rfind("--bench-depth=", 0) == 0 ||
         arg.rfind("--threads=", 0) == 0)) {
      inlineValue = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      hasInlineValue = true;
    }
    auto value = [&]() -> std::string {
      if (hasInlineValue)
        return inlineValue;
      if (i + 1 >= argc)
        usageError(arg + " needs a value");
      return argv[++i];
    };
    auto number = [&](const std::string &text) {
      char *end;
      long v = std::strtol(text.c_str(), &end, 10);
      if (*end || v < 1 || v > 1000000)
        usageError(arg + " needs a positive integer, got '" + text + "'");
      return int(v);
    };
    if (arg == "--help" || arg == "-h") {
      printHelp(model, argv[0]);
      std::exit(0);
    } else if (arg == "--input" || arg == "--output") {
      std::string v = value();
      size_t eq = v.find('=');
      bool input = arg == "--input";
      if (eq == std::string::npos)
        (input ? options.bareInputs : options.bareOutputs).push_back(v);
      else
        (input ? options.inputs : options.outputs)[v.substr(0, eq)] =
            v.substr(eq + 1);
    } else if (arg == "--entry") {
      options.entry = selectEntry(model, value());
    } else if (arg == "--ctx-size") {
      if (!model.context)
        usageError("--ctx-size applies to a model with a KV cache (one "
                   "moec built from a checkpoint)");
      options.contextSize = number(value());
    } else if (arg == "--tokens") {
      options.tokenRun.tokensFile = value();
    } else if (arg == "--logits") {
      options.tokenRun.logitsFile = value();
    } else if (arg == "--chunk") {
      options.tokenRun.chunk = number(value());
    } else if (arg == "--last-logits") {
      options.tokenRun.lastOnly = true;
    } else if (arg == "--calls") {
      options.calls = number(value());
    } else if (arg == "--bench") {
      options.bench = true;
    } else if (arg == "--iterations") {
      options.iterations = number(value());
      options.iterationsGiven = true;
    } else if (arg == "--bench-prompt" || arg == "--bench-gen" ||
               arg == "--bench-depth") {
      std::string text = value();
      char *end;
      long v = std::strtol(text.c_str(), &end, 10);
      if (text.empty() || *end || v < 0 || v > (1 << 24))
        usageError(arg + " needs a count from 0 to 16777216, got '" + text +
                   "'");
      (arg == "--bench-prompt" ? options.tokenBench.prompt
       : arg == "--bench-gen"  ? options.tokenBench.generate
                               : options.tokenBench.depth) = v;
      options.tokenBenchGiven = true;
    } else if (arg == "--bench-tokens") {
      options.benchTokens = number(value());
    } else if (arg == "--profile-out") {
      if (!model.profiledLayers)
        usageError("--profile-out needs a binary built with moec "
                   "--profile-routing");
      options.profileOut = value();
    } else if (arg == "--threads") {
      options.threads = number(value());
      // More threads than 4x the CPUs only adds contention (and 100,000
      // exhausts memory); refuse instead of starting them.
      int limit = 4 * defaultThreadCount();
      if (options.threads > limit)
        usageError("--threads " + std::to_string(options.threads) +
                   " exceeds 4x the " + std::to_string(defaultThreadCount()) +
                   " CPUs this process may use (at most " +
                   std::to_string(limit) + ")");
    } else if (int took =
                   moec_target_flag
                       ? moec_target_flag(arg.c_str(),
                                          i + 1 < argc ? argv[i + 1] : nullptr)
                       : 0) {
      // A flag of the target's host code (BinaryAbi.h).
      i += took - 1;
    } else {
      usageError("unknown argument '" + arg + "'");
    }
  }
  const EntrySpec &entry = model.entries[options.entry];
  std::vector<TensorSpec> inputs = userValues(entry.inputs);
  std::vector<TensorSpec> outputs = userValues(entry.outputs);
  const TokenRunOptions &tokens = options.tokenRun;
  bool tokenBench = options.bench && isTokenEntry(entry) &&
                    options.inputs.empty() && options.bareInputs.empty();
  if (options.tokenBenchGiven && !tokenBench)
    usageError("--bench-prompt, --bench-gen and --bench-depth go with "
               "--bench on a decoder model (input 'tokens', output "
               "'logits'), without --input");
  if (tokenBench) {
    if (options.generate.requested || !tokens.tokensFile.empty() ||
        options.benchTokens || options.calls != 1)
      usageError("--bench of a decoder model runs on its own: not with "
                 "--prompt, --tokens, --bench-tokens or --calls");
    options.tokenBench.repetitions =
        options.iterationsGiven ? options.iterations : 3;
    return options;
  }
  if (options.generate.requested) {
    if (isTokenEntry(entry) && !kRuntimeHasTokenizer)
      usageError("--prompt and the other generation options need the "
                 "tokenizer, which the runtime of this architecture is built "
                 "without (docs/cross.md); this binary takes --tokens");
    if (!isTokenEntry(entry) || !hasTokenizer(model))
      usageError("--prompt and the other generation options need a model "
                 "moec built from a checkpoint with its tokenizer.json (this "
                 "one takes " +
                 std::string(isTokenEntry(entry) ? "--tokens" : "--input") +
                 ")");
    if (!tokens.tokensFile.empty() || !options.inputs.empty() ||
        !options.bareInputs.empty() || !options.outputs.empty() ||
        !options.bareOutputs.empty() || options.bench || options.calls != 1)
      usageError("--prompt runs the model on its own: not with --tokens, "
                 "--input, --output, --calls or --bench");
    return options;
  }
  bool tokenFlags =
      !tokens.logitsFile.empty() || tokens.chunk || tokens.lastOnly;
  if (!tokens.tokensFile.empty() || tokenFlags) {
    if (!isTokenEntry(entry))
      usageError("--tokens, --logits, --chunk and --last-logits apply to a "
                 "decoder model (input 'tokens', output 'logits')");
    if (tokens.tokensFile.empty())
      usageError("--logits, --chunk and --last-logits need --tokens");
    if (!options.inputs.empty() || !options.bareInputs.empty() ||
        !options.outputs.empty() || !options.bareOutputs.empty() ||
        options.bench || options.calls != 1)
      usageError("--tokens runs the model on its own: not with --input, "
                 "--output, --calls or --bench");
    return options;
  }
  // Bare files are allowed only where the model has exactly one tensor.
  auto resolve = [&](std::vector<std::string> &bare,
                     std::map<std::string, std::string> &named,
                     const std::vector<TensorSpec> &specs, const char *what) {
    if (bare.empty())
      return;
    if (bare.size() > 1 || specs.size() != 1 || !named.empty())
      usageError(std::string("the model has ") + std::to_string(specs.size()) +
                 " " + what + "s: name each one as NAME=FILE.npy");
    named[specs[0].name] = bare[0];
  };
  resolve(options.bareInputs, options.inputs, inputs, "input");
  resolve(options.bareOutputs, options.outputs, outputs, "output");
  auto checkNames = [](const std::map<std::string, std::string> &named,
                       const std::vector<TensorSpec> &specs, const char *what) {
    for (const auto &entry : named)
      if (std::none_of(specs.begin(), specs.end(), [&](const TensorSpec &s) {
            return s.name == entry.first;
          }))
        usageError(std::string("the model has no ") + what + " '" +
                   entry.first + "'");
  };
  checkNames(options.inputs, inputs, "input");
  checkNames(options.outputs, outputs, "output");
  if (options.benchTokens && !options.bench)
    usageError("--bench-tokens needs --bench");
  if (options.benchTokens > model.maxTokens)
    usageError("--bench-tokens " + std::to_string(options.benchTokens) +
               " is above the model's maximum of " +
               std::to_string(model.maxTokens) + " tokens");
  for (const TensorSpec &input : inputs)
    if (!options.inputs.count(input.name))
      usageError("missing --input " + input.name + "=FILE.npy");
  return options;
}

/// Checks an input array against the model's declaration.
void checkInput(const TensorSpec &spec, const NpyArray &array,
                const std::vector<int64_t> &shape, int64_t maxTokens,
                const std::string &file) {
  if (array.dtype != spec.dtype)
    dataError("input '" + spec.name + "' (" + file + ") is " +
              numpyName(array.dtype) + ", the model needs " +
              numpyName(spec.dtype));
  bool fits = shape.size() == spec.shape.size();
  for (size_t i = 0; fits && i < spec.shape.size(); ++i)
    fits =
        spec.shape[i] < 0 ? shape[i] <= maxTokens : shape[i] == spec.shape[i];
  if (!fits)
    dataError("input '" + spec.name + "' (" + file + ") has shape " +
              describeShape(shape) + ", the model needs " +
              describeShape(spec.shape) +
              " with T <= " + std::to_string(maxTokens));
}

/// Writes the routing profile the first run recorded; timed runs record
/// nothing.
void writeProfile(const Model &model, const Options &options) {
  setProfileRecording(false);
  std::string error = profileRecordingError();
  RoutingProfile &profile = recordedProfile();
  profile.model = model.name;
  if (error.empty() && int64_t(profile.layers.size()) != model.profiledLayers)
    error = "recorded " + std::to_string(profile.layers.size()) +
            " MoE layers, the model has " +
            std::to_string(model.profiledLayers);
  std::string path = options.profileOut.empty() ? model.name + ".profile.json"
                                                : options.profileOut;
  if (error.empty() && writeRoutingProfile(profile, path, error)) {
    std::fprintf(stderr, "routing profile: %s (%lld MoE layers)\n",
                 path.c_str(), (long long)profile.layers.size());
    return;
  }
  dataError("routing profile: " + error);
}

std::string executableDirectory(const char *argv0) {
  char path[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  std::string exe = n > 0 ? std::string(path, n) : std::string(argv0);
  size_t slash = exe.rfind('/');
  return slash == std::string::npos ? "." : exe.substr(0, slash);
}

void printSummary(const TensorSpec &spec, const Result &r) {
  std::printf("%s: %s %s", spec.name.c_str(), numpyName(r.dtype).c_str(),
              describeShape(r.shape).c_str());
  if (r.dtype == DType::F32 && r.bytes) {
    const float *v = reinterpret_cast<const float *>(r.data);
    size_t n = r.bytes / 4;
    double sum = 0, lo = v[0], hi = v[0];
    for (size_t i = 0; i < n; ++i) {
      sum += v[i];
      lo = std::min<double>(lo, v[i]);
      hi = std::max<double>(hi, v[i]);
    }
    std::printf(" min %.6g max %.6g mean %.6g first [", lo, hi, sum / n);
    for (size_t i = 0; i < std::min<size_t>(n, 4); ++i)
      std::printf("%s%.6g", i ? ", " : "", v[i]);
    std::printf("%s]", n > 4 ? ", ..." : "");
  }
  std::printf("\n");
}
} // namespace

/// A mapped weights file truncated while the model reads it raises SIGBUS:
/// say so instead of dying silently (write(2) and _Exit are
/// async-signal-safe).
static void onBusError(int) {
  static const char message[] =
      "error: a mapped file (the weights) became shorter while the model "
      "read it (SIGBUS)\n";
  ssize_t ignored = ::write(2, message, sizeof(message) - 1);
  (void)ignored;
  std::_Exit(1);
}

int main(int argc, char **argv) {
  struct sigaction busAction = {};
  busAction.sa_handler = onBusError;
  sigaction(SIGBUS, &busAction, nullptr);
  Model model;
  std::string error;
  if (!parseManifest(std::string(moec_manifest, size_t(moec_manifest_size)),
                     model, error) ||
      !bindEmbeddedFiles(model, moec_weights, size_t(moec_weights_size), error))
    dataError(error);
  Options options = parseOptions(argc, argv, model);
  if (model.context)
    resolveContext(model,
                   options.contextSize ? options.contextSize : model.context);
  size_t entryIndex = options.entry;
  const EntrySpec &entry = model.entries[entryIndex];
  std::vector<TensorSpec> inputs = userValues(entry.inputs);
  if (moec_entry_count != int64_t(model.entries.size()))
    dataError("the manifest lists " + std::to_string(model.entries.size()) +
              " entry points, the code has " +
              std::to_string(moec_entry_count));
  int threads = options.threads ? options.threads : defaultThreadCount();
  // The model allocates its intermediate buffers afresh on every run. Keep
  // freed memory in the heap instead of returning large blocks to the
  // kernel, which would fault in and zero them again on the next run.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  startThreadPool(threads);
  if (!bindWeights(model, moec_weights, size_t(moec_weights_size),
                   executableDirectory(argv[0]), error))
    dataError(error);

  std::vector<std::pair<const void *, size_t>> owned;
  std::vector<Descriptor> weights;
  for (const WeightSpec &w : model.weights) {
    weights.push_back(Descriptor::make(w.data, w.tensor.shape));
    owned.push_back({w.data, w.bytes});
  }

  StateBuffers state(model);
  for (auto range : state.ranges())
    owned.push_back(range);
  if (options.bench && isTokenEntry(entry) && options.inputs.empty()) {
    options.tokenBench.threads = threads;
    runTokenBench(model, entryIndex,
                  options.contextSize ? options.contextSize : model.context,
                  options.tokenBench, weights, state, owned);
    stopThreadPool();
    return 0;
  }
  if (options.generate.requested) {
    generate(model, entryIndex,
             options.contextSize ? options.contextSize : model.context,
             options.generate, weights, state, owned);
    stopThreadPool();
    return 0;
  }
  if (!options.tokenRun.tokensFile.empty()) {
    runTokens(model, entryIndex, options.tokenRun, weights, state, owned);
    stopThreadPool();
    return 0;
  }

  // With --bench-tokens, inputs whose first dimension is dynamic are cut
  // into windows of that many rows: window w of input i is windows[w][i].
  std::vector<NpyArray> arrays(inputs.size());
  std::vector<std::vector<Descriptor>> windows(1);
  int64_t tokens = 1;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorSpec &spec = inputs[i];
    const std::string &file = options.inputs[spec.name];
    if (!readNpy(file, arrays[i], error))
      dataError("input '" + spec.name + "': " + error);
    std::vector<int64_t> shape = arrays[i].shape;
    int64_t count = 1;
    if (options.benchTokens && !shape.empty() && spec.shape[0] < 0) {
      if (shape[0] == 0 || shape[0] % options.benchTokens)
        dataError("input '" + spec.name + "' (" + file + ") has " +
                  std::to_string(shape[0]) + " rows, not a multiple of " +
                  "--bench-tokens " + std::to_string(options.benchTokens));
      count = shape[0] / options.benchTokens;
      shape[0] = options.benchTokens;
    }
    checkInput(spec, arrays[i], shape, model.maxTokens, file);
    if (i == 0)
      for (size_t d = 0; d < spec.shape.size(); ++d)
        if (spec.shape[d] < 0)
          tokens *= shape[d];
    if (int64_t(windows.size()) < count)
      windows.resize(count, windows.front());
    size_t windowBytes =
        size_t(numElements(shape)) * dtypeSize(arrays[i].dtype);
    for (size_t w = 0; w < windows.size(); ++w)
      windows[w].push_back(Descriptor::make(
          arrays[i].buffer.data.get() + (w % count) * windowBytes, shape));
    owned.push_back({arrays[i].buffer.data.get(), arrays[i].buffer.size});
  }
  std::vector<Result> results;
  for (int call = 0; call < options.calls; ++call) {
    releaseResults(results, owned);
    results = callEntry(model, entryIndex, windows[0], weights, state);
  }
  if (model.profiledLayers)
    writeProfile(model, options);
  for (size_t i = 0; i < entry.outputs.size(); ++i) {
    const TensorSpec &spec = entry.outputs[i];
    if (!spec.state.empty())
      continue;
    auto named = options.outputs.find(spec.name);
    if (named != options.outputs.end()) {
      if (!writeNpy(named->second, results[i].dtype, results[i].shape,
                    results[i].data, results[i].bytes, error))
        dataError(error);
    } else if (!options.bench) {
      printSummary(spec, results[i]);
    }
  }
  releaseResults(results, owned);

  if (options.bench) {
    std::vector<double> ms;
    for (int i = 0; i < options.iterations; ++i) {
      auto start = std::chrono::steady_clock::now();
      std::vector<Result> timed = callEntry(
          model, entryIndex, windows[(i + 1) % windows.size()], weights, state);
      auto stop = std::chrono::steady_clock::now();
      releaseResults(timed, owned);
      ms.push_back(
          std::chrono::duration<double, std::milli>(stop - start).count());
    }
    std::sort(ms.begin(), ms.end());
    double median = ms[ms.size() / 2];
    // Bytes of weights one run reads at most: every dense weight, and of
    // each expert stack the share the tokens can route to.
    double bytes = 0;
    for (size_t index : entry.weights) {
      const WeightSpec &w = model.weights[index];
      bytes += double(w.bytes) * std::min(1.0, w.routedFraction * tokens);
    }
    std::printf("bench: model=%s tokens=%lld windows=%zu threads=%d "
                "iterations=%d latency_ms=%.4f min_ms=%.4f tokens_per_s=%.1f "
                "weight_gb_per_s=%.3f\n",
                model.name.c_str(), (long long)tokens, windows.size(), threads,
                options.iterations, median, ms.front(),
                tokens / (median / 1000.0), bytes / (median / 1000.0) / 1e9);
  }
  stopThreadPool();
  return 0;
}
