//===- CheckpointTest.cpp - config.json and checkpoint directories --------===//
//
// Values are checked against the Hugging Face configuration classes and
// modeling files (the expected numbers are worked out from their formulas
// in the comments); every error names its key or tensor.
//
//===----------------------------------------------------------------------===//

#include "moec/Frontend/Checkpoint.h"
#include "moec/Support/WeightStore.h"

#include "runtime/formats/SafeTensors.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace moec;

namespace {

DecoderConfig parse(const std::string &json) {
  llvm::Expected<DecoderConfig> config =
      parseDecoderConfig(json, "config.json");
  if (!config) {
    ADD_FAILURE() << llvm::toString(config.takeError());
    return {};
  }
  return *config;
}

std::string parseError(const std::string &json) {
  llvm::Expected<DecoderConfig> config =
      parseDecoderConfig(json, "config.json");
  if (config)
    return "(no error)";
  return llvm::toString(config.takeError());
}

/// A Llama config with `extra` members appended.
std::string llama(const std::string &extra = "") {
  return R"({"model_type": "llama", "hidden_size": 64, "vocab_size": 128,
             "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "intermediate_size": 96,
             "max_position_embeddings": 2048)" +
         extra + "}";
}

TEST(DecoderConfigTest, LlamaDefaultsAreTheConfigClasses) {
  DecoderConfig c = parse(llama());
  EXPECT_EQ(c.family, DecoderFamily::Llama);
  EXPECT_EQ(c.attention.headDim, 16); // hidden_size / num_attention_heads
  EXPECT_EQ(c.attention.kvHeads, 2);
  EXPECT_DOUBLE_EQ(c.rmsNormEps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope.theta, 10000.0);
  EXPECT_EQ(c.rope.scaling, RopeConfig::Scaling::None);
  EXPECT_EQ(c.rope.rotaryDim, 16);
  EXPECT_DOUBLE_EQ(c.attention.scale, 0.25);
  ASSERT_EQ(c.layers.size(), 2u);
  EXPECT_FALSE(c.layers[0].moe);
  EXPECT_FALSE(c.layers[1].slidingWindow);
  EXPECT_FALSE(c.tieWordEmbeddings);
}

TEST(DecoderConfigTest, Llama3AndLinearScaling) {
  DecoderConfig c = parse(llama(R"(, "rope_scaling": {"rope_type": "llama3",
      "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
      "original_max_position_embeddings": 64})"));
  EXPECT_EQ(c.rope.scaling, RopeConfig::Scaling::Llama3);
  EXPECT_EQ(c.rope.originalMaxPositions, 64);
  // v5 spelling: rope_parameters with rope_theta inside.
  c = parse(llama(R"(, "rope_parameters": {"rope_type": "linear",
      "factor": 4.0, "rope_theta": 500000.0})"));
  EXPECT_EQ(c.rope.scaling, RopeConfig::Scaling::Linear);
  EXPECT_DOUBLE_EQ(c.rope.factor, 4.0);
  EXPECT_DOUBLE_EQ(c.rope.theta, 500000.0);
}

TEST(DecoderConfigTest, Qwen3MoeLayersAndHeadDim) {
  DecoderConfig c = parse(R"({"model_type": "qwen3_moe", "hidden_size": 64,
      "vocab_size": 160, "num_hidden_layers": 4, "num_attention_heads": 4,
      "num_key_value_heads": 2, "head_dim": 24, "intermediate_size": 96,
      "moe_intermediate_size": 32, "num_experts": 8, "num_experts_per_tok": 2,
      "norm_topk_prob": true, "decoder_sparse_step": 2, "mlp_only_layers": [3],
      "max_position_embeddings": 4096})");
  // head_dim is read, never hidden_size / heads (16).
  EXPECT_EQ(c.attention.headDim, 24);
  EXPECT_EQ(c.attention.qkNorm, QkNorm::PerHead);
  EXPECT_TRUE(c.moe.normTopK);
  // Sparse iff not in mlp_only_layers and (i + 1) % decoder_sparse_step == 0.
  std::vector<bool> moe;
  for (const DecoderLayerConfig &layer : c.layers)
    moe.push_back(layer.moe);
  EXPECT_EQ(moe, (std::vector<bool>{false, true, false, false}));
}

TEST(DecoderConfigTest, GptOssWindowsSinksAndYarn) {
  DecoderConfig c = parse(R"({"model_type": "gpt_oss", "hidden_size": 64,
      "vocab_size": 128, "num_hidden_layers": 3, "num_attention_heads": 4,
      "num_key_value_heads": 2, "head_dim": 16, "intermediate_size": 32,
      "num_local_experts": 8, "num_experts_per_tok": 2,
      "max_position_embeddings": 131072,
      "rope_scaling": {"rope_type": "yarn", "factor": 32.0, "beta_fast": 32.0,
        "beta_slow": 1.0, "original_max_position_embeddings": 4096,
        "truncate": false}})");
  EXPECT_TRUE(c.attention.sinks);
  EXPECT_TRUE(c.attention.qkvBias && c.attention.outputBias);
  // Sliding on even layers, window 128 (the class default).
  EXPECT_EQ(c.layers[0].slidingWindow, std::optional<int64_t>(128));
  EXPECT_FALSE(c.layers[1].slidingWindow);
  EXPECT_EQ(c.layers[2].slidingWindow, std::optional<int64_t>(128));
  EXPECT_DOUBLE_EQ(c.rope.theta, 150000.0);
  EXPECT_FALSE(c.rope.truncate);
  // attention_factor = 0.1 ln 32 + 1 = 1.34657.
  EXPECT_NEAR(c.rope.attentionFactor, 1.346574, 1e-6);
  EXPECT_EQ(c.moe.scoring, DecoderMoeConfig::Scoring::SoftmaxAfterTopK);
  EXPECT_DOUBLE_EQ(c.moe.swigluLimit, 7.0);
}

TEST(DecoderConfigTest, DeepseekV3MlaScaleAndRouting) {
  DecoderConfig c = parse(R"({"model_type": "deepseek_v3", "hidden_size": 64,
      "vocab_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
      "intermediate_size": 96, "moe_intermediate_size": 32,
      "n_routed_experts": 8, "num_experts_per_tok": 2, "n_shared_experts": 1,
      "n_group": 2, "topk_group": 1, "routed_scaling_factor": 2.5,
      "first_k_dense_replace": 1, "q_lora_rank": null, "kv_lora_rank": 32,
      "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128,
      "max_position_embeddings": 163840,
      "rope_scaling": {"type": "yarn", "factor": 40, "mscale": 1.0,
        "mscale_all_dim": 1.0, "original_max_position_embeddings": 4096,
        "beta_fast": 32, "beta_slow": 1}})");
  EXPECT_TRUE(c.attention.mla);
  EXPECT_FALSE(c.attention.qLoraRank);
  EXPECT_EQ(c.attention.headDim, 192);
  EXPECT_EQ(c.rope.rotaryDim, 64);
  EXPECT_TRUE(c.rope.interleaved);
  // 192^-0.5 * (0.1 ln 40 + 1)^2 = 0.135234 (the reference's value).
  EXPECT_NEAR(c.attention.scale, 0.135234, 1e-6);
  // mscale / mscale_all_dim: amplitude 1.
  EXPECT_DOUBLE_EQ(c.rope.attentionFactor, 1.0);
  EXPECT_EQ(c.moe.scoring, DecoderMoeConfig::Scoring::Sigmoid);
  EXPECT_TRUE(c.moe.selectionBias && c.moe.groupScoreTopTwoSum);
  EXPECT_EQ(c.moe.sharedIntermediate, 32);
  EXPECT_FALSE(c.layers[0].moe);
  EXPECT_TRUE(c.layers[1].moe);
}

TEST(DecoderConfigTest, ErrorsNameTheKey) {
  EXPECT_EQ(parseError(R"({"model_type": "gemma"})"),
            "config.json: model_type 'gemma' is not supported; moec compiles "
            "llama, qwen2, qwen3, mixtral, qwen2_moe, qwen3_moe, olmoe, "
            "deepseek_v2, deepseek_v3 and gpt_oss");
  EXPECT_EQ(parseError("[1, 2]"), "config.json: must be a JSON object");
  EXPECT_NE(parseError("{").find("config.json: is not valid JSON"),
            std::string::npos);
  EXPECT_EQ(parseError(R"({"model_type": "llama"})"),
            "config.json: 'hidden_size' is required");
  EXPECT_EQ(parseError(llama(R"(, "num_key_value_heads": 3)")),
            "config.json: 'num_key_value_heads' must divide "
            "num_attention_heads (4)");
  EXPECT_EQ(parseError(R"({"model_type": "llama", "hidden_size": -64})"),
            "config.json: 'hidden_size' must be positive, not -64");
  EXPECT_EQ(parseError(R"({"model_type": "llama", "hidden_size": 6.5})"),
            "config.json: 'hidden_size' must be an integer");
  EXPECT_EQ(parseError(llama(R"(, "hidden_act": "gelu")")),
            "config.json: 'hidden_act' is 'gelu': moec implements 'silu'");
  EXPECT_EQ(
      parseError(llama(R"(, "quantization_config": {"quant_method": "fp8"})")),
      "config.json: 'quantization_config' is set: quantized checkpoints "
      "are not supported yet");
  EXPECT_EQ(parseError(
                llama(R"(, "rope_scaling": {"type": "dynamic", "factor": 2})")),
            "config.json: 'rope_scaling.type' is 'dynamic': moec implements "
            "default, linear, llama3 and yarn");
  EXPECT_EQ(parseError(llama(R"(, "rope_scaling": {"rope_type": "linear"})")),
            "config.json: 'rope_scaling.factor' is required");
  EXPECT_EQ(parseError(llama(R"(, "partial_rotary_factor": 0.5)")),
            "config.json: 'partial_rotary_factor' is not 1: moec does not "
            "implement partial rotary embeddings");
  EXPECT_EQ(parseError(llama(R"(, "mlp_bias": true)")),
            "config.json: 'mlp_bias' is true: moec does not implement biases "
            "in the MLP");
  EXPECT_EQ(
      parseError(R"({"model_type": "mixtral", "hidden_size": 64,
          "vocab_size": 8, "num_hidden_layers": 1, "num_attention_heads": 4,
          "max_position_embeddings": 64, "num_local_experts": 2,
          "num_experts_per_tok": 3})"),
      "config.json: 'num_experts_per_tok' exceeds the number of experts (2)");
  EXPECT_EQ(parseError(R"({"model_type": "gpt_oss", "hidden_size": 64,
          "vocab_size": 8, "num_hidden_layers": 2, "num_attention_heads": 4,
          "max_position_embeddings": 64, "layer_types": ["full_attention"]})"),
            "config.json: 'layer_types' must list one type per layer "
            "(num_hidden_layers 2)");
  // transformers versions disagree on yarn's factor when these differ.
  EXPECT_NE(parseError(llama(R"(, "rope_scaling": {"rope_type": "yarn",
          "factor": 4.0, "original_max_position_embeddings": 1024})"))
                .find("'rope_scaling.factor' times "
                      "original_max_position_embeddings is not "
                      "max_position_embeddings"),
            std::string::npos);
}

TEST(DecoderConfigTest, TensorListFollowsTheFamily) {
  DecoderConfig c = parse(llama(R"(, "tie_word_embeddings": true)"));
  std::vector<CheckpointTensor> tensors = getDecoderTensors(c);
  // Embedding, per layer 2 norms + 4 attention + 3 MLP, final norm; tied:
  // no lm_head.
  ASSERT_EQ(tensors.size(), 1u + 2 * 9 + 1);
  EXPECT_EQ(tensors[0].name, "model.embed_tokens.weight");
  EXPECT_EQ(tensors[2].name, "model.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(tensors[3].shape, (llvm::SmallVector<int64_t, 3>{32, 64}));
  EXPECT_EQ(tensors.back().name, "model.norm.weight");
}

/// A checkpoint directory, removed with its files.
class CheckpointDir {
public:
  CheckpointDir() {
    llvm::SmallString<128> dir;
    EXPECT_FALSE(llvm::sys::fs::createUniqueDirectory("moec-ckpt", dir));
    path = dir.str().str();
  }
  ~CheckpointDir() { llvm::sys::fs::remove_directories(path); }
  std::string file(llvm::StringRef name) const {
    llvm::SmallString<128> p(path);
    llvm::sys::path::append(p, name);
    return p.str().str();
  }
  void write(llvm::StringRef name, llvm::StringRef text) const {
    std::error_code ec;
    llvm::raw_fd_ostream os(file(name), ec);
    ASSERT_FALSE(ec);
    os << text;
  }
  /// Writes `tensors` (zeros of their shapes, dtype `dtype`) into `name`.
  void writeTensors(llvm::StringRef name,
                    const std::vector<CheckpointTensor> &tensors,
                    rt::DType dtype = rt::DType::BF16) {
    std::vector<rt::TensorToWrite> out;
    for (const CheckpointTensor &t : tensors) {
      int64_t count = 1;
      for (int64_t d : t.shape)
        count *= d;
      storage.emplace_back(count * rt::dtypeSize(dtype), 0);
      out.push_back({t.name, dtype,
                     std::vector<int64_t>(t.shape.begin(), t.shape.end()),
                     storage.back().data(), storage.back().size()});
    }
    std::string error;
    ASSERT_TRUE(rt::writeSafeTensors(file(name), out, {}, error)) << error;
  }
  std::string path;
  std::vector<std::vector<uint8_t>> storage;
};

std::string openError(const CheckpointDir &dir) {
  WeightStore store;
  llvm::Expected<Checkpoint> checkpoint = openCheckpoint(dir.path, store);
  if (checkpoint)
    return "(no error)";
  std::string text = llvm::toString(checkpoint.takeError());
  // Errors start with the directory; keep what follows it.
  size_t at = text.find(dir.path);
  return at == std::string::npos ? text
                                 : text.replace(at, dir.path.size(), "DIR");
}

TEST(CheckpointTest, OpensAndChecksEveryTensor) {
  CheckpointDir dir;
  dir.write("config.json", llama());
  std::vector<CheckpointTensor> tensors = getDecoderTensors(parse(llama()));
  dir.writeTensors("model.safetensors", tensors);
  WeightStore store;
  llvm::Expected<Checkpoint> checkpoint = openCheckpoint(dir.path, store);
  ASSERT_TRUE(bool(checkpoint)) << llvm::toString(checkpoint.takeError());
  EXPECT_EQ(checkpoint->files.size(), 1u);
  EXPECT_EQ(store.size(), tensors.size());
}

TEST(CheckpointTest, NamesTheTensorAtFault) {
  DecoderConfig config = parse(llama());
  std::vector<CheckpointTensor> tensors = getDecoderTensors(config);
  {
    CheckpointDir dir;
    dir.write("config.json", llama());
    std::vector<CheckpointTensor> missing(tensors.begin(), tensors.end() - 1);
    dir.writeTensors("model.safetensors", missing);
    EXPECT_EQ(openError(dir), "checkpoint 'DIR': tensor 'lm_head.weight' is "
                              "missing (config.json's llama model reads it)");
  }
  {
    CheckpointDir dir;
    dir.write("config.json", llama());
    std::vector<CheckpointTensor> wrong = tensors;
    wrong[2].shape = {64, 32};
    dir.writeTensors("model.safetensors", wrong);
    EXPECT_EQ(openError(dir),
              "checkpoint 'DIR': tensor 'model.layers.0.self_attn.q_proj."
              "weight' has shape [64, 32], config.json implies [64, 64]");
  }
  {
    CheckpointDir dir;
    dir.write("config.json", llama());
    dir.writeTensors("model.safetensors", tensors, rt::DType::I32);
    EXPECT_EQ(openError(dir),
              "checkpoint 'DIR': tensor 'model.embed_tokens.weight' is I32; "
              "moec reads F32, BF16 and F16 checkpoints");
  }
  {
    CheckpointDir dir;
    dir.write("config.json", llama());
    EXPECT_EQ(openError(dir), "checkpoint 'DIR' has neither model.safetensors "
                              "nor model.safetensors.index.json");
  }
  {
    CheckpointDir dir;
    EXPECT_NE(openError(dir).find("cannot read 'DIR/config.json'"),
              std::string::npos);
  }
}

TEST(CheckpointTest, ShardsFollowTheIndex) {
  std::vector<CheckpointTensor> tensors = getDecoderTensors(parse(llama()));
  size_t half = tensors.size() / 2;
  std::vector<CheckpointTensor> first(tensors.begin(), tensors.begin() + half);
  std::vector<CheckpointTensor> second(tensors.begin() + half, tensors.end());
  auto index = [&](bool swapOne) {
    llvm::json::Object map;
    for (auto [i, t] : llvm::enumerate(tensors))
      map[t.name] = (i < half) != (swapOne && i == 0)
                        ? "model-00001-of-00002.safetensors"
                        : "model-00002-of-00002.safetensors";
    std::string text;
    llvm::raw_string_ostream os(text);
    os << llvm::json::Value(
        llvm::json::Object{{"metadata", llvm::json::Object{{"total_size", 0}}},
                           {"weight_map", std::move(map)}});
    return text;
  };
  {
    CheckpointDir dir;
    dir.write("config.json", llama());
    dir.writeTensors("model-00001-of-00002.safetensors", first);
    dir.writeTensors("model-00002-of-00002.safetensors", second);
    dir.write("model.safetensors.index.json", index(false));
    WeightStore store;
    llvm::Expected<Checkpoint> checkpoint = openCheckpoint(dir.path, store);
    ASSERT_TRUE(bool(checkpoint)) << llvm::toString(checkpoint.takeError());
    EXPECT_EQ(checkpoint->files.size(), 2u);
    EXPECT_EQ(store.size(), tensors.size());
  }
  {
    CheckpointDir dir;
    dir.write("config.json", llama());
    dir.writeTensors("model-00001-of-00002.safetensors", first);
    dir.writeTensors("model-00002-of-00002.safetensors", second);
    dir.write("model.safetensors.index.json", index(true));
    EXPECT_EQ(openError(dir),
              "checkpoint 'DIR': tensor 'model.embed_tokens.weight' is in "
              "model-00001-of-00002.safetensors, but the index maps it to "
              "model-00002-of-00002.safetensors");
  }
  {
    CheckpointDir dir;
    dir.write("config.json", llama());
    dir.write("model.safetensors.index.json",
              R"({"weight_map": {"a": "../outside.safetensors"}})");
    EXPECT_EQ(openError(dir),
              "DIR/model.safetensors.index.json: tensor 'a' maps to something "
              "that is not a file name in the checkpoint directory");
  }
}

} // namespace

namespace {

/// Every checkpoint test/models/hf_models.py writes (real config keys and
/// tensor names of each family, F32, BF16, sharded, tied) opens, and what
/// the config says about layers agrees with the writer's case.json.
TEST(CheckpointTest, OpensEveryTestCheckpoint) {
  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("moec-hf", dir));
  std::string command = "/usr/bin/python3 " MOEC_SOURCE_DIR
                        "/test/models/hf_models.py " +
                        dir.str().str() + " > /dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  std::error_code ec;
  int cases = 0;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec)) {
    WeightStore store;
    llvm::Expected<Checkpoint> checkpoint = openCheckpoint(it->path(), store);
    ASSERT_TRUE(bool(checkpoint))
        << it->path() << ": " << llvm::toString(checkpoint.takeError());
    // Every tensor in the files is one the model reads.
    EXPECT_EQ(store.size(), getDecoderTensors(checkpoint->config).size())
        << it->path();
    ++cases;
  }
  EXPECT_GE(cases, 17);
  llvm::sys::fs::remove_directories(dir);
}

} // namespace
