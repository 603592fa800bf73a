//===- DecoderConfig.cpp - config.json into a DecoderConfig ---------------===//
//
// One function per concern (shapes, rotary embedding, attention, which
// layers are MoE and how they route), each reading the keys the Hugging
// Face configuration class of the family defines, with its defaults.
//
//===----------------------------------------------------------------------===//

#include "moec/Frontend/DecoderConfig.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/JSON.h"

#include <cmath>
#include <functional>

using namespace moec;
using llvm::json::Object;
using llvm::json::Value;

llvm::StringRef moec::getModelType(DecoderFamily family) {
  switch (family) {
  case DecoderFamily::Llama:
    return "llama";
  case DecoderFamily::Qwen2:
    return "qwen2";
  case DecoderFamily::Qwen3:
    return "qwen3";
  case DecoderFamily::Mixtral:
    return "mixtral";
  case DecoderFamily::Qwen2Moe:
    return "qwen2_moe";
  case DecoderFamily::Qwen3Moe:
    return "qwen3_moe";
  case DecoderFamily::Olmoe:
    return "olmoe";
  case DecoderFamily::DeepseekV2:
    return "deepseek_v2";
  case DecoderFamily::DeepseekV3:
    return "deepseek_v3";
  case DecoderFamily::GptOss:
    return "gpt_oss";
  }
  return "";
}

static constexpr int64_t kMaxSize = int64_t(1) << 24;
static constexpr int64_t kMaxLayers = 1024;
static constexpr int64_t kMaxExperts = 1024;

namespace {
/// Reads typed keys of one JSON object; the first problem is kept and the
/// readers return their default after it, so that parsing stays linear.
class Reader {
public:
  Reader(const Object &object, llvm::StringRef source, llvm::StringRef prefix)
      : object(object), source(source.str()), prefix(prefix.str()) {}

  bool has(llvm::StringRef key) const {
    const Value *v = object.get(key);
    return v && v->kind() != Value::Null;
  }
  const Value *get(llvm::StringRef key) const {
    const Value *v = object.get(key);
    return v && v->kind() != Value::Null ? v : nullptr;
  }

  void fail(llvm::StringRef key, const llvm::Twine &message) {
    if (!problem)
      problem = source + ": '" + prefix + key.str() + "' " + message.str();
  }
  void failModel(const llvm::Twine &message) {
    if (!problem)
      problem = source + ": " + message.str();
  }

  /// A positive integer (or, with allowZero, a non-negative one).
  int64_t integer(llvm::StringRef key, std::optional<int64_t> fallback,
                  bool allowZero = false) {
    const Value *v = get(key);
    if (!v) {
      if (!fallback)
        fail(key, "is required");
      return fallback.value_or(0);
    }
    std::optional<int64_t> n = v->getAsInteger();
    if (!n) {
      fail(key, "must be an integer");
      return fallback.value_or(0);
    }
    if (*n < 0 || (*n == 0 && !allowZero)) {
      fail(key, "must be " +
                    llvm::Twine(allowZero ? "non-negative" : "positive") +
                    ", not " + llvm::Twine(*n));
      return fallback.value_or(0);
    }
    // Sizes multiply into shapes and byte counts: keep them far from
    // overflow; layers and experts also count tensors.
    int64_t limit = key == "num_hidden_layers" ? kMaxLayers
                    : key.contains("experts")  ? kMaxExperts
                                               : kMaxSize;
    if (*n > limit) {
      fail(key, "is " + llvm::Twine(*n) + ", more than moec accepts (" +
                    llvm::Twine(limit) + ")");
      return fallback.value_or(0);
    }
    return *n;
  }
  double number(llvm::StringRef key, std::optional<double> fallback) {
    const Value *v = get(key);
    if (!v) {
      if (!fallback)
        fail(key, "is required");
      return fallback.value_or(0.0);
    }
    std::optional<double> x = v->getAsNumber();
    if (!x || !std::isfinite(*x)) {
      fail(key, "must be a finite number");
      return fallback.value_or(0.0);
    }
    return *x;
  }
  double positive(llvm::StringRef key, std::optional<double> fallback) {
    double x = number(key, fallback);
    if (!(x > 0.0))
      fail(key, "must be positive, not " + std::to_string(x));
    return x;
  }
  bool boolean(llvm::StringRef key, bool fallback) {
    const Value *v = get(key);
    if (!v)
      return fallback;
    std::optional<bool> b = v->getAsBoolean();
    if (!b) {
      fail(key, "must be true or false");
      return fallback;
    }
    return *b;
  }
  std::string string(llvm::StringRef key, llvm::StringRef fallback) {
    const Value *v = get(key);
    if (!v)
      return fallback.str();
    std::optional<llvm::StringRef> s = v->getAsString();
    if (!s) {
      fail(key, "must be a string");
      return fallback.str();
    }
    return s->str();
  }
  /// A key this family reads but moec only implements with value `value`.
  void require(llvm::StringRef key, bool actual, bool expected,
               llvm::StringRef meaning) {
    if (actual != expected)
      fail(key, "is " + llvm::Twine(actual ? "true" : "false") +
                    ": moec does not implement " + meaning);
  }

  const Object &object;
  std::string source;
  std::string prefix;
  std::optional<std::string> problem;
};
} // namespace

static std::optional<DecoderFamily> familyOf(llvm::StringRef modelType) {
  return llvm::StringSwitch<std::optional<DecoderFamily>>(modelType)
      .Case("llama", DecoderFamily::Llama)
      .Case("qwen2", DecoderFamily::Qwen2)
      .Case("qwen3", DecoderFamily::Qwen3)
      .Case("mixtral", DecoderFamily::Mixtral)
      .Case("qwen2_moe", DecoderFamily::Qwen2Moe)
      .Case("qwen3_moe", DecoderFamily::Qwen3Moe)
      .Case("olmoe", DecoderFamily::Olmoe)
      .Case("deepseek_v2", DecoderFamily::DeepseekV2)
      .Case("deepseek_v3", DecoderFamily::DeepseekV3)
      .Case("gpt_oss", DecoderFamily::GptOss)
      .Default(std::nullopt);
}

static bool isDeepseek(DecoderFamily f) {
  return f == DecoderFamily::DeepseekV2 || f == DecoderFamily::DeepseekV3;
}

/// Keys that change the computation of some Hugging Face model and that
/// moec does not implement, wherever they appear with a non-default value.
static void rejectUnsupported(Reader &r) {
  if (r.has("quantization_config"))
    r.fail("quantization_config",
           "is set: quantized checkpoints are not supported yet");
  std::string act = r.string("hidden_act", "silu");
  if (act != "silu")
    r.fail("hidden_act", "is '" + act + "': moec implements 'silu'");
  if (r.has("partial_rotary_factor") &&
      r.number("partial_rotary_factor", 1.0) != 1.0)
    r.fail("partial_rotary_factor",
           "is not 1: moec does not implement partial rotary embeddings");
  r.require("mlp_bias", r.boolean("mlp_bias", false), false,
            "biases in the MLP");
  for (llvm::StringRef key :
       {"attn_logit_softcapping", "final_logit_softcapping", "logits_scaling",
        "embedding_multiplier", "residual_multiplier", "attention_multiplier"})
    if (r.has(key))
      r.fail(key, "is set: moec does not implement it");
}

static void readShapes(Reader &r, DecoderConfig &c) {
  DecoderFamily f = c.family;
  c.hidden = r.integer("hidden_size", std::nullopt);
  c.vocab = r.integer("vocab_size", std::nullopt);
  int64_t layers = r.integer("num_hidden_layers", std::nullopt);
  c.layers.assign(layers, DecoderLayerConfig());
  c.maxPositions = r.integer("max_position_embeddings", std::nullopt);
  bool expertSized = f == DecoderFamily::Mixtral || f == DecoderFamily::Olmoe ||
                     f == DecoderFamily::GptOss;
  if (!expertSized)
    c.intermediate = r.integer("intermediate_size", std::nullopt);
  double defaultEps = f == DecoderFamily::Mixtral ||
                              f == DecoderFamily::Olmoe ||
                              f == DecoderFamily::GptOss
                          ? 1e-5
                          : 1e-6;
  c.rmsNormEps = r.positive("rms_norm_eps", defaultEps);
  c.tieWordEmbeddings = r.boolean("tie_word_embeddings", false);
  c.dtype = r.string("torch_dtype", r.string("dtype", "float32"));
}

/// g(f, m) of HF's yarn_get_mscale.
static double yarnMscale(double factor, double mscale) {
  return factor <= 1.0 ? 1.0 : 0.1 * mscale * std::log(factor) + 1.0;
}

/// rope_theta and rope_scaling (v4), or rope_parameters (v5).
static void readRope(Reader &r, DecoderConfig &c) {
  DecoderFamily f = c.family;
  double defaultTheta = f == DecoderFamily::Mixtral  ? 1e6
                        : f == DecoderFamily::GptOss ? 150000.0
                                                     : 10000.0;
  RopeConfig &rope = c.rope;
  const Object *scaling = nullptr;
  std::string key = "rope_scaling";
  if (const Value *params = r.get("rope_parameters")) {
    scaling = params->getAsObject();
    key = "rope_parameters";
    if (!scaling)
      return r.fail(key, "must be an object");
  } else if (const Value *v = r.get("rope_scaling")) {
    scaling = v->getAsObject();
    if (!scaling)
      return r.fail(key, "must be an object or null");
  }
  rope.theta = r.positive("rope_theta", defaultTheta);
  if (!scaling)
    return;
  Reader s(*scaling, r.source, key + ".");
  if (key == "rope_parameters")
    rope.theta = s.positive("rope_theta", rope.theta);
  std::string type = s.string("rope_type", s.string("type", "default"));
  if (type == "default") {
    rope.scaling = RopeConfig::Scaling::None;
  } else if (type == "linear") {
    rope.scaling = RopeConfig::Scaling::Linear;
    rope.factor = s.positive("factor", std::nullopt);
  } else if (type == "llama3") {
    rope.scaling = RopeConfig::Scaling::Llama3;
    rope.factor = s.positive("factor", std::nullopt);
    rope.lowFreqFactor = s.positive("low_freq_factor", std::nullopt);
    rope.highFreqFactor = s.positive("high_freq_factor", std::nullopt);
    rope.originalMaxPositions =
        s.integer("original_max_position_embeddings", std::nullopt);
    if (rope.highFreqFactor <= rope.lowFreqFactor)
      s.fail("high_freq_factor", "must exceed low_freq_factor");
  } else if (type == "yarn") {
    rope.scaling = RopeConfig::Scaling::Yarn;
    rope.factor = s.positive("factor", std::nullopt);
    rope.originalMaxPositions =
        s.integer("original_max_position_embeddings", c.maxPositions);
    // transformers releases disagree on whether factor or
    // max_position_embeddings / original_max_position_embeddings is used:
    // refuse a config where the two differ.
    if (s.has("original_max_position_embeddings") &&
        std::abs(rope.factor * rope.originalMaxPositions - c.maxPositions) >
            0.5)
      s.fail("factor", "times original_max_position_embeddings is not "
                       "max_position_embeddings; transformers versions "
                       "disagree on which of them yarn uses");
    rope.betaFast = s.positive("beta_fast", 32.0);
    rope.betaSlow = s.positive("beta_slow", 1.0);
    rope.truncate = s.boolean("truncate", true);
    if (s.has("attention_factor"))
      rope.attentionFactor = s.positive("attention_factor", std::nullopt);
    else if (s.has("mscale") && s.has("mscale_all_dim"))
      rope.attentionFactor =
          yarnMscale(rope.factor, s.number("mscale", std::nullopt)) /
          yarnMscale(rope.factor, s.number("mscale_all_dim", std::nullopt));
    else
      rope.attentionFactor = yarnMscale(rope.factor, 1.0);
  } else {
    s.fail(s.has("rope_type") ? "rope_type" : "type",
           "is '" + type +
               "': moec implements default, linear, llama3 and yarn");
  }
  if (s.problem)
    r.problem = s.problem;
}

static void readAttention(Reader &r, DecoderConfig &c) {
  DecoderFamily f = c.family;
  AttentionConfig &a = c.attention;
  a.heads = r.integer("num_attention_heads", std::nullopt);
  a.kvHeads = r.integer("num_key_value_heads", a.heads);
  if (isDeepseek(f)) {
    a.mla = true;
    a.kvHeads = a.heads; // MLA ignores num_key_value_heads.
    if (r.has("q_lora_rank"))
      a.qLoraRank = r.integer("q_lora_rank", std::nullopt);
    a.kvLoraRank = r.integer("kv_lora_rank", std::nullopt);
    a.qkNopeHeadDim = r.integer("qk_nope_head_dim", std::nullopt);
    a.qkRopeHeadDim = r.integer("qk_rope_head_dim", std::nullopt);
    a.headDim = a.qkNopeHeadDim + a.qkRopeHeadDim;
    a.valueHeadDim = r.integer("v_head_dim", std::nullopt);
    r.require("attention_bias", r.boolean("attention_bias", false), false,
              "biases in DeepSeek's attention");
    c.rope.rotaryDim = a.qkRopeHeadDim;
    // V3 de-interleaves then rotates halves (rope_interleave, default
    // true), V2 rotates adjacent pairs: both are the interleaved rotation.
    if (f == DecoderFamily::DeepseekV3)
      r.require("rope_interleave", r.boolean("rope_interleave", true), true,
                "DeepSeek-V3 without rope_interleave");
    c.rope.interleaved = true;
    a.scale = 1.0 / std::sqrt(double(a.headDim));
    if (c.rope.scaling == RopeConfig::Scaling::Yarn) {
      const Value *params = r.get("rope_scaling") ? r.get("rope_scaling")
                                                  : r.get("rope_parameters");
      const Object *o = params ? params->getAsObject() : nullptr;
      double allDim = 0.0;
      if (o)
        allDim = o->getNumber("mscale_all_dim").value_or(0.0);
      if (allDim != 0.0) {
        double m = yarnMscale(c.rope.factor, allDim);
        a.scale *= m * m;
      }
    }
  } else {
    int64_t fallbackHeadDim =
        f == DecoderFamily::Qwen3 || f == DecoderFamily::Qwen3Moe ? 128
        : f == DecoderFamily::GptOss                              ? 64
        : a.heads ? c.hidden / a.heads
                  : 0;
    a.headDim = r.integer("head_dim", fallbackHeadDim);
    a.valueHeadDim = a.headDim;
    if (!r.has("head_dim") && a.heads && c.hidden % a.heads != 0)
      r.fail("hidden_size", "is not a multiple of num_attention_heads and "
                            "head_dim is not given");
    switch (f) {
    case DecoderFamily::Qwen2:
      a.qkvBias = true;
      break;
    case DecoderFamily::Qwen2Moe:
      a.qkvBias = r.boolean("qkv_bias", true);
      break;
    case DecoderFamily::GptOss:
      a.qkvBias = a.outputBias = r.boolean("attention_bias", true);
      a.sinks = true;
      break;
    case DecoderFamily::Mixtral:
      break;
    default:
      a.qkvBias = a.outputBias = r.boolean("attention_bias", false);
      break;
    }
    if (f == DecoderFamily::Qwen3 || f == DecoderFamily::Qwen3Moe)
      a.qkNorm = QkNorm::PerHead;
    if (f == DecoderFamily::Olmoe) {
      a.qkNorm = QkNorm::WholeProjection;
      if (r.has("clip_qkv"))
        a.clipQkv = r.positive("clip_qkv", std::nullopt);
    }
    c.rope.rotaryDim = a.headDim;
    a.scale = 1.0 / std::sqrt(double(a.headDim));
  }
  if (a.heads && a.kvHeads && a.heads % a.kvHeads != 0)
    r.fail("num_key_value_heads",
           "must divide num_attention_heads (" + llvm::Twine(a.heads) + ")");
  if (c.rope.rotaryDim % 2 != 0)
    r.fail(isDeepseek(f) ? "qk_rope_head_dim" : "head_dim",
           "must be even for the rotary embedding");
}

/// layer_types, or the family's rule from sliding_window and its switches.
static void readWindows(Reader &r, DecoderConfig &c) {
  DecoderFamily f = c.family;
  size_t layers = c.layers.size();
  std::optional<int64_t> window;
  if (r.has("sliding_window"))
    window = r.integer("sliding_window", std::nullopt);
  else if (f == DecoderFamily::GptOss)
    window = 128;
  if (const Value *v = r.get("layer_types")) {
    const llvm::json::Array *types = v->getAsArray();
    if (!types || types->size() != layers)
      return r.fail("layer_types",
                    "must list one type per layer (num_hidden_layers " +
                        llvm::Twine(layers) + ")");
    bool anySliding = false;
    for (auto [i, type] : llvm::enumerate(*types)) {
      std::optional<llvm::StringRef> s = type.getAsString();
      if (s && *s == "full_attention")
        continue;
      if (!s || *s != "sliding_attention")
        return r.fail("layer_types", "has an entry that is neither "
                                     "'full_attention' nor "
                                     "'sliding_attention'");
      anySliding = true;
      c.layers[i].slidingWindow = window;
    }
    // Qwen2/Qwen3 drop sliding_window unless use_sliding_window is set.
    bool used = f == DecoderFamily::GptOss ||
                r.boolean("use_sliding_window", f != DecoderFamily::Qwen2 &&
                                                    f != DecoderFamily::Qwen3);
    if (!used) {
      for (DecoderLayerConfig &layer : c.layers)
        layer.slidingWindow.reset();
      return;
    }
    if (anySliding && !window)
      r.fail("layer_types", "has sliding layers but sliding_window is not set");
    return;
  }
  switch (f) {
  case DecoderFamily::Mixtral:
    for (DecoderLayerConfig &layer : c.layers)
      layer.slidingWindow = window;
    return;
  case DecoderFamily::GptOss:
    // Sliding on even layers (HF: (i + 1) % 2 == 1).
    for (size_t i = 0; i < layers; i += 2)
      c.layers[i].slidingWindow = window;
    return;
  case DecoderFamily::Qwen2:
  case DecoderFamily::Qwen3:
    if (r.boolean("use_sliding_window", false)) {
      if (!window)
        return r.fail("sliding_window", "is required with use_sliding_window");
      int64_t first = r.integer("max_window_layers", 28, /*allowZero=*/true);
      for (size_t i = first; i < layers; ++i)
        c.layers[i].slidingWindow = window;
    }
    return;
  case DecoderFamily::Qwen2Moe:
  case DecoderFamily::Qwen3Moe:
    if (r.boolean("use_sliding_window", false))
      r.fail("use_sliding_window",
             "is true without layer_types: moec does not implement this "
             "family's sliding layers");
    return;
  default:
    return;
  }
}

static void readMoe(Reader &r, DecoderConfig &c) {
  DecoderFamily f = c.family;
  DecoderMoeConfig &m = c.moe;
  using Scoring = DecoderMoeConfig::Scoring;
  size_t layers = c.layers.size();
  auto allMoe = [&] {
    for (DecoderLayerConfig &layer : c.layers)
      layer.moe = true;
  };
  switch (f) {
  case DecoderFamily::Llama:
  case DecoderFamily::Qwen2:
  case DecoderFamily::Qwen3:
    return;
  case DecoderFamily::Mixtral:
    m.experts = r.integer("num_local_experts", 8);
    m.topK = r.integer("num_experts_per_tok", 2);
    m.intermediate = r.integer("intermediate_size", 14336);
    m.normTopK = true;
    allMoe();
    break;
  case DecoderFamily::Olmoe:
    m.experts = r.integer("num_experts", 64);
    m.topK = r.integer("num_experts_per_tok", 8);
    m.intermediate = r.integer("intermediate_size", 2048);
    m.normTopK = r.boolean("norm_topk_prob", false);
    allMoe();
    break;
  case DecoderFamily::Qwen2Moe:
  case DecoderFamily::Qwen3Moe: {
    m.experts =
        r.integer("num_experts", f == DecoderFamily::Qwen2Moe ? 60 : 128,
                  /*allowZero=*/true);
    m.topK =
        r.integer("num_experts_per_tok", f == DecoderFamily::Qwen2Moe ? 4 : 8);
    m.intermediate = r.integer("moe_intermediate_size",
                               f == DecoderFamily::Qwen2Moe ? 1408 : 768);
    m.normTopK = r.boolean("norm_topk_prob", false);
    if (f == DecoderFamily::Qwen2Moe) {
      m.sharedIntermediate =
          r.integer("shared_expert_intermediate_size", 5632, true);
      m.sharedGate = m.sharedIntermediate > 0;
    }
    int64_t step = r.integer("decoder_sparse_step", 1);
    std::vector<bool> denseOnly(layers, false);
    if (const Value *v = r.get("mlp_only_layers")) {
      const llvm::json::Array *list = v->getAsArray();
      if (!list)
        return r.fail("mlp_only_layers", "must be a list of layer indices");
      for (const Value &entry : *list) {
        std::optional<int64_t> i = entry.getAsInteger();
        if (!i || *i < 0 || size_t(*i) >= layers)
          return r.fail("mlp_only_layers",
                        "has an entry that is not a layer index below " +
                            llvm::Twine(layers));
        denseOnly[*i] = true;
      }
    }
    for (size_t i = 0; i < layers; ++i)
      c.layers[i].moe =
          !denseOnly[i] && m.experts > 0 && step && (i + 1) % step == 0;
    break;
  }
  case DecoderFamily::DeepseekV2:
  case DecoderFamily::DeepseekV3: {
    bool v3 = f == DecoderFamily::DeepseekV3;
    m.experts = r.integer("n_routed_experts", std::nullopt);
    m.topK = r.integer("num_experts_per_tok", std::nullopt);
    m.intermediate = r.integer("moe_intermediate_size", std::nullopt);
    m.sharedIntermediate =
        r.integer("n_shared_experts", std::nullopt, true) * m.intermediate;
    m.routedScaling = r.positive("routed_scaling_factor", 1.0);
    std::string scoring = r.string("scoring_func", v3 ? "sigmoid" : "softmax");
    std::string method = r.string("topk_method", v3 ? "noaux_tc" : "greedy");
    if (v3) {
      if (scoring != "sigmoid")
        r.fail("scoring_func",
               "is '" + scoring + "': DeepSeek-V3 scores with 'sigmoid'");
      if (method != "noaux_tc")
        r.fail("topk_method",
               "is '" + method + "': DeepSeek-V3 selects with 'noaux_tc'");
      m.scoring = Scoring::Sigmoid;
      m.selectionBias = true;
      m.groupScoreTopTwoSum = true;
      m.normTopK = r.boolean("norm_topk_prob", true);
      m.groups = r.integer("n_group", 1);
      m.topKGroup = r.integer("topk_group", 1);
    } else {
      if (scoring != "softmax")
        r.fail("scoring_func",
               "is '" + scoring + "': DeepSeek-V2 scores with 'softmax'");
      // HF's DeepSeek-V2 does not renormalise, whatever norm_topk_prob says.
      if (method == "group_limited_greedy") {
        m.groups = r.integer("n_group", std::nullopt);
        m.topKGroup = r.integer("topk_group", std::nullopt);
      } else if (method != "greedy") {
        r.fail("topk_method", "is '" + method +
                                  "': DeepSeek-V2 selects with 'greedy' or "
                                  "'group_limited_greedy'");
      }
    }
    int64_t firstMoe =
        r.integer("first_k_dense_replace", 0, /*allowZero=*/true);
    for (size_t i = 0; i < layers; ++i)
      c.layers[i].moe = int64_t(i) >= firstMoe;
    break;
  }
  case DecoderFamily::GptOss:
    m.experts = r.integer("num_local_experts", 128);
    m.topK =
        r.integer("num_experts_per_tok", r.integer("experts_per_token", 4));
    m.intermediate = r.integer("intermediate_size", 2880);
    m.scoring = Scoring::SoftmaxAfterTopK;
    m.routerBias = m.expertBias = true;
    m.swigluAlpha = r.positive("swiglu_alpha", 1.702);
    m.swigluLimit = r.positive("swiglu_limit", 7.0);
    allMoe();
    break;
  }
  if (m.experts && m.topK > m.experts)
    r.fail("num_experts_per_tok",
           "exceeds the number of experts (" + llvm::Twine(m.experts) + ")");
  if (m.groups > 1 && m.experts % m.groups != 0)
    r.fail("n_group", "must divide the number of experts (" +
                          llvm::Twine(m.experts) + ")");
  if (m.topKGroup > m.groups)
    r.fail("topk_group", "exceeds n_group (" + llvm::Twine(m.groups) + ")");
  if (m.groups > 1 && m.topK > m.topKGroup * (m.experts / m.groups))
    r.fail("num_experts_per_tok",
           "exceeds the experts of the topk_group groups kept");
}

llvm::Expected<DecoderConfig> moec::parseDecoderConfig(llvm::StringRef json,
                                                       llvm::StringRef source) {
  auto error = [&](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   source + ": " + message);
  };
  llvm::Expected<Value> parsed = llvm::json::parse(json);
  if (!parsed)
    return error("is not valid JSON: " + llvm::toString(parsed.takeError()));
  const Object *object = parsed->getAsObject();
  if (!object)
    return error("must be a JSON object");
  Reader r(*object, source, "");
  std::string modelType = r.string("model_type", "");
  if (r.problem)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), *r.problem);
  std::optional<DecoderFamily> family = familyOf(modelType);
  if (!family)
    return error(
        (modelType.empty()
             ? "has no model_type"
             : "model_type '" + modelType + "' is not supported") +
        "; moec compiles llama, qwen2, qwen3, mixtral, qwen2_moe, qwen3_moe, "
        "olmoe, deepseek_v2, deepseek_v3 and gpt_oss");
  DecoderConfig c;
  c.family = *family;
  rejectUnsupported(r);
  readShapes(r, c);
  readRope(r, c);
  readAttention(r, c);
  readWindows(r, c);
  readMoe(r, c);
  if (r.problem)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), *r.problem);
  return c;
}
