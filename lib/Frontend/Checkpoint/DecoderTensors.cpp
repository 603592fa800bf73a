//===- DecoderTensors.cpp - The tensors each family's checkpoint holds ----===//
//
// Names and shapes (torch layout, [out, in]) as the Hugging Face modeling
// files declare them; docs/models.md lists them per family.
//
//===----------------------------------------------------------------------===//

#include "moec/Frontend/Checkpoint.h"

using namespace moec;

namespace {
class TensorList {
public:
  void add(std::string name, llvm::ArrayRef<int64_t> shape) {
    tensors.push_back({std::move(name), llvm::SmallVector<int64_t, 3>(shape)});
  }
  /// gate, up and down projections of a SwiGLU MLP.
  void mlp(const std::string &prefix, int64_t hidden, int64_t intermediate,
           llvm::StringRef gate = "gate_proj", llvm::StringRef up = "up_proj",
           llvm::StringRef down = "down_proj") {
    add(prefix + gate.str() + ".weight", {intermediate, hidden});
    add(prefix + up.str() + ".weight", {intermediate, hidden});
    add(prefix + down.str() + ".weight", {hidden, intermediate});
  }
  std::vector<CheckpointTensor> tensors;
};
} // namespace

static void addAttention(TensorList &t, const DecoderConfig &c,
                         const std::string &p) {
  const AttentionConfig &a = c.attention;
  int64_t h = c.hidden;
  if (a.mla) {
    if (a.qLoraRank) {
      t.add(p + "q_a_proj.weight", {*a.qLoraRank, h});
      t.add(p + "q_a_layernorm.weight", {*a.qLoraRank});
      t.add(p + "q_b_proj.weight", {a.heads * a.headDim, *a.qLoraRank});
    } else {
      t.add(p + "q_proj.weight", {a.heads * a.headDim, h});
    }
    t.add(p + "kv_a_proj_with_mqa.weight", {a.kvLoraRank + a.qkRopeHeadDim, h});
    t.add(p + "kv_a_layernorm.weight", {a.kvLoraRank});
    t.add(p + "kv_b_proj.weight",
          {a.heads * (a.qkNopeHeadDim + a.valueHeadDim), a.kvLoraRank});
    t.add(p + "o_proj.weight", {h, a.heads * a.valueHeadDim});
    return;
  }
  int64_t q = a.heads * a.headDim, kv = a.kvHeads * a.headDim;
  t.add(p + "q_proj.weight", {q, h});
  t.add(p + "k_proj.weight", {kv, h});
  t.add(p + "v_proj.weight", {kv, h});
  t.add(p + "o_proj.weight", {h, q});
  if (a.qkvBias) {
    t.add(p + "q_proj.bias", {q});
    t.add(p + "k_proj.bias", {kv});
    t.add(p + "v_proj.bias", {kv});
  }
  if (a.outputBias)
    t.add(p + "o_proj.bias", {h});
  if (a.qkNorm == QkNorm::PerHead) {
    t.add(p + "q_norm.weight", {a.headDim});
    t.add(p + "k_norm.weight", {a.headDim});
  } else if (a.qkNorm == QkNorm::WholeProjection) {
    t.add(p + "q_norm.weight", {q});
    t.add(p + "k_norm.weight", {kv});
  }
  if (a.sinks)
    t.add(p + "sinks", {a.heads});
}

static void addMoe(TensorList &t, const DecoderConfig &c,
                   const std::string &p) {
  const DecoderMoeConfig &m = c.moe;
  int64_t h = c.hidden, e = m.experts, i = m.intermediate;
  switch (c.family) {
  case DecoderFamily::Mixtral:
    t.add(p + "block_sparse_moe.gate.weight", {e, h});
    for (int64_t x = 0; x < e; ++x)
      t.mlp(p + "block_sparse_moe.experts." + std::to_string(x) + ".", h, i,
            "w1", "w3", "w2");
    return;
  case DecoderFamily::GptOss:
    // Stacked experts; gate_up_proj interleaves gate (even) and up (odd)
    // columns.
    t.add(p + "mlp.router.weight", {e, h});
    t.add(p + "mlp.router.bias", {e});
    t.add(p + "mlp.experts.gate_up_proj", {e, h, 2 * i});
    t.add(p + "mlp.experts.gate_up_proj_bias", {e, 2 * i});
    t.add(p + "mlp.experts.down_proj", {e, i, h});
    t.add(p + "mlp.experts.down_proj_bias", {e, h});
    return;
  default:
    break;
  }
  t.add(p + "mlp.gate.weight", {e, h});
  if (m.selectionBias)
    t.add(p + "mlp.gate.e_score_correction_bias", {e});
  for (int64_t x = 0; x < e; ++x)
    t.mlp(p + "mlp.experts." + std::to_string(x) + ".", h, i);
  if (m.sharedIntermediate) {
    bool deepseek = c.family == DecoderFamily::DeepseekV2 ||
                    c.family == DecoderFamily::DeepseekV3;
    t.mlp(p + (deepseek ? "mlp.shared_experts." : "mlp.shared_expert."), h,
          m.sharedIntermediate);
    if (m.sharedGate)
      t.add(p + "mlp.shared_expert_gate.weight", {1, h});
  }
}

std::vector<CheckpointTensor> moec::getDecoderTensors(const DecoderConfig &c) {
  TensorList t;
  int64_t h = c.hidden;
  t.add("model.embed_tokens.weight", {c.vocab, h});
  for (auto [index, layer] : llvm::enumerate(c.layers)) {
    std::string p = "model.layers." + std::to_string(index) + ".";
    t.add(p + "input_layernorm.weight", {h});
    addAttention(t, c, p + "self_attn.");
    t.add(p + "post_attention_layernorm.weight", {h});
    if (layer.moe)
      addMoe(t, c, p);
    else
      t.mlp(p + "mlp.", h, c.intermediate);
  }
  t.add("model.norm.weight", {h});
  if (!c.tieWordEmbeddings)
    t.add("lm_head.weight", {c.vocab, h});
  return std::move(t.tensors);
}
