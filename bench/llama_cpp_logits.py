#!/usr/bin/python3
"""llama.cpp as a second reference for whole-model logits: every
test/models/hf_models.py checkpoint as GGUF F32, run by llama.cpp, against
the float64 reference and the moec binary.

For each case (all of `hf_models.py --list` by default): hf_models.py writes
the checkpoint; this script writes it again as an F32 GGUF with llama.cpp's
gguf-py, repeating what llama.cpp's converter (convert_hf_to_gguf.py and
conversion/*.py of the same checkout) does for that architecture: its tensor
name map, the Llama/Mixtral q/k row permutation, experts stacked into
ffn_{gate,up,down}_exps, DeepSeek's kv_b_proj split into attn_k_b (transposed)
and attn_v_b, GPT-OSS's gate_up_proj split into even (gate) and odd (up)
columns, and the metadata keys its set_gguf_parameters writes. The vocabulary
is vocab_size dummy tokens (tokenizer model "none", as the converter's
_set_vocab_none). BF16 checkpoints are written as F32 holding the BF16 values
(exact), so llama.cpp computes on the same numbers as moec and the reference.

llama-logits (bench/llama_logits.cpp, built here against libllama) runs the
ids as one batch from position 0 with an F32 KV cache, no flash attention,
2 threads, and writes the logits of every token; `moec -q CASE -o BIN` and
`BIN --tokens ids.npy --logits` give moec's. Errors are max|y - ref| / max|ref|
(the moec test's measure); "moec vs llama.cpp" uses llama.cpp as the reference.

Where llama.cpp's graph for the architecture computes a different function
than the HF model of the case (a config key it ignores, a routing rule it
hard-codes), the row says so and still reports the numbers, plus llama.cpp's
error against a float64 reference recomputed from the same weights with the
HF model changed that way (hf_models.forward on an edited config; DeepSeek's
group rule swapped for llama.cpp's): rounding-level there means the named
difference is the whole gap. Where the GGUF
needs more than the converter's transforms for llama.cpp to load the case
at all, the rewrite is exact, and the notes say what was rewritten.

llama.cpp is the one bench/llama_cpp.py uses (node-llama-cpp@3.22.1's bundled
source, cloned under BUILD/llama-cpp/src); only the `llama` library target is
built (a few minutes on 2 cores, once), sharing that CMake build directory.

usage: bench/llama_cpp_logits.py [--build build] [--work DIR] [--out MD]
       [--moec build/bin/moec] [--threads 2] [--no-moec] [CASE ...]
"""

import argparse
import glob
import json
import math
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "models"))

import hf_models  # noqa: E402
from llama_cpp import NODE_LLAMA_CPP, fetch_source, run  # noqa: E402

PROGRAM = os.path.join(HERE, "llama_logits.cpp")

# HF model_type -> gguf.MODEL_ARCH member (the converter's class per arch).
ARCH = {
    "llama": "LLAMA", "mixtral": "LLAMA", "qwen2": "QWEN2", "qwen3": "QWEN3",
    "qwen2_moe": "QWEN2MOE", "qwen3_moe": "QWEN3MOE", "olmoe": "OLMOE",
    "deepseek_v2": "DEEPSEEK2", "deepseek_v3": "DEEPSEEK2", "gpt_oss": "GPT_OSS",
}

# Top-k renormalisation each llama.cpp graph hard-codes (norm_w argument of
# build_moe_ffn in src/models/<arch>.cpp); deepseek2 reads it from the GGUF.
NORM_W = {"mixtral": True, "qwen2_moe": False, "qwen3_moe": True, "olmoe": False}


# ==========================================================================
# Building llama.cpp's library and llama-logits
# ==========================================================================

def cmake_configure(src, bdir):
    """The configuration of bench/llama_cpp.py, so both share one build."""
    run(["cmake", "-S", src, "-B", bdir, "-G", "Ninja",
         "-DCMAKE_BUILD_TYPE=Release", "-DGGML_NATIVE=ON", "-DLLAMA_CURL=OFF",
         "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_SERVER=OFF",
         "-DBUILD_SHARED_LIBS=OFF",
         "-DCMAKE_C_COMPILER_LAUNCHER=ccache",
         "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"])


def prepare(build):
    """(llama-logits, gguf-py directory), building what is missing."""
    src = fetch_source(build)
    bdir = os.path.join(src, "build")
    program = os.path.join(bdir, "bin", "llama-logits")
    gguf_py = os.path.join(src, "gguf-py")
    if os.path.exists(program) and \
            os.path.getmtime(program) >= os.path.getmtime(PROGRAM):
        return program, gguf_py
    if not os.path.exists(os.path.join(bdir, "CMakeCache.txt")):
        cmake_configure(src, bdir)
    t0 = time.time()
    print("building llama.cpp's llama library (a few minutes the first time)",
          flush=True)
    run(["ninja", "-C", bdir, "llama"])
    libs = [os.path.join(bdir, "src", "libllama.a")] + [
        os.path.join(bdir, "ggml", "src", f"libggml{s}.a")
        for s in ("", "-cpu", "-base")]
    shared = False
    if not all(os.path.exists(p) for p in libs):  # a BUILD_SHARED_LIBS=ON tree
        libs = sorted(glob.glob(os.path.join(bdir, "bin", "lib*.so")))
        shared = True
    os.makedirs(os.path.dirname(program), exist_ok=True)
    cmd = [os.environ.get("CXX", "c++"), "-O2", "-std=c++17",
           "-I", os.path.join(src, "include"),
           "-I", os.path.join(src, "ggml", "include"),
           PROGRAM, "-o", program] + libs
    if shared:
        cmd += [f"-Wl,-rpath,{os.path.join(bdir, 'bin')}"]
    run(cmd + ["-fopenmp", "-lpthread", "-ldl", "-lm"])
    print(f"built {program} ({time.time() - t0:.0f} s)", flush=True)
    return program, gguf_py


# ==========================================================================
# HF checkpoint -> GGUF F32, as llama.cpp's converter writes it
# ==========================================================================

def load_weights(case_dir):
    """name -> float32 array (BF16 values are exact in float32)."""
    index = os.path.join(case_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    W = {}
    for name in files:
        for k, v in hf_models.read_safetensors(os.path.join(case_dir, name)).items():
            W[k] = v.astype(np.float32)
    return W


def llama_permute(w, n_head):
    """LlamaModel.permute: half-split RoPE rows -> interleaved pairs."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def llama3_rope_factors(cfg, dim):
    """LlamaModel.generate_extra_tensors: rope_freqs for rope_type llama3."""
    rp = cfg["rope_scaling"]
    base = cfg.get("rope_theta", 10000.0)
    freqs = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float32) / dim))
    factor = rp.get("factor", 8.0)
    lo, hi = rp.get("low_freq_factor", 1.0), rp.get("high_freq_factor", 4.0)
    old = rp.get("original_max_position_embeddings", 8192)
    out = []
    for f in freqs:
        wl = 2 * math.pi / f
        if wl < old / hi:
            out.append(1)
        elif wl > old / lo:
            out.append(factor)
        else:
            s = (old / wl - lo) / (hi - lo)
            out.append(1 / ((1 - s) / factor + s))
    return np.array(out, dtype=np.float32)


def sparse_layers(cfg):
    return [hf_models.is_moe_layer(cfg, i) for i in range(cfg["num_hidden_layers"])]


def find(cfg, keys):
    for k in keys:
        if cfg.get(k) is not None:
            return cfg[k]
    return None


class Converted:
    """The GGUF of one case: tensors (GGUF name -> float32 array in torch
    layout) and notes. `rewrites` are exact GGUF edits beyond the converter's
    so that llama.cpp loads the case; `differs` are ways llama.cpp's graph
    computes another function than the HF model of the case."""

    def __init__(self, gguf, cfg):
        self.gguf, self.cfg = gguf, cfg
        self.mt = cfg["model_type"]
        self.arch = getattr(gguf.MODEL_ARCH, ARCH[self.mt])
        self.L = cfg["num_hidden_layers"]
        self.tmap = gguf.get_tensor_name_map(self.arch, self.L)
        self.tensors = {}
        self.rewrites, self.differs = [], []
        # config.json edits (and DeepSeek's group rule) under which the HF
        # model is the function llama.cpp computes: see adjusted_reference.
        self.adjust, self.group_sum = {}, False

    def put(self, hf_name, array):
        name = hf_name.replace("e_score_correction_bias", "e_score_correction.bias")
        gname = self.tmap.get_name(name, try_suffixes=(".weight", ".bias"))
        if gname is None:
            raise ValueError(f"cannot map tensor {hf_name!r}")
        self.tensors[gname] = np.ascontiguousarray(array, dtype=np.float32)


def convert(cfg, W, gguf):
    """Tensors and notes of the GGUF for `cfg` / `W` (see Converted)."""
    c = Converted(gguf, cfg)
    mt, L = c.mt, c.L
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    W = dict(W)
    # ---- family transforms (the converter's modify_tensors) ---------------
    if mt in ("llama", "mixtral"):
        for i in range(L):
            a = f"model.layers.{i}.self_attn."
            for s in ("weight", "bias"):
                if a + "q_proj." + s in W:
                    W[a + "q_proj." + s] = llama_permute(W[a + "q_proj." + s], nh)
                if a + "k_proj." + s in W:
                    W[a + "k_proj." + s] = llama_permute(W[a + "k_proj." + s], nkv)
            b = f"model.layers.{i}.block_sparse_moe."
            if b + "gate.weight" in W:
                E = cfg["num_local_experts"]
                for wid in ("w1", "w2", "w3"):
                    c.put(f"layers.{i}.feed_forward.experts.{wid}.weight",
                          np.stack([W.pop(f"{b}experts.{e}.{wid}.weight") for e in range(E)]))
        if hf_models.rope_type(cfg.get("rope_scaling")) == "llama3":
            dim = cfg.get("head_dim") or cfg["hidden_size"] // nh
            c.tensors["rope_freqs.weight"] = llama3_rope_factors(cfg, dim)
    elif mt == "olmoe" and nkv != nh:
        # llama.cpp's olmoe makes wk/wv [H, H] and attn_k_norm [H] (nkv = nh,
        # as in OLMoE-1B-7B): repeat each KV head for its nh/nkv query heads
        # (HF repeat_kv order). The RMS over the repeated k equals the RMS
        # over the original k, so this is the same function.
        hd = hf_models.head_dim_of(cfg)
        rep = nh // nkv
        for i in range(L):
            a = f"model.layers.{i}.self_attn."
            for n in ("k_proj.weight", "v_proj.weight", "k_norm.weight"):
                w = W[a + n]
                W[a + n] = np.repeat(w.reshape(nkv, hd, *w.shape[1:]), rep, axis=0) \
                    .reshape(nh * hd, *w.shape[1:])
        c.rewrites.append(f"GQA {nh}/{nkv} written as MHA (K/V heads and k_norm repeated "
                          f"x{rep}): llama.cpp's olmoe makes attn_k_norm [H] and so needs "
                          "n_head_kv = n_head (the converter's GGUF fails to load: "
                          "attn_k_norm has wrong shape)")
        nkv = nh
    elif mt in ("deepseek_v2", "deepseek_v3"):
        nope, vd = cfg["qk_nope_head_dim"], cfg["v_head_dim"]
        for i in range(L):
            a = f"model.layers.{i}.self_attn."
            kv_b = W.pop(a + "kv_b_proj.weight")
            kv_b = kv_b.reshape(nh, nope + vd, kv_b.shape[-1])
            c.put(a + "k_b_proj.weight", kv_b[:, :nope, :].transpose(0, 2, 1))
            c.put(a + "v_b_proj.weight", kv_b[:, nope:, :])
    elif mt == "gpt_oss":
        for i in range(L):
            m = f"model.layers.{i}.mlp.experts."
            gu = W.pop(m + "gate_up_proj").transpose(0, 2, 1)    # [E, 2I, H]
            c.put(m + "gate_proj.weight", gu[:, ::2, :])
            c.put(m + "up_proj.weight", gu[:, 1::2, :])
            gub = W.pop(m + "gate_up_proj_bias")
            c.put(m + "gate_proj.bias", gub[..., ::2])
            c.put(m + "up_proj.bias", gub[..., 1::2])
            c.put(m + "down_proj.weight", W.pop(m + "down_proj").transpose(0, 2, 1))
            c.put(m + "down_proj.bias", W.pop(m + "down_proj_bias"))
            s = f"model.layers.{i}.self_attn.sinks"
            c.put(s + ".weight", W.pop(s))

    # experts per layer (Qwen2MoeModel / OlmoeModel / DeepseekV2Model stacking)
    n_ff_exp = None
    if mt in ("qwen2_moe", "qwen3_moe", "olmoe", "deepseek_v2", "deepseek_v3"):
        E = find(cfg, ["num_local_experts", "num_experts", "n_routed_experts"])
        I_exp = cfg["intermediate_size"] if mt == "olmoe" else cfg["moe_intermediate_size"]
        n_ff_exp = I_exp
        sparse = sparse_layers(cfg)
        emulate = mt in ("qwen2_moe", "qwen3_moe") and not all(sparse)
        if emulate:
            n_ff_exp = max(I_exp, cfg["intermediate_size"])
        for i in range(L):
            p = f"model.layers.{i}.mlp."
            if sparse[i]:
                for w in ("down_proj", "gate_proj", "up_proj"):
                    t = np.stack([W.pop(f"{p}experts.{e}.{w}.weight") for e in range(E)])
                    if n_ff_exp > I_exp:  # zero rows / columns: silu(0) * 0 = 0
                        pad = [(0, 0), (0, 0), (0, 0)]
                        pad[2 if w == "down_proj" else 1] = (0, n_ff_exp - I_exp)
                        t = np.pad(t, pad)
                    c.put(f"{p}experts.{w}.weight", t)
            elif emulate:
                # llama.cpp's qwen2moe/qwen3moe make every layer MoE. A dense
                # layer becomes E identical experts (the MLP, zero-padded to
                # the expert width) behind a zero router: the softmax is
                # uniform, any k experts are picked, and their weights add up
                # to 1 (qwen3moe renormalises) or k/E (qwen2moe does not:
                # down is scaled by E/k, a power of two here). Qwen2-MoE's
                # shared expert is zeroed in such a layer.
                k = cfg["num_experts_per_tok"]
                scale = 1.0 if NORM_W[mt] else E / k
                H, I = cfg["hidden_size"], cfg["intermediate_size"]
                for w in ("down_proj", "gate_proj", "up_proj"):
                    t = W.pop(f"{p}{w}.weight") * (scale if w == "down_proj" else 1.0)
                    pad = [(0, 0), (0, 0)]
                    pad[1 if w == "down_proj" else 0] = (0, n_ff_exp - I)
                    c.put(f"{p}experts.{w}.weight", np.stack([np.pad(t, pad)] * E))
                c.put(f"{p}gate.weight", np.zeros((E, H), np.float32))
                if mt == "qwen2_moe":
                    S = cfg["shared_expert_intermediate_size"]
                    c.put(f"{p}shared_expert.gate_proj.weight", np.zeros((S, H), np.float32))
                    c.put(f"{p}shared_expert.up_proj.weight", np.zeros((S, H), np.float32))
                    c.put(f"{p}shared_expert.down_proj.weight", np.zeros((H, S), np.float32))
                    c.put(f"{p}shared_expert_gate.weight", np.zeros((1, H), np.float32))
        if emulate:
            dense = [i for i, s in enumerate(sparse) if not s]
            c.rewrites.append(
                f"dense layer(s) {dense} ({describe_dense(cfg)}) written as {E} identical "
                f"experts behind a zero router; expert width padded {I_exp} -> {n_ff_exp} "
                f"with zeros: llama.cpp's {gguf.MODEL_ARCH_NAMES[c.arch]} makes every layer "
                f"MoE (the converter's GGUF fails to load: blk.{dense[0]}.ffn_gate_inp not found)")

    for name, w in W.items():
        c.put(name, w)

    # ---- metadata (TextModel.set_gguf_parameters + the arch's additions) --
    c.meta = metadata(c, cfg, nkv, n_ff_exp)
    notes_on_semantics(c, cfg)
    return c


def describe_dense(cfg):
    if cfg.get("mlp_only_layers"):
        return f"mlp_only_layers {cfg['mlp_only_layers']}"
    return f"decoder_sparse_step {cfg.get('decoder_sparse_step')}"


def metadata(c, cfg, nkv, n_ff_exp):
    """[(writer method, value)] in the converter's order."""
    g, mt = c.gguf, c.mt
    m = [("add_block_count", c.L),
         ("add_context_length", cfg["max_position_embeddings"]),
         ("add_embedding_length", cfg["hidden_size"]),
         ("add_feed_forward_length", cfg["intermediate_size"]),
         ("add_head_count", cfg["num_attention_heads"]),
         ("add_head_count_kv", 1 if mt.startswith("deepseek") else nkv)]
    rp = dict(cfg.get("rope_scaling") or {})
    kind = hf_models.rope_type(rp) if rp else None
    if kind == "linear":
        m += [("add_rope_scaling_type", g.RopeScalingType.LINEAR),
              ("add_rope_scaling_factor", rp["factor"])]
    elif kind == "yarn":
        m += [("add_rope_scaling_type", g.RopeScalingType.YARN),
              ("add_rope_scaling_factor", rp["factor"]),
              ("add_rope_scaling_orig_ctx_len", rp["original_max_position_embeddings"])]
        if rp.get("extrapolation_factor") is not None:
            m.append(("add_rope_scaling_yarn_ext_factor", rp["extrapolation_factor"]))
        att = rp.get("attention_factor", rp.get("attn_factor"))
        if att is not None:
            m.append(("add_rope_scaling_yarn_attn_factor", att))
        if rp.get("beta_fast") is not None:
            m.append(("add_rope_scaling_yarn_beta_fast", rp["beta_fast"]))
        if rp.get("beta_slow") is not None:
            m.append(("add_rope_scaling_yarn_beta_slow", rp["beta_slow"]))
    m += [("add_rope_freq_base", cfg["rope_theta"]),
          ("add_layer_norm_rms_eps", cfg["rms_norm_eps"])]
    if (E := find(cfg, ["num_local_experts", "num_experts", "n_routed_experts"])) is not None:
        m.append(("add_expert_count", E))
    if (k := find(cfg, ["num_experts_per_tok", "num_experts_per_token"])) is not None:
        m.append(("add_expert_used_count", k))
    if cfg.get("n_group") is not None:
        m.append(("add_expert_group_count", cfg["n_group"]))
    if cfg.get("topk_group") is not None:
        m.append(("add_expert_group_used_count", cfg["topk_group"]))
    if (sf := cfg.get("scoring_func")) is not None:
        m.append(("add_expert_gating_func", {"sigmoid": g.ExpertGatingFuncType.SIGMOID,
                                             "softmax": g.ExpertGatingFuncType.SOFTMAX}[sf]))
    if cfg.get("head_dim") is not None:
        m += [("add_key_length", cfg["head_dim"]), ("add_value_length", cfg["head_dim"])]
    m.append(("add_file_type", g.LlamaFileType.ALL_F32))
    # per architecture
    if mt in ("llama", "mixtral"):
        m += [("add_vocab_size", cfg["vocab_size"]),
              ("add_rope_dimension_count",
               cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"])]
    elif mt in ("qwen2_moe", "qwen3_moe"):
        m.append(("add_expert_feed_forward_length", n_ff_exp))
        if cfg.get("shared_expert_intermediate_size") is not None:
            m.append(("add_expert_shared_feed_forward_length",
                      cfg["shared_expert_intermediate_size"]))
    elif mt.startswith("deepseek"):
        kvr, rope = cfg["kv_lora_rank"], cfg["qk_rope_head_dim"]
        m += [("add_leading_dense_block_count", cfg.get("first_k_dense_replace") or 0),
              ("add_vocab_size", cfg["vocab_size"])]
        if cfg.get("q_lora_rank") is not None:
            m.append(("add_q_lora_rank", cfg["q_lora_rank"]))
        else:
            # The converter omits the key (V2-Lite); llama.cpp only accepts
            # that for the layer counts of its known lite models.
            m.append(("add_q_lora_rank", 0))
            c.rewrites.append("q_lora_rank 0 written: the converter omits the key for "
                              "q_lora_rank null, and llama.cpp requires it unless n_layer is "
                              "that of a model it knows as lite (27, 26, 48)")
        m += [("add_kv_lora_rank", kvr),
              ("add_key_length", kvr + rope), ("add_value_length", kvr),
              ("add_key_length_mla", cfg["qk_nope_head_dim"] + rope),
              ("add_value_length_mla", cfg["v_head_dim"]),
              ("add_expert_feed_forward_length", cfg["moe_intermediate_size"]),
              ("add_expert_shared_count", cfg.get("n_shared_experts", 0))]
        if cfg.get("routed_scaling_factor") is not None:
            m.append(("add_expert_weights_scale", cfg["routed_scaling_factor"]))
        if cfg.get("norm_topk_prob"):
            m.append(("add_expert_weights_norm", True))
        m.append(("add_rope_dimension_count", rope))
        if rp.get("mscale_all_dim") is not None:
            m.append(("add_rope_scaling_yarn_log_mul", 0.1 * rp["mscale_all_dim"]))
    elif mt == "gpt_oss":
        m += [("add_sliding_window", cfg["sliding_window"]),
              ("add_expert_feed_forward_length", cfg["intermediate_size"])]
    # vocabulary: vocab_size dummy tokens (_set_vocab_none)
    if not any(k == "add_vocab_size" for k, _ in m):
        m.append(("add_vocab_size", cfg["vocab_size"]))
    m.append(("add_tokenizer_model", "none"))
    # a later key overwrites an earlier one, as in GGUFWriter.add_key_value
    return list(dict(m).items())


def notes_on_semantics(c, cfg):
    """Where llama.cpp's graph for the arch computes another function."""
    mt = c.mt
    layers = range(c.L)
    if mt == "mixtral" and cfg.get("sliding_window"):
        c.differs.append(f"sliding_window {cfg['sliding_window']} ignored: llama.cpp's "
                         "llama arch attends to all earlier keys")
        c.adjust["sliding_window"] = None
    if mt in ("qwen2", "qwen2_moe", "qwen3"):
        swa = [i for i in layers if hf_models.layer_window(cfg, i)]
        if swa:
            c.differs.append(f"sliding window {cfg['sliding_window']} on layers {swa} ignored: "
                             f"the converter writes no window for {mt} and llama.cpp's graph "
                             "has none")
            c.adjust["layer_types"] = ["full_attention"] * c.L
    if mt == "qwen3_moe" and cfg.get("use_sliding_window"):
        c.differs.append("use_sliding_window ignored by llama.cpp's qwen3moe")
        c.adjust["use_sliding_window"] = False
    if mt in NORM_W and cfg.get("norm_topk_prob", mt == "mixtral") != NORM_W[mt]:
        c.differs.append(f"norm_topk_prob {cfg.get('norm_topk_prob')} ignored: llama.cpp's "
                         f"{gguf_arch(c)} hard-codes top-k renormalisation "
                         f"{'on' if NORM_W[mt] else 'off'}")
        c.adjust["norm_topk_prob"] = NORM_W[mt]
    if mt == "olmoe" and cfg.get("clip_qkv") is not None:
        c.differs.append(f"clip_qkv {cfg['clip_qkv']} ignored: llama.cpp's olmoe graph has no "
                         "clamp (the converter writes no clamp_kqv for olmoe)")
        c.adjust["clip_qkv"] = None
    if mt.startswith("deepseek") and (cfg.get("n_group") or 1) > 1 and \
            cfg.get("topk_group", 0) < cfg["n_group"]:
        if cfg.get("topk_method") == "group_limited_greedy":
            c.differs.append("group_limited_greedy's group score (the group's max) replaced by "
                             "the sum of the group's top-2 probabilities, the only group rule "
                             "of llama.cpp's build_moe_ffn")
            c.group_sum = True
    rp = cfg.get("rope_scaling") or {}
    if hf_models.rope_type(rp) == "yarn" and rp.get("truncate", True) is False:
        c.differs.append("YaRN truncate false ignored: ggml rounds the correction range "
                         "(floor/ceil) as for truncate true")
        c.adjust["rope_scaling"] = dict(rp, truncate=True)
    if mt == "gpt_oss":
        hf_swa = [cfg["layer_types"][i] == "sliding_attention" for i in layers]
        lc_swa = [i % 2 == 0 for i in layers]  # load_swa_pattern(ml, 2), no key written
        if hf_swa != lc_swa:
            c.differs.append("layer_types differ from llama.cpp's sliding pattern 2")
            c.adjust["layer_types"] = ["sliding_attention" if s else "full_attention"
                                       for s in lc_swa]


def deepseek_v2_moe_group_sum(cfg, W, p, x, trace):
    """DeepSeek-V2 routing as llama.cpp's build_moe_ffn does it: group score
    = sum of the group's top-2 probabilities (not the max), other groups
    masked to -inf, top-k, weights = probabilities (renormalised iff
    norm_topk_prob) x routed_scaling_factor; plus the shared experts."""
    b = p + "mlp."
    probs = hf_models.softmax(hf_models.linear(x, W, b + "gate"))
    E, k, G, keep = (cfg["n_routed_experts"], cfg["num_experts_per_tok"], cfg["n_group"],
                     cfg["topk_group"])
    gs = np.sort(probs.reshape(-1, G, E // G), axis=-1)[..., -2:].sum(-1)
    gidx = hf_models.topk_desc(gs, keep, trace)
    gmask = np.zeros((x.shape[0], G), bool)
    np.put_along_axis(gmask, gidx, True, -1)
    emask = np.repeat(gmask, E // G, axis=1)
    idx = hf_models.topk_desc(np.where(emask, probs, -np.inf), k, trace)
    w = np.take_along_axis(probs, idx, -1)
    if cfg.get("norm_topk_prob"):
        w = w / w.sum(-1, keepdims=True)
    w = w * cfg["routed_scaling_factor"]
    y = hf_models.run_experts(x, idx, w,
                              lambda e, v: hf_models.dense_mlp(W, f"{b}experts.{e}.", v))
    return y + hf_models.dense_mlp(W, b + "shared_experts.", x)


def adjusted_reference(c, cfg, case_dir, ids):
    """float64 logits of the HF model edited to what llama.cpp computes
    (c.adjust, c.group_sum), from the stored weights; None if no edit."""
    if not c.adjust and not c.group_sum:
        return None
    cfg2 = dict(cfg, **c.adjust)
    W = {k: v.astype(np.float64) for k, v in load_weights(case_dir).items()}
    saved = hf_models.deepseek_v2_moe
    if c.group_sum:
        hf_models.deepseek_v2_moe = deepseek_v2_moe_group_sum
    try:
        return hf_models.forward(cfg2, W, ids)
    finally:
        hf_models.deepseek_v2_moe = saved


def gguf_arch(c):
    return c.gguf.MODEL_ARCH_NAMES[c.arch]


def write_gguf(c, path):
    g = c.gguf
    w = g.GGUFWriter(path, gguf_arch(c))
    for method, value in c.meta:
        getattr(w, method)(value)
    for name, t in c.tensors.items():
        w.add_tensor(name, t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# ==========================================================================
# Running and comparing
# ==========================================================================

def rel_error(y, ref):
    return float(np.abs(y - ref).max() / np.abs(ref).max())


def run_case(case, args, program, gguf):
    """One row: dict with the three errors (or None) and notes."""
    t0 = time.time()
    d = hf_models.write_case(args.work, case)
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(d, "case.json")) as f:
        info = json.load(f)
    ref = np.load(os.path.join(d, "reference.npy"))
    ids = os.path.join(d, "ids.npy")
    row = dict(case=case, family=cfg["model_type"], dtype=info["dtype"],
               tokens=info["tokens"], llama=None, llama_adjusted=None, moec=None,
               moec_llama=None,
               rewrites=[], differs=[], problems=[])
    if cfg["model_type"] not in ARCH:
        row["problems"].append(f"family {cfg['model_type']} has no llama.cpp mapping here")
    else:
        c = convert(cfg, load_weights(d), gguf)
        row.update(arch=gguf_arch(c), rewrites=c.rewrites, differs=c.differs)
        if info["dtype"] != "float32":
            row["rewrites"].append(f"{info['dtype']} values written as F32 (exact)")
        path = os.path.join(d, "model.gguf")
        write_gguf(c, path)
        out = os.path.join(d, "llama_cpp.npy")
        r = subprocess.run([program, path, ids, out, "--threads", str(args.threads)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            row["problems"].append("llama.cpp failed: " + last_line(r.stderr))
        else:
            y = np.load(out)
            if y.shape != ref.shape:
                row["problems"].append(f"llama.cpp logits {y.shape}, expected {ref.shape}")
            else:
                row["llama"] = rel_error(y, ref)
                row["_llama"] = y
                ref2 = adjusted_reference(c, cfg, d, np.load(ids))
                if ref2 is not None:
                    row["llama_adjusted"] = rel_error(y, ref2)
    if not args.no_moec:
        binary = os.path.join(d, "moec-model")
        r = subprocess.run([args.moec, "-q", d, "-o", binary], capture_output=True, text=True)
        out = os.path.join(d, "moec.npy")
        if r.returncode == 0:
            r = subprocess.run([binary, "--threads", str(args.threads), "--tokens", ids,
                                "--logits", out], capture_output=True, text=True)
        if r.returncode != 0:
            row["problems"].append("moec failed: " + last_line(r.stderr))
        else:
            y = np.load(out)
            row["moec"] = rel_error(y, ref)
            if "_llama" in row:
                row["moec_llama"] = rel_error(y, row["_llama"])
    row.pop("_llama", None)
    row["seconds"] = round(time.time() - t0, 2)
    return row


def last_line(text):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[-1] if lines else "(no message)"


def fmt(e):
    return "–" if e is None else f"{e:.1e}"


def markdown(rows, args, build_info):
    out = ["# llama.cpp as a second reference for whole-model logits", "",
           "Written by `bench/llama_cpp_logits.py`. Each test checkpoint of",
           "`test/models/hf_models.py` (tiny random weights, float64 reference logits",
           "from the HF semantics) is written as an F32 GGUF the way llama.cpp's",
           "converter writes it and run by llama.cpp (F32 KV cache, no flash",
           "attention, the prompt as one batch); the same checkpoint is compiled by",
           "moec. Errors are max|y − ref| / max|ref| over all tokens × vocab.",
           "", f"llama.cpp: {build_info}; {args.threads} threads.", "",
           "Notes: *differs* marks a case where llama.cpp's graph computes another",
           "model than HF for that config, so its errors measure that gap, not",
           "rounding. For those cases the column *llama.cpp vs adjusted reference*",
           "recomputes the float64 reference (same weights and ids) with the HF",
           "model changed the way the note says llama.cpp differs: an error at",
           "rounding level there shows the named difference is the whole gap.",
           "*rewritten* marks an exact GGUF edit beyond the converter's transforms",
           "that llama.cpp needs to load the case.", "",
           "Rerun: `/usr/bin/python3 bench/llama_cpp_logits.py [CASE ...]`", "",
           "| case | GGUF arch | llama.cpp vs reference | moec vs reference | "
           "moec vs llama.cpp | llama.cpp vs adjusted reference | notes |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        notes = [f"**differs:** {n}" for n in r["differs"]] + \
                [f"rewritten: {n}" for n in r["rewrites"]] + \
                [f"**failed:** {n}" for n in r["problems"]]
        out.append(f"| {r['case']} | {r.get('arch', '–')} | {fmt(r['llama'])} | "
                   f"{fmt(r['moec'])} | {fmt(r['moec_llama'])} | "
                   f"{fmt(r['llama_adjusted'])} | "
                   f"{'; '.join(notes).replace('|', '/') or 'same model'} |")
    out.append("")
    return "\n".join(out)


def llama_cpp_version(build):
    info = os.path.join(os.path.abspath(build), "llama-cpp", "node_modules", "node-llama-cpp",
                        "llama", "llama.cpp.info.json")
    src = os.path.join(os.path.abspath(build), "llama-cpp", "src")
    text = NODE_LLAMA_CPP
    try:
        with open(info) as f:
            text += f" (llama.cpp {json.load(f)['tag']}"
        commit = subprocess.run(["git", "-C", src, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        text += f", commit {commit})" if commit else ")"
    except (OSError, KeyError, ValueError):
        pass
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="holds llama-cpp/ (llama.cpp's source and build) and bin/moec")
    ap.add_argument("--work", help="where the cases and GGUF files go "
                    "(default BUILD/bench/llama-cpp-logits)")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks",
                                                  "llama-cpp-logits.md"))
    ap.add_argument("--moec", help="the moec compiler (default BUILD/bin/moec)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-moec", action="store_true", help="llama.cpp vs reference only")
    ap.add_argument("cases", nargs="*", help="hf_models.py cases (default: all)")
    args = ap.parse_args()
    args.work = args.work or os.path.join(args.build, "bench", "llama-cpp-logits")
    args.moec = args.moec or os.path.join(args.build, "bin", "moec")
    cases = args.cases or hf_models.case_names()
    unknown = [c for c in cases if c not in hf_models.CASES]
    if unknown:
        sys.exit(f"unknown case(s): {' '.join(unknown)}")
    os.makedirs(args.work, exist_ok=True)
    program, gguf_py = prepare(args.build)
    sys.path.insert(0, gguf_py)
    import gguf
    import logging
    logging.getLogger("gguf").setLevel(logging.ERROR)
    rows = []
    for case in cases:
        row = run_case(case, args, program, gguf)
        rows.append(row)
        print(json.dumps(row), flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(markdown(rows, args, llama_cpp_version(args.build)))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
