#!/usr/bin/python3
"""DeepSeek's MLA decoded compressed and decompressed, at growing KV depth.

The model is DeepSeek-V2-Lite's attention (hidden 2048, 16 heads,
kv_lora_rank 512, qk_nope 128, qk_rope 64, v_head_dim 128, q_lora_rank
null) in 4 dense layers (intermediate 10944) with a 32000-token vocabulary,
random BF16 weights (normal, std 0.02) written here as a Hugging Face
checkpoint. moec compiles it twice: --mla=compressed caches one
[rope | latent] vector of 576 floats per position and layer, and
--mla=decompressed every head's keys and values (16 x (192 + 128) floats).
`MODEL --bench` decodes 32 tokens after D positions of KV cache; the
bytes a decode step reads (weights + cache, from the binary) and its
tokens/s are printed per form and depth, with moec-roofline's bandwidth
measured in the same run.

usage: bench/mla_cache.py [--build build] [--work DIR] [--out MD]
       [--threads 2] [--depths 0,1024,4096] [--reuse]
"""

import argparse
import json
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "models"))
sys.path.insert(0, HERE)

import hf_models  # noqa: E402
from llama_cpp import run  # noqa: E402
from whole_model import bf16_bits  # noqa: E402

LAYERS = 4
CONFIG = {
    "architectures": ["DeepseekV2ForCausalLM"], "model_type": "deepseek_v2",
    "hidden_size": 2048, "intermediate_size": 10944, "num_hidden_layers": LAYERS,
    "num_attention_heads": 16, "num_key_value_heads": 16, "vocab_size": 32000,
    "q_lora_rank": None, "kv_lora_rank": 512, "qk_nope_head_dim": 128,
    "qk_rope_head_dim": 64, "v_head_dim": 128, "first_k_dense_replace": LAYERS,
    "moe_layer_freq": 1, "moe_intermediate_size": 1408, "n_routed_experts": 64,
    "n_shared_experts": 2, "num_experts_per_tok": 6, "n_group": 1, "topk_group": 1,
    "topk_method": "greedy", "scoring_func": "softmax", "routed_scaling_factor": 1.0,
    "norm_topk_prob": False, "max_position_embeddings": 8192, "rope_theta": 10000.0,
    "rope_scaling": None, "rms_norm_eps": 1e-06, "tie_word_embeddings": False,
    "hidden_act": "silu", "attention_bias": False, "attention_dropout": 0.0,
    "aux_loss_alpha": 0.001, "seq_aux": True, "ep_size": 1,
    "bos_token_id": 100000, "eos_token_id": 100001, "torch_dtype": "bfloat16",
    "use_cache": True, "transformers_version": hf_models.TRANSFORMERS_VERSION,
}


def tensor_shapes(cfg):
    h, v = cfg["hidden_size"], cfg["vocab_size"]
    heads, inter = cfg["num_attention_heads"], cfg["intermediate_size"]
    qk = cfg["qk_nope_head_dim"] + cfg["qk_rope_head_dim"]
    rank = cfg["kv_lora_rank"]
    shapes = {"model.embed_tokens.weight": (v, h), "model.norm.weight": (h,),
              "lm_head.weight": (v, h)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a = p + "self_attn."
        shapes[a + "q_proj.weight"] = (heads * qk, h)
        shapes[a + "kv_a_proj_with_mqa.weight"] = (rank + cfg["qk_rope_head_dim"], h)
        shapes[a + "kv_a_layernorm.weight"] = (rank,)
        shapes[a + "kv_b_proj.weight"] = (
            heads * (cfg["qk_nope_head_dim"] + cfg["v_head_dim"]), rank)
        shapes[a + "o_proj.weight"] = (h, heads * cfg["v_head_dim"])
        shapes[p + "input_layernorm.weight"] = (h,)
        shapes[p + "post_attention_layernorm.weight"] = (h,)
        shapes[p + "mlp.gate_proj.weight"] = (inter, h)
        shapes[p + "mlp.up_proj.weight"] = (inter, h)
        shapes[p + "mlp.down_proj.weight"] = (h, inter)
    return shapes


def write_checkpoint(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(2026)
    stored = {}
    for name, shape in tensor_shapes(CONFIG).items():
        bits = bf16_bits(rng, shape, len(shape) == 1)
        stored[name] = ("BF16", bits.tobytes(), np.empty(shape))
    hf_models.write_checkpoint(out, stored, sharded=False)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--work", default=None)
    p.add_argument("--out", default=None, help="write the table to this file")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--depths", default="0,1024,4096")
    p.add_argument("--reuse", action="store_true",
                   help="keep the checkpoint and binaries of an earlier run")
    args = p.parse_args()
    work = args.work or os.path.join(args.build, "bench-mla")
    ckpt = os.path.join(work, "deepseek-v2-lite-attn")
    moec = os.path.join(args.build, "bin", "moec")
    depths = [int(d) for d in args.depths.split(",")]
    context = max(depths) + 64
    if not (args.reuse and os.path.exists(os.path.join(ckpt, "config.json"))):
        print("writing the checkpoint", flush=True)
        write_checkpoint(ckpt)
    forms = ("compressed", "decompressed")
    for form in forms:
        binary = os.path.join(work, form)
        if not (args.reuse and os.path.exists(binary)):
            print(f"compiling --mla={form}", flush=True)
            run([moec, "-q", ckpt, "-o", binary, f"--mla={form}",
                 f"--ctx-size={context}"])
    roof = run([os.path.join(args.build, "bin", "moec-roofline"), "--threads",
                str(args.threads)])
    bandwidth = float(re.search(r"best_gb_per_s=([0-9.]+)", roof).group(1))
    rows = []
    for depth in depths:
        for form in forms:
            out = run([os.path.join(work, form), "--bench", "--bench-prompt", "16",
                       "--bench-gen", "32", "--bench-depth", str(depth),
                       "--iterations", "3", "--threads", str(args.threads)])
            f = dict(re.findall(r"(\w+)=([0-9.e+]+)", out))
            kv = float(re.search(r"kv cache ([0-9.e+]+)", out).group(1))
            tps = float(f["decode_tokens_per_s"])
            total = float(f["decode_bytes_per_token"])
            rows.append((depth, form, tps, total / 1e6, kv / 1e6,
                         100 * total * tps / 1e9 / bandwidth))
            print(f"depth {depth} {form}: {tps:.2f} tok/s", flush=True)
    lines = [f"roofline {bandwidth:.1f} GB/s ({args.threads} threads)", "",
             "| depth | MLA form | decode tok/s | MB read per token | of which KV cache | % of roofline |",
             "|---:|---|---:|---:|---:|---:|"]
    for depth, form, tps, total, kv, share in rows:
        lines.append(f"| {depth} | {form} | {tps:.2f} | {total:.0f} | {kv:.1f} | {share:.0f}% |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
