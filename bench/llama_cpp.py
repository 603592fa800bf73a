#!/usr/bin/python3
"""llama.cpp as a peer: builds llama-bench, writes a one-layer GGUF of a
MoE shape with the same expert weights as moe_layer.py, and times it.

llama.cpp comes from npm: node-llama-cpp@3.22.1 ships its full source as a
git bundle (llama/gitRelease.bundle), installed with --ignore-scripts
--omit=optional under BUILD/llama-cpp, cloned, and built for this CPU
(GGML_NATIVE) with CMake and Ninja; only llama-bench is built. The GGUF is
written with the gguf-py package of that source (numpy only).

The model is one OLMoE-architecture layer: attention (q, k, v, o [H, H],
16 heads, q/k RMS norms), the router (F32 [E, H]) and the experts of
moe_layer.py (gate and up from fc1's alternate rows, down from fc2),
quantized to Q8_0 or Q4_0 with llama.cpp's reference quantizer; a vocabulary
of VOCAB dummy tokens ("no_vocab") with F32 token embedding and output.
llama-bench runs it with -embd 1 (embeddings out), -p T (prefill) and -n N
(decode).

Bytes a decode step reads: the attention weights, the router, k experts and
the output rows; GOP a prefill token costs: 2 x (attention projections +
router + k experts) plus attention scores over the average context.

usage: bench/llama_cpp.py [--build build] [--shape olmoe] [--threads 2]
       [--types q8_0,q4_0]   (prints one JSON line per type)
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np

from moe_layer import SHAPES, LayerWeights

NODE_LLAMA_CPP = "node-llama-cpp@3.22.1"
VOCAB = 256
HEADS = 16
# ggml block sizes in bytes per 32 weights.
BYTES_PER_32 = {"q8_0": 34, "q4_0": 18}


def run(cmd, cwd=None):
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def fetch_source(build):
    """llama.cpp's source under BUILD/llama-cpp/src, from node-llama-cpp's
    git bundle, fetched if missing."""
    root = os.path.join(os.path.abspath(build), "llama-cpp")
    src = os.path.join(root, "src")
    if os.path.exists(src):
        return src
    os.makedirs(root, exist_ok=True)
    bundle = os.path.join(root, "node_modules", "node-llama-cpp", "llama",
                          "gitRelease.bundle")
    if not os.path.exists(bundle):
        print(f"installing {NODE_LLAMA_CPP} (llama.cpp source)", flush=True)
        run(["npm", "install", "--prefix", root, "--ignore-scripts",
             "--omit=optional", "--no-save", NODE_LLAMA_CPP])
    run(["git", "clone", "-q", bundle, src])
    return src


def prepare(build):
    """llama-bench and the gguf-py directory, building them if missing."""
    src = fetch_source(build)
    bench = os.path.join(src, "build", "bin", "llama-bench")
    if os.path.exists(bench):
        return bench, os.path.join(src, "gguf-py")
    print("building llama-bench (a few minutes)", flush=True)
    run(["cmake", "-S", src, "-B", os.path.join(src, "build"), "-G", "Ninja",
         "-DCMAKE_BUILD_TYPE=Release", "-DGGML_NATIVE=ON", "-DLLAMA_CURL=OFF",
         "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_SERVER=OFF",
         "-DBUILD_SHARED_LIBS=OFF",
         "-DCMAKE_C_COMPILER_LAUNCHER=ccache",
         "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"])
    run(["ninja", "-C", os.path.join(src, "build"), "llama-bench"])
    return bench, os.path.join(src, "gguf-py")


def write_gguf(shape, path, qtype, gguf_py):
    """One OLMoE layer of `shape` in `qtype` (q8_0 or q4_0) at `path`."""
    sys.path.insert(0, gguf_py)
    import gguf
    cfg = SHAPES[shape]
    H, E, k, I = cfg["H"], cfg["E"], cfg["k"], cfg["I"]
    quant = {"q8_0": gguf.GGMLQuantizationType.Q8_0,
             "q4_0": gguf.GGMLQuantizationType.Q4_0}[qtype]
    writer = gguf.GGUFWriter(path, "olmoe")
    writer.add_block_count(1)
    writer.add_context_length(4096)
    writer.add_embedding_length(H)
    writer.add_feed_forward_length(I)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(HEADS)
    writer.add_rope_dimension_count(H // HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_expert_count(E)
    writer.add_expert_used_count(k)
    writer.add_vocab_size(VOCAB)
    writer.add_tokenizer_model("no_vocab")

    def quantized(name, array):
        writer.add_tensor(name, gguf.quants.quantize(array, quant),
                          raw_dtype=quant)

    rng = np.random.default_rng(1)
    ones = np.ones(H, np.float32)
    weights = LayerWeights(cfg)
    writer.add_tensor("token_embd.weight",
                      rng.standard_normal((VOCAB, H), dtype=np.float32))
    writer.add_tensor("output_norm.weight", ones)
    writer.add_tensor("output.weight",
                      rng.standard_normal((VOCAB, H), dtype=np.float32) * 0.02)
    for name in ("attn_norm", "ffn_norm", "attn_q_norm", "attn_k_norm"):
        writer.add_tensor(f"blk.0.{name}.weight", ones)
    for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
        quantized(f"blk.0.{name}.weight",
                  rng.standard_normal((H, H), dtype=np.float32) / np.sqrt(H))
    writer.add_tensor("blk.0.ffn_gate_inp.weight",
                      np.ascontiguousarray(weights.router().T))
    fc1 = np.stack(list(weights.fc1()))  # [E, 2I, H], gate/up alternating
    quantized("blk.0.ffn_gate_exps.weight", np.ascontiguousarray(fc1[:, 0::2]))
    quantized("blk.0.ffn_up_exps.weight", np.ascontiguousarray(fc1[:, 1::2]))
    del fc1
    quantized("blk.0.ffn_down_exps.weight", np.stack(list(weights.fc2())))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def decode_bytes(cfg, qtype):
    """Weight bytes one decode step reads."""
    H, E, k, I = cfg["H"], cfg["E"], cfg["k"], cfg["I"]
    per = BYTES_PER_32[qtype] / 32
    return per * (4 * H * H + k * 3 * H * I) + 4 * (H * E + VOCAB * H)


def ops_per_token(cfg, context):
    """Multiply-adds x 2 of one token with `context` earlier positions."""
    H, E, k, I = cfg["H"], cfg["E"], cfg["k"], cfg["I"]
    return 2 * (4 * H * H + H * E + k * 3 * H * I + VOCAB * H + 2 * H * context)


def bench(llama_bench, path, threads, prefill, decode, repetitions=3):
    """(prefill tokens/s, decode tokens/s) from llama-bench."""
    out = run([llama_bench, "-m", path, "-t", str(threads), "-p", str(prefill),
               "-n", str(decode), "-embd", "1", "-r", str(repetitions),
               "-o", "json"])
    results = json.loads(out)
    rate = lambda r: r["avg_ts"]
    pp = [rate(r) for r in results if r["n_prompt"] > 0 and r["n_gen"] == 0]
    tg = [rate(r) for r in results if r["n_gen"] > 0 and r["n_prompt"] == 0]
    return pp[0], tg[0]


def measure(build, work, shape, qtype, threads, prefill=512, decode=64):
    """One llama.cpp row: decode ms and weight GB/s, prefill GOP/s."""
    llama_bench, gguf_py = prepare(build)
    cfg = SHAPES[shape]
    path = os.path.join(work, f"{shape}-{qtype}.gguf")
    if not os.path.exists(path):
        print(f"[{shape}] writing {os.path.basename(path)}", flush=True)
        write_gguf(shape, path, qtype, gguf_py)
    pp, tg = bench(llama_bench, path, threads, prefill, decode)
    decode_ms = 1e3 / tg
    return dict(peer="llama.cpp", scheme=qtype, decode_ms=decode_ms,
                decode_gb_per_s=decode_bytes(cfg, qtype) / decode_ms / 1e6,
                prefill_ms=1e3 * prefill / pp,
                prefill_gops=pp * ops_per_token(cfg, (prefill + 1) / 2) / 1e9,
                prefill_tokens_per_s=pp, decode_tokens_per_s=tg)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "build"))
    ap.add_argument("--work")
    ap.add_argument("--shape", default="olmoe")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--types", default="q8_0,q4_0")
    args = ap.parse_args()
    work = args.work or os.path.join(args.build, "bench", args.shape)
    os.makedirs(work, exist_ok=True)
    for qtype in args.types.split(","):
        print(json.dumps(measure(args.build, work, args.shape, qtype,
                                 args.threads)), flush=True)


if __name__ == "__main__":
    main()
