#!/usr/bin/python3
"""Quantized MoE layers on the CPU: moec's schemes against its fp32 build
and the read-bandwidth roofline.

Writes one layer of moe_layer.py (default: OLMoE's shape), compiles it
with moec once per configuration (fp32; --quantize int8, int4-g32,
int4-g128; --act fp32 and int8), and times each binary at decode (T=1)
and prefill (T=512) on 2 threads. The roofline (moec-roofline) is measured
right before and after every timed series and each series is compared with
the mean of its two. Decode reads the router and k experts' quantized bytes
(codes and scales): GB/s = those bytes / time. Prefill reports GOP/s =
2 * T * (k * 3 * H * I + H * E) / time. Accuracy: each build's output on 64
tokens against the fp32 build's (relative L2 error and cosine).

usage: bench/cpu_quant.py [--build build] [--work DIR] [--shape olmoe]
       [--threads 2] [--out docs/benchmarks]
"""

import argparse
import json
import os
import re
import shutil
import time

import numpy as np

from cpu_fp32 import HERE, ROOT, WINDOWS, roofline, run  # noqa: F401
from moe_layer import SHAPES, write_layer

CONFIGS = [
    ("fp32", [], "fp32"),
    ("int8", ["--quantize=int8"], "fp32"),
    ("int8", ["--quantize=int8", "--act=int8"], "int8"),
    ("int4-g32", ["--quantize=int4-g32"], "fp32"),
    ("int4-g32", ["--quantize=int4-g32", "--act=int8"], "int8"),
    ("int4-g128", ["--quantize=int4-g128"], "fp32"),
    ("int4-g128", ["--quantize=int4-g128", "--act=int8"], "int8"),
]


def expert_bytes(cfg, scheme):
    """Bytes of one expert's three [H, I] matrices in `scheme`."""
    n = 3 * cfg["H"] * cfg["I"]
    if scheme == "fp32":
        return 4.0 * n
    if scheme == "int8":
        return n + 4.0 * (2 * cfg["I"] + cfg["H"])  # f32 per-channel scales
    group = int(scheme.split("-g")[1])
    return n / 2 + 2.0 * n / group  # f16 group scales


def timed(args, binary, path, tokens, iterations):
    before = roofline(args.build, args.threads)
    out = run([binary, "--input", path, "--bench", "--bench-tokens",
               str(tokens), "--threads", str(args.threads), "--iterations",
               str(iterations)])
    after = roofline(args.build, args.threads)
    return float(re.search(r"latency_ms=([0-9.]+)", out).group(1)), \
        (before + after) / 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--work")
    ap.add_argument("--shape", default="olmoe")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prefill", type=int, default=512)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks"))
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    args.work = args.work or os.path.join(args.build, "bench")
    cfg = SHAPES[args.shape]
    d = os.path.join(args.work, args.shape)
    if not os.path.exists(os.path.join(d, "shape.json")):
        print(f"[{args.shape}] writing the layer", flush=True)
        write_layer(args.shape, d)
    rng = np.random.default_rng(1)
    pool = rng.standard_normal((WINDOWS * args.prefill, cfg["H"]), np.float32)
    decode_pool = os.path.join(d, "pool_1.npy")
    prefill_pool = os.path.join(d, "pool_prefill.npy")
    check = os.path.join(d, "check.npy")
    np.save(decode_pool, pool[:WINDOWS])
    np.save(prefill_pool, pool)
    np.save(check, pool[:64])
    H, E, k, I = cfg["H"], cfg["E"], cfg["k"], cfg["I"]
    ops = 2.0 * args.prefill * (k * 3 * H * I + H * E)
    rows, reference = [], None
    for scheme, flags, act in CONFIGS:
        binary = os.path.join(d, f"moe-{scheme}-{act}")
        start = time.time()
        run([os.path.join(args.build, "bin", "moec"), "-q",
             os.path.join(d, "model.onnx"), "-o", binary] + flags)
        compile_s = time.time() - start
        os.sync()
        decode_ms, decode_roof = timed(args, binary, decode_pool, 1, 200)
        prefill_ms, _ = timed(args, binary, prefill_pool, args.prefill, 5)
        out = os.path.join(d, "out.npy")
        run([binary, "--input", check, "--output", out, "--threads",
             str(args.threads)])
        y = np.load(out).astype(np.float64)
        if reference is None:
            reference = y
        rel = float(np.linalg.norm(y - reference) / np.linalg.norm(reference))
        cos = float((y * reference).sum() /
                    (np.linalg.norm(y) * np.linalg.norm(reference)))
        decode_bytes = 4.0 * H * E + k * expert_bytes(cfg, scheme)
        row = dict(scheme=scheme, act=act, compile_s=compile_s,
                   decode_ms=decode_ms, roofline_gb_per_s=decode_roof,
                   decode_gb_per_s=decode_bytes / decode_ms / 1e6,
                   prefill_ms=prefill_ms,
                   prefill_gops=ops / prefill_ms / 1e6,
                   rel_l2=rel, cosine=cos)
        row["pct_roofline"] = 100 * row["decode_gb_per_s"] / decode_roof
        rows.append(row)
        print(json.dumps(row), flush=True)
    fp32 = rows[0]
    for row in rows:
        row["decode_speedup_vs_fp32"] = fp32["decode_ms"] / row["decode_ms"]
        row["prefill_speedup_vs_fp32"] = fp32["prefill_ms"] / row["prefill_ms"]
    lines = [
        f"# Quantized MoE layer ({args.shape}): moec fp32 / int8 / int4",
        "",
        f"Written by bench/cpu_quant.py on {time.strftime('%Y-%m-%d')}, "
        f"{args.threads} threads, layer H={H} E={E} k={k} I={I}; decode "
        f"T=1, prefill T={args.prefill}; how to read it: "
        "docs/quantization.md.",
        "",
        "| weights | act | decode ms | decode GB/s (% roofline) | decode "
        "vs fp32 | prefill ms | prefill GOP/s | prefill vs fp32 | rel L2 "
        "vs fp32 | cosine |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['scheme']} | {r['act']} | {r['decode_ms']:.3f} | "
            f"{r['decode_gb_per_s']:.1f} ({r['pct_roofline']:.0f}%) | "
            f"{r['decode_speedup_vs_fp32']:.2f}x | {r['prefill_ms']:.1f} | "
            f"{r['prefill_gops']:.0f} | {r['prefill_speedup_vs_fp32']:.2f}x | "
            f"{r['rel_l2']:.4f} | {r['cosine']:.6f} |")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "cpu-quant.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out, "cpu-quant.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print("\n".join(lines))
    if not args.keep:
        shutil.rmtree(d)


if __name__ == "__main__":
    main()
