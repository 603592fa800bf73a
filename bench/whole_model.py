#!/usr/bin/python3
"""A whole MoE model against llama.cpp on the same weights, in the same run.

The model is OLMoE-1B-7B's config cut to 3 layers (hidden 2048, 16 heads of
128, 64 experts of width 1024, top-8, vocabulary 50304): 1.47 B parameters,
2.7 GiB in BF16, random weights (normal, std 0.02) written here as a Hugging
Face checkpoint. The same BF16 values are written as a GGUF with llama.cpp's
gguf-py (its converter's OLMoE tensor names and metadata, from
llama_cpp_logits.py), and llama-quantize --pure makes its Q8_0 and Q4_0 files.

moec compiles the checkpoint (BF16, and with --quantize int8 / int4-g32,
which pack every matrix but the router and the embedding, each with float
and int8 activations, and an f16 KV cache as llama.cpp's default) and
`MODEL --bench` measures; llama-bench measures the GGUFs: prefill at 512
tokens (pp512) and decode over 128 tokens (tg128), at KV depth 0 and 512
(-d), 2 threads, the median (moec) and mean (llama-bench) of 3
repetitions. moec-roofline measures
the read bandwidth in the same run; decode's share of the roofline is
(bytes a decode step reads) x tokens/s / bandwidth, the bytes being the
weights it reads (the routed experts' top-8 share, one embedding row) and
the KV cache.

Every measurement is repeated in --rounds rounds (default 2), moec and
llama.cpp side by side in each, and a row keeps each side's best round:
the machine's speed drifts from minute to minute.

usage: bench/whole_model.py [--build build] [--work DIR] [--out MD]
       [--threads 2] [--layers 3] [--rounds 2] [--reuse]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "models"))
sys.path.insert(0, HERE)

import hf_models  # noqa: E402
import llama_cpp_logits as lcl  # noqa: E402
from llama_cpp import fetch_source, run  # noqa: E402

CONFIG = {
    "architectures": ["OlmoeForCausalLM"], "model_type": "olmoe",
    "hidden_size": 2048, "intermediate_size": 1024, "num_attention_heads": 16,
    "num_key_value_heads": 16, "num_experts": 64, "num_experts_per_tok": 8,
    "vocab_size": 50304, "max_position_embeddings": 4096, "rope_theta": 10000.0,
    "rope_scaling": None, "rms_norm_eps": 1e-05, "clip_qkv": None,
    "norm_topk_prob": False, "tie_word_embeddings": False, "hidden_act": "silu",
    "attention_bias": False, "attention_dropout": 0.0, "output_router_logits": False,
    "router_aux_loss_coef": 0.01, "pad_token_id": 1, "bos_token_id": None,
    "eos_token_id": 50279, "torch_dtype": "bfloat16", "use_cache": True,
    "transformers_version": hf_models.TRANSFORMERS_VERSION,
}


def tensor_shapes(cfg):
    H, I, E, V = (cfg["hidden_size"], cfg["intermediate_size"], cfg["num_experts"],
                  cfg["vocab_size"])
    shapes = {"model.embed_tokens.weight": (V, H), "model.norm.weight": (H,),
              "lm_head.weight": (V, H)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
            shapes[p + f"self_attn.{n}.weight"] = (H, H)
        shapes[p + "self_attn.q_norm.weight"] = (H,)
        shapes[p + "self_attn.k_norm.weight"] = (H,)
        shapes[p + "input_layernorm.weight"] = (H,)
        shapes[p + "post_attention_layernorm.weight"] = (H,)
        shapes[p + "mlp.gate.weight"] = (E, H)
        for e in range(E):
            shapes[p + f"mlp.experts.{e}.gate_proj.weight"] = (I, H)
            shapes[p + f"mlp.experts.{e}.up_proj.weight"] = (I, H)
            shapes[p + f"mlp.experts.{e}.down_proj.weight"] = (H, I)
    return shapes


def bf16_bits(rng, shape, norm):
    """Random BF16 values as uint16: N(0, 0.02), or 1 + N(0, 0.02) for norms."""
    x = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
    if norm:
        x += np.float32(1.0)
    return (x.view(np.uint32) >> 16).astype(np.uint16)


def write_checkpoint(out, cfg):
    """config.json + model.safetensors (BF16); returns {name: uint16 array}."""
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(2026)
    tensors = {n: bf16_bits(rng, s, len(s) == 1)
               for n, s in tensor_shapes(cfg).items()}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    names = sorted(tensors)
    header, offset = {}, 0
    for n in names:
        size = tensors[n].nbytes
        header[n] = {"dtype": "BF16", "shape": list(tensors[n].shape),
                     "data_offsets": [offset, offset + size]}
        offset += size
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(len(blob).to_bytes(8, "little"))
        f.write(blob)
        for n in names:
            f.write(tensors[n].tobytes())
    return tensors


def write_gguf(path, cfg, tensors, gguf):
    """The BF16 GGUF the converter would write for the checkpoint."""
    c = lcl.Converted(gguf, cfg)
    E, L = cfg["num_experts"], cfg["num_hidden_layers"]
    out = {}

    def put(name, bits):
        gname = c.tmap.get_name(name, try_suffixes=(".weight", ".bias"))
        out[gname] = bits

    for i in range(L):
        p = f"model.layers.{i}.mlp."
        for w in ("down_proj", "gate_proj", "up_proj"):
            put(f"{p}experts.{w}.weight",
                np.stack([tensors[f"{p}experts.{e}.{w}.weight"] for e in range(E)]))
    for n, t in tensors.items():
        if ".experts." not in n:
            put(n, t)
    meta = lcl.metadata(c, cfg, cfg["num_key_value_heads"], None)
    meta = [(k, gguf.LlamaFileType.MOSTLY_BF16 if k == "add_file_type" else v)
            for k, v in meta]
    w = gguf.GGUFWriter(path, gguf.MODEL_ARCH_NAMES[c.arch])
    for method, value in meta:
        getattr(w, method)(value)
    for name, bits in out.items():
        # 1-D tensors (norms) in F32, as the converter keeps them.
        if bits.ndim == 1:
            w.add_tensor(name, (bits.astype(np.uint32) << 16).view(np.float32))
        else:
            w.add_tensor(name, bits, raw_dtype=gguf.GGMLQuantizationType.BF16)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def llama_tools(build):
    src = fetch_source(build)
    bdir = os.path.join(src, "build")
    tools = [os.path.join(bdir, "bin", t) for t in ("llama-bench", "llama-quantize")]
    if not all(os.path.exists(t) for t in tools):
        if not os.path.exists(os.path.join(bdir, "CMakeCache.txt")):
            lcl.cmake_configure(src, bdir)
        print("building llama-bench and llama-quantize", flush=True)
        run(["ninja", "-C", bdir, "llama-bench", "llama-quantize"])
    return tools, os.path.join(src, "gguf-py")


def llama_bench(bench, model, threads):
    """{(test, depth): tokens/s} from llama-bench's JSON."""
    out = run([bench, "-m", model, "-p", "512", "-n", "128", "-d", "0,512",
               "-t", str(threads), "-r", "3", "-o", "json"])
    rows = {}
    for r in json.loads(out):
        test = "pp512" if r["n_prompt"] else "tg128"
        rows[(test, r.get("n_depth", 0))] = r["avg_ts"]
    return rows


def moec_bench(binary, threads):
    rows, decode_bytes = {}, {}
    for depth in (0, 512):
        out = run([binary, "--bench", "--bench-depth", str(depth), "--threads",
                   str(threads), "--ctx-size", "2048"])
        f = dict(re.findall(r"(\w+)=([0-9.e+]+)", out))
        rows[("pp512", depth)] = float(f["prefill_tokens_per_s"])
        rows[("tg128", depth)] = float(f["decode_tokens_per_s"])
        decode_bytes[depth] = float(f["decode_bytes_per_token"])
    return rows, decode_bytes


# moec's binaries: name -> flags. A quantized format runs with float and
# with int8 activations; each row reports the faster. The KV cache is f16
# in every binary, as llama.cpp's is by default (-ctk/-ctv f16).
KV_CACHE = ["--kv-cache=f16"]
BINARIES = {
    "bf16": KV_CACHE,
    "int8": ["--quantize=int8"] + KV_CACHE,
    "int8-act8": ["--quantize=int8", "--act=int8"] + KV_CACHE,
    "int4-g32": ["--quantize=int4-g32"] + KV_CACHE,
    "int4-g32-act8": ["--quantize=int4-g32", "--act=int8"] + KV_CACHE,
}
PAIRS = [("bf16", ("bf16",), "BF16"), ("int8", ("int8", "int8-act8"), "Q8_0"),
         ("int4-g32", ("int4-g32", "int4-g32-act8"), "Q4_0")]
TESTS = (("tg128", 0), ("tg128", 512), ("pp512", 0))


def machine():
    """The CPU's model name and its last-level cache in bytes (0: unknown)."""
    name = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    size = 0
    caches = "/sys/devices/system/cpu/cpu0/cache"
    for index in sorted(os.listdir(caches)) if os.path.isdir(caches) else []:
        path = os.path.join(caches, index, "size")
        if index.startswith("index") and os.path.exists(path):
            text = open(path).read().strip()
            units = {"K": 2**10, "M": 2**20, "G": 2**30}
            size = max(size, int(text[:-1]) * units[text[-1]] if text[-1] in units
                       else int(text))
    if size == 0:
        # No cache in sysfs (some virtual machines): glibc reads CPUID.
        try:
            size = int(subprocess.run(["getconf", "LEVEL3_CACHE_SIZE"],
                                      capture_output=True, text=True).stdout or 0)
        except (ValueError, OSError):
            size = 0
    return name, size


def report(rows, bandwidth, bandwidth_after, threads, compile_s, rounds):
    """The markdown page of the rows measured."""
    cpu, l3 = machine()
    lines = ["# A whole model against llama.cpp (bench/whole_model.py)", "",
             f"CPU: {cpu}, last-level cache {l3 / 2**20:.0f} MiB.", "",
             "OLMoE-1B-7B's config cut to 3 layers (1.47 B parameters, 2.7 GiB in BF16,",
             "random weights), the same values in moec's checkpoint and llama.cpp's GGUF;",
             f"{threads} threads; read bandwidth {bandwidth:.1f} GB/s before the runs and "
             f"{bandwidth_after:.1f} after",
             "(moec-roofline: 8 streams per thread, best of 7 passes over 2 GiB).",
             f"Each figure is the best of {rounds} rounds that ran moec and llama.cpp",
             "side by side (within a round: moec's median and llama-bench's mean of 3",
             "repetitions).", "",
             "moec's int8 and int4-g32 (`--quantize`) pack every matrix but the router",
             "and the embedding table: routed experts, attention projections and the",
             "LM head. llama.cpp's Q8_0 and Q4_0 are `llama-quantize --pure`: every",
             "matrix but the router in the one type (the token embedding too, of which",
             "a token reads one row). Each quantized moec row is the faster of",
             "`--act=fp32` and `--act=int8` (column act). Both KV caches are f16",
             "(`--kv-cache=f16`; llama.cpp's default). Decode GB/s: the bytes a moec",
             "decode step reads (the weights it touches + the KV cache) x tokens/s;",
             "% of roofline: that over the larger of the two bandwidths. A row marked *",
             "reads less than twice the last-level cache per token: the cache then serves",
             "part of those bytes (its replacement keeps a share of a stream larger than",
             "itself), so its share is not a memory-roofline figure.",
             "", "| moec | act | llama.cpp | test | depth | moec tok/s | llama.cpp tok/s | ratio | MB per token | moec decode GB/s | % of roofline |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    top = max(bandwidth, bandwidth_after)
    for r in rows:
        ratio = r["moec_ts"] / r["llama_ts"] if r["llama_ts"] else float("nan")
        gbs = f"{r['moec_gb_per_s']:.1f}" if "moec_gb_per_s" in r else ""
        roofline = mb = ""
        if "moec_gb_per_s" in r:
            mb = f"{r['decode_bytes'] / 1e6:.0f}"
            roofline = f"{100 * r['moec_gb_per_s'] / top:.0f}%"
            if l3 and r["decode_bytes"] < 2 * l3:
                roofline += " *"
        lines.append(f"| {r['moec']} | {r['act']} | {r['llama.cpp']} | {r['test']} | {r['depth']} | "
                     f"{r['moec_ts']:.1f} | {r['llama_ts']:.1f} | {ratio:.2f} | {mb} | {gbs} | {roofline} |")
    lines += ["", "Both activation precisions (tok/s):", ""]
    for r in rows:
        if len(r["all_moec_ts"]) > 1:
            lines.append(f"- {r['moec']} {r['test']} d{r['depth']}: " + ", ".join(
                f"act {'int8' if v.endswith('act8') else 'fp32'} {t:.1f}"
                for v, t in r["all_moec_ts"].items()))
    lines += ["", "Compile times (moec DIR -o MODEL): " +
              ", ".join(f"{k} {v:.0f} s" for k, v in compile_s.items()) + ".", ""]
    return lines


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--work", default=None)
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks",
                                                 "whole-model.md"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2,
                   help="measure everything this many times; each row keeps "
                        "each side's best round")
    p.add_argument("--reuse", action="store_true",
                   help="keep the checkpoint and GGUFs a previous run wrote in --work")
    args = p.parse_args()
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    work = args.work or os.path.join(args.build, "bench-whole-model")
    os.makedirs(work, exist_ok=True)
    cfg = dict(CONFIG, num_hidden_layers=args.layers)
    moec = os.path.join(args.build, "bin", "moec")

    (bench, quantize), gguf_py = llama_tools(args.build)
    sys.path.insert(0, gguf_py)
    import gguf  # noqa: E402

    t0 = time.time()
    ckpt = os.path.join(work, "olmoe-3l")
    bf16_gguf = os.path.join(work, "olmoe-3l-bf16.gguf")
    ggufs = {"BF16": bf16_gguf}
    for q in ("Q8_0", "Q4_0"):
        ggufs[q] = os.path.join(work, f"olmoe-3l-{q.lower()}-pure.gguf")
    reuse = args.reuse and os.path.exists(bf16_gguf) and os.path.exists(
        os.path.join(ckpt, "model.safetensors"))
    if not reuse:
        tensors = write_checkpoint(ckpt, cfg)
        write_gguf(bf16_gguf, cfg, tensors, gguf)
        del tensors
        print(f"wrote the checkpoint and the GGUF ({time.time() - t0:.0f} s)", flush=True)
    # --pure: every matrix in the one type, as moec's --quantize does
    # (llama-quantize's default would make the LM head Q6_K for Q4_0).
    for q in ("Q8_0", "Q4_0"):
        if not (reuse and os.path.exists(ggufs[q])):
            run([quantize, "--pure", bf16_gguf, ggufs[q], q, str(args.threads)])

    compile_s = {}
    for name, flags in BINARIES.items():
        t0 = time.time()
        run([moec, "-q", ckpt, "-o", os.path.join(work, f"olmoe-{name}")] + flags)
        compile_s[name] = time.time() - t0
    roof = run([os.path.join(args.build, "bin", "moec-roofline"), "--threads",
                str(args.threads)])
    bandwidth = float(re.search(r"best_gb_per_s=([0-9.]+)", roof).group(1))

    # Each round measures every binary and GGUF once, moec and llama.cpp
    # side by side; a row keeps each one's best round (the machine's speed
    # drifts more between minutes than within one).
    best_moec, best_llama = {}, {}
    for _ in range(args.rounds):
        for _, variants, theirs in PAIRS:
            for v in variants:
                m, decode_bytes = moec_bench(os.path.join(work, f"olmoe-{v}"),
                                             args.threads)
                if v in best_moec:
                    m = {key: max(t, best_moec[v][0][key]) for key, t in m.items()}
                best_moec[v] = (m, decode_bytes)
            l = llama_bench(bench, ggufs[theirs], args.threads)
            if theirs in best_llama:
                l = {key: max(t, best_llama[theirs].get(key, 0)) for key, t in l.items()}
            best_llama[theirs] = l

    rows = []
    for ours, variants, theirs in PAIRS:
        measured = {v: best_moec[v] for v in variants}
        l = best_llama[theirs]
        for test, depth in TESTS:
            best = max(variants, key=lambda v: measured[v][0][(test, depth)])
            m, decode_bytes = measured[best]
            row = {"moec": ours, "act": "int8" if best.endswith("act8") else "fp32",
                   "llama.cpp": theirs, "test": test, "depth": depth,
                   "moec_ts": m[(test, depth)], "llama_ts": l.get((test, depth)),
                   "all_moec_ts": {v: measured[v][0][(test, depth)] for v in variants}}
            if test == "tg128":
                row["decode_bytes"] = decode_bytes[depth]
                row["moec_gb_per_s"] = m[(test, depth)] * decode_bytes[depth] / 1e9
                row["moec_roofline"] = row["moec_gb_per_s"] / bandwidth
            rows.append(row)
            print(json.dumps(row), flush=True)
    roof_after = run([os.path.join(args.build, "bin", "moec-roofline"), "--threads",
                      str(args.threads)])
    bandwidth_after = float(re.search(r"best_gb_per_s=([0-9.]+)", roof_after).group(1))

    lines = report(rows, bandwidth, bandwidth_after, args.threads, compile_s,
                   args.rounds)
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
