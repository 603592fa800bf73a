//===- ProfileCommand.cpp - `moec profile merge|show` ---------------------===//
//
// Routing profiles of several calibration runs add up: `merge` sums them
// into one (the sidecar's means weighted by routed tokens); `show` prints
// what a profile says about each layer.
//
//===----------------------------------------------------------------------===//

#include "tools/moec/ProfileCommand.h"

#include "runtime/formats/RoutingProfile.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <numeric>
#include <string>
#include <vector>

using namespace moec;

static constexpr const char kUsage[] =
    "usage: moec profile merge PROFILE.json... -o OUT.json\n"
    "       moec profile show PROFILE.json\n\n"
    "Routing profiles come from a binary built with `moec --profile-routing`\n"
    "and run with --profile-out; each has a .safetensors sidecar.\n";

static int fail(const std::string &message) {
  llvm::errs() << "moec profile: error: " << message << "\n";
  return 1;
}

static int merge(const std::vector<std::string> &inputs,
                 const std::string &output) {
  rt::RoutingProfile merged;
  for (auto [i, path] : llvm::enumerate(inputs)) {
    rt::RoutingProfile profile;
    std::string error;
    if (!rt::readRoutingProfile(path, profile, error))
      return fail(error);
    if (i == 0) {
      merged = std::move(profile);
      continue;
    }
    if (!rt::mergeRoutingProfiles(merged, profile, error))
      return fail("cannot merge '" + path + "': " + error);
    if (merged.model != profile.model)
      merged.model += "+" + profile.model;
  }
  std::string error;
  if (!rt::writeRoutingProfile(merged, output, error))
    return fail(error);
  int64_t tokens = merged.layers.empty() ? 0 : merged.layers[0].tokens;
  llvm::errs() << "moec profile: merged " << inputs.size() << " profiles ("
               << tokens << " tokens) into " << output << "\n";
  return 0;
}

static int show(const std::string &path) {
  rt::RoutingProfile profile;
  std::string error;
  if (!rt::readRoutingProfile(path, profile, error))
    return fail(error);
  llvm::outs() << "model " << profile.model << ", " << profile.layers.size()
               << " MoE layers\n";
  for (auto [l, layer] : llvm::enumerate(profile.layers)) {
    std::vector<int64_t> order(layer.experts);
    std::iota(order.begin(), order.end(), 0);
    llvm::stable_sort(order, [&](int64_t a, int64_t b) {
      return layer.routed[a] > layer.routed[b];
    });
    int64_t unused = llvm::count(layer.routed, 0);
    llvm::outs() << "layer " << l << ": " << layer.experts << " experts, top_k "
                 << layer.topK << ", " << layer.tokens << " tokens, " << unused
                 << " experts unused; most routed:";
    for (int64_t e : llvm::ArrayRef(order).take_front(4))
      llvm::outs() << " " << e << " ("
                   << llvm::format("%.1f%%", 100.0 * double(layer.routed[e]) /
                                                 double(std::max<int64_t>(
                                                     layer.tokens, 1)))
                   << ")";
    for (int64_t r = 1; r < layer.topK; ++r) {
      int64_t count = 0;
      for (int64_t b = 0; b < rt::kRatioBins; ++b)
        count += layer.ratioHistogram[(r - 1) * rt::kRatioBins + b];
      if (count)
        llvm::outs() << llvm::format("; w%lld/w1 mean %.3f", (long long)r + 1,
                                     layer.ratioSum[r - 1] / double(count));
    }
    llvm::outs() << "\n";
  }
  return 0;
}

int moec::runProfileCommand(int argc, char **argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    llvm::outs() << kUsage;
    return args.empty() ? 2 : 0;
  }
  std::string command = args[0];
  std::vector<std::string> inputs;
  std::string output;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "-o") {
      if (i + 1 == args.size())
        return fail("-o needs a file");
      output = args[++i];
    } else if (!args[i].empty() && args[i][0] == '-') {
      return fail("unknown option '" + args[i] + "'\n" + kUsage);
    } else {
      inputs.push_back(args[i]);
    }
  }
  if (command == "merge") {
    if (inputs.empty() || output.empty())
      return fail(std::string("merge needs profiles and -o OUT\n") + kUsage);
    return merge(inputs, output);
  }
  if (command == "show") {
    if (inputs.size() != 1 || !output.empty())
      return fail(std::string("show takes one profile\n") + kUsage);
    return show(inputs[0]);
  }
  return fail("unknown command '" + command + "'\n" + kUsage);
}
