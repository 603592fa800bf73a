//===- DecoderConfig.h - What a checkpoint's config.json says ---*- C++ -*-===//
//
// A Hugging Face checkpoint's config.json, read into the few numbers and
// choices that decide the computation of a decoder model: its family
// (model_type), shapes, attention (GQA, biases, QK norms, sliding windows,
// sinks, MLA), rotary embedding (default, linear, llama3, yarn), which
// layers are MoE and how they route. Defaults are the Hugging Face
// configuration classes' defaults. A model_type moec does not know, a
// missing required key, a value of the wrong kind, or a value that would
// change the computation in a way moec does not implement is an error that
// names the key: never a silently different model. docs/models.md lists
// what is read per family.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_FRONTEND_DECODERCONFIG_H
#define MOEC_FRONTEND_DECODERCONFIG_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace moec {

enum class DecoderFamily {
  Llama,
  Qwen2,
  Qwen3,
  Mixtral,
  Qwen2Moe,
  Qwen3Moe,
  Olmoe,
  DeepseekV2,
  DeepseekV3,
  GptOss,
};

/// The model_type of `family`.
llvm::StringRef getModelType(DecoderFamily family);

/// Rotary embedding (HF modeling_rope_utils).
struct RopeConfig {
  enum class Scaling { None, Linear, Llama3, Yarn };
  Scaling scaling = Scaling::None;
  double theta = 10000.0;
  /// The rotated dimensions of each head (head_dim, or qk_rope_head_dim).
  int64_t rotaryDim = 0;
  /// Pairs (x[2i], x[2i+1]) (DeepSeek) instead of (x[i], x[i + d/2]).
  bool interleaved = false;
  double factor = 1.0;
  /// llama3 and yarn.
  int64_t originalMaxPositions = 0;
  double lowFreqFactor = 1.0, highFreqFactor = 4.0;
  /// yarn.
  double betaFast = 32.0, betaSlow = 1.0;
  bool truncate = true;
  /// yarn: the cos/sin amplitude (attention_factor, or from mscale and
  /// mscale_all_dim, or 0.1 ln(factor) + 1).
  double attentionFactor = 1.0;
};

/// Normalization of q and k before RoPE.
enum class QkNorm {
  None,
  /// RMSNorm over each head's head_dim (Qwen3).
  PerHead,
  /// RMSNorm over the whole projection, before the head split (OLMoE).
  WholeProjection,
};

struct AttentionConfig {
  int64_t heads = 0, kvHeads = 0;
  /// Query/key head size and value head size (differ with MLA).
  int64_t headDim = 0, valueHeadDim = 0;
  bool qkvBias = false, outputBias = false;
  QkNorm qkNorm = QkNorm::None;
  /// OLMoE: q, k and v clamped to [-clip, clip].
  std::optional<double> clipQkv;
  /// GPT-OSS: a learned logit per head in every softmax.
  bool sinks = false;
  /// The softmax scale (head_dim^-0.5, times yarn's mscale^2 for MLA).
  double scale = 0.0;
  /// DeepSeek's multi-head latent attention.
  bool mla = false;
  std::optional<int64_t> qLoraRank;
  int64_t kvLoraRank = 0, qkNopeHeadDim = 0, qkRopeHeadDim = 0;
};

struct DecoderMoeConfig {
  enum class Scoring { Softmax, Sigmoid, SoftmaxAfterTopK };
  int64_t experts = 0, topK = 0;
  /// Each routed expert's intermediate size.
  int64_t intermediate = 0;
  Scoring scoring = Scoring::Softmax;
  bool normTopK = false;
  double routedScaling = 1.0;
  /// Group-limited selection (DeepSeek): groups and groups kept; the group
  /// score is the best expert (V2) or the sum of the best two (V3).
  int64_t groups = 1, topKGroup = 1;
  bool groupScoreTopTwoSum = false;
  /// DeepSeek-V3's e_score_correction_bias (selection only).
  bool selectionBias = false;
  /// GPT-OSS: router and expert biases, the clamped SwiGLU.
  bool routerBias = false, expertBias = false;
  double swigluAlpha = 0.0, swigluLimit = 0.0;
  /// Shared experts' total intermediate size (0: none); Qwen2-MoE gates
  /// them with sigmoid(shared_expert_gate(x)).
  int64_t sharedIntermediate = 0;
  bool sharedGate = false;
};

struct DecoderLayerConfig {
  bool moe = false;
  /// Keys a query sees: the last `window` positions, itself included.
  std::optional<int64_t> slidingWindow;
};

struct DecoderConfig {
  DecoderFamily family = DecoderFamily::Llama;
  int64_t hidden = 0, vocab = 0, maxPositions = 0;
  /// The dense MLP's intermediate size (dense layers).
  int64_t intermediate = 0;
  double rmsNormEps = 1e-6;
  bool tieWordEmbeddings = false;
  /// torch_dtype: "float32", "bfloat16" or "float16" (informative: each
  /// tensor is read in the dtype its file gives).
  std::string dtype;
  AttentionConfig attention;
  RopeConfig rope;
  DecoderMoeConfig moe;
  std::vector<DecoderLayerConfig> layers;
};

/// Parses config.json's text; `source` names it in errors.
llvm::Expected<DecoderConfig> parseDecoderConfig(llvm::StringRef json,
                                                 llvm::StringRef source);

} // namespace moec

#endif // MOEC_FRONTEND_DECODERCONFIG_H
