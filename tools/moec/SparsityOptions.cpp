//===- SparsityOptions.cpp - moec's expert-sparsity flags -----------------===//
//
//   --prune-experts=PROFILE:keep=N | threshold=X | budget=F [,metric=saliency]
//                   (saliency=X and frequency=X pick metric and threshold)
//   --skip-experts=beta=B | PROFILE[:fraction=F]
//   --merge-experts=PROFILE:keep=N | similarity=S
//   --reduce-topk=K, --static-capacity=CF
//
//===----------------------------------------------------------------------===//

#include "tools/moec/SparsityOptions.h"

#include "passes/Sparsity/Passes.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringRef.h"

using namespace moec;
using llvm::StringRef;

namespace {
/// PROFILE[:key=value,...] split into the profile and its settings.
struct Spec {
  std::string profile;
  llvm::SmallVector<std::pair<StringRef, StringRef>> settings;
};
} // namespace

static Spec parseSpec(StringRef text) {
  Spec spec;
  size_t colon = text.rfind(':');
  StringRef rest;
  if (colon != StringRef::npos && text.substr(colon + 1).contains('=')) {
    spec.profile = text.substr(0, colon).str();
    rest = text.substr(colon + 1);
  } else if (text.contains('=') && !text.contains('/') &&
             !text.ends_with(".json")) {
    rest = text;
  } else {
    spec.profile = text.str();
  }
  llvm::SmallVector<StringRef> parts;
  rest.split(parts, ',', -1, /*KeepEmpty=*/false);
  for (StringRef part : parts)
    spec.settings.push_back(part.split('='));
  return spec;
}

static bool toDouble(StringRef text, double &out) {
  return !text.empty() && !text.getAsDouble(out);
}

static std::string bad(StringRef flag, StringRef text, StringRef expected) {
  return ("--" + flag + "=" + text + ": " + expected).str();
}

static std::string planPrune(StringRef text, bool report, SparsityPlan &plan) {
  const char *expected =
      "expected PROFILE:keep=N, PROFILE:threshold=X, PROFILE:budget=F or "
      "PROFILE:saliency=X (add ,metric=saliency to rank by REAP saliency)";
  Spec spec = parseSpec(text);
  MoePruneExpertsOptions options;
  options.profile = spec.profile;
  options.report = report;
  for (auto [key, value] : spec.settings) {
    bool ok = true;
    if (key == "keep")
      ok = !value.getAsInteger(10, options.keep) && options.keep > 0;
    else if (key == "threshold")
      ok = toDouble(value, options.threshold);
    else if (key == "budget")
      ok = toDouble(value, options.budget);
    else if (key == "metric")
      options.metric = value.str();
    else if (key == "saliency" || key == "frequency") {
      options.metric = key.str();
      ok = toDouble(value, options.threshold);
    } else
      ok = false;
    if (!ok)
      return bad("prune-experts", text, expected);
  }
  if (options.profile.empty() || spec.settings.empty())
    return bad("prune-experts", text, expected);
  plan.prune = options;
  return "";
}

static std::string planSkip(StringRef text, bool report, SparsityPlan &plan) {
  const char *expected = "expected beta=B or PROFILE[:fraction=F]";
  Spec spec = parseSpec(text);
  MoeSkipExpertsOptions options;
  options.profile = spec.profile;
  options.report = report;
  for (auto [key, value] : spec.settings) {
    bool ok = key == "beta"       ? toDouble(value, options.beta)
              : key == "fraction" ? toDouble(value, options.skipFraction)
                                  : false;
    if (!ok)
      return bad("skip-experts", text, expected);
  }
  if (options.profile.empty() == (options.beta < 0))
    return bad("skip-experts", text, expected);
  plan.skip = options;
  return "";
}

static std::string planMerge(StringRef text, bool report, SparsityPlan &plan) {
  const char *expected = "expected PROFILE:keep=N or PROFILE:similarity=S";
  Spec spec = parseSpec(text);
  MoeMergeExpertsOptions options;
  options.profile = spec.profile;
  options.report = report;
  for (auto [key, value] : spec.settings) {
    bool ok = key == "keep"         ? !value.getAsInteger(10, options.keep)
              : key == "similarity" ? toDouble(value, options.similarity)
                                    : false;
    if (!ok)
      return bad("merge-experts", text, expected);
  }
  if (options.profile.empty() || spec.settings.size() != 1)
    return bad("merge-experts", text, expected);
  plan.merge = options;
  return "";
}

std::string moec::planSparsity(const SparsityFlags &flags, SparsityPlan &plan) {
  if (flags.reduceTopK < 0 || flags.staticCapacity < 0)
    return "--reduce-topk and --static-capacity must be positive";
  if (flags.reduceTopK > 0)
    plan.reduceTopK = MoeReduceTopKOptions{flags.reduceTopK, flags.report};
  if (flags.staticCapacity > 0)
    plan.staticCapacity =
        MoeStaticCapacityOptions{flags.staticCapacity, flags.report};
  std::string error;
  if (!flags.pruneExperts.empty() &&
      !(error = planPrune(flags.pruneExperts, flags.report, plan)).empty())
    return error;
  if (!flags.mergeExperts.empty() &&
      !(error = planMerge(flags.mergeExperts, flags.report, plan)).empty())
    return error;
  if (!flags.skipExperts.empty() &&
      !(error = planSkip(flags.skipExperts, flags.report, plan)).empty())
    return error;
  return "";
}

void moec::addSparsityPasses(mlir::PassManager &pm, const SparsityPlan &plan) {
  if (plan.reduceTopK)
    pm.addPass(createMoeReduceTopK(*plan.reduceTopK));
  if (plan.prune)
    pm.addPass(createMoePruneExperts(*plan.prune));
  if (plan.merge)
    pm.addPass(createMoeMergeExperts(*plan.merge));
  if (plan.skip)
    pm.addPass(createMoeSkipExperts(*plan.skip));
  if (plan.staticCapacity)
    pm.addPass(createMoeStaticCapacity(*plan.staticCapacity));
}
