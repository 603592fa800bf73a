#!/usr/bin/python3
"""Quantized MoE layers on the CPU: moec's schemes against its fp32 build,
the read-bandwidth roofline, ONNX Runtime's QMoE and llama.cpp.

Writes one layer of moe_layer.py (default: OLMoE's shape), compiles it
with moec once per configuration (fp32; --quantize int8, int4-g32,
int4-g128; --act fp32 and int8), and times each binary at decode (T=1)
and prefill (T=512) on 2 threads. The same weights written as a
com.microsoft.QMoE int4 layer (block 32) are compiled as imported and run
under ONNX Runtime; llama_cpp.py writes them (plus one attention block) as
Q8_0 and Q4_0 GGUF files and times llama-bench. The roofline
(moec-roofline) is measured right before and after every timed series and
each series is compared with the mean of its two. Decode reads the router
and k experts' quantized bytes (codes and scales): GB/s = those bytes /
time (llama.cpp: plus its attention weights). Prefill reports GOP/s =
2 * T * (k * 3 * H * I + H * E) / time. Accuracy: each moec build's output
on 64 tokens against the fp32 build's (relative L2 error and cosine).

usage: bench/cpu_quant.py [--build build] [--work DIR] [--shape olmoe]
       [--threads 2] [--out docs/benchmarks] [--no-peers]
"""

import argparse
import json
import os
import re
import shutil
import time

import numpy as np

import llama_cpp
from cpu_fp32 import HERE, ROOT, WINDOWS, roofline, run  # noqa: F401
from moe_layer import SHAPES, write_layer, write_qmoe_layer

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


def qmoe_bytes(cfg, block=32):
    """Bytes of one expert of the QMoE int4 layer (f32 block scales)."""
    n = 3 * cfg["H"] * cfg["I"]
    return n / 2 + 4.0 * n / block


def ort_times(args, model, decode_pool, prefill_pool):
    """ONNX Runtime's decode and prefill ms (median) on `model`."""
    times = []
    for pool, tokens, iterations in ((decode_pool, 1, 20),
                                     (prefill_pool, args.prefill, 2)):
        out = run(["node", os.path.join(HERE, "ort_moe.js"), model, pool,
                   str(args.threads), f"{tokens}:{iterations}"], cwd=ROOT)
        times.append(json.loads(out.strip().splitlines()[-1])["median_ms"])
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--work")
    ap.add_argument("--shape", default="olmoe")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prefill", type=int, default=512)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks"))
    ap.add_argument("--no-peers", action="store_true",
                    help="skip ONNX Runtime's QMoE and llama.cpp")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    args.work = args.work or os.path.join(args.build, "bench")
    cfg = SHAPES[args.shape]
    d = os.path.join(args.work, args.shape)
    qd = os.path.join(args.work, args.shape + "-qmoe4")
    if not os.path.exists(os.path.join(d, "shape.json")):
        print(f"[{args.shape}] writing the layer", flush=True)
        write_layer(args.shape, d)
    if not os.path.exists(os.path.join(qd, "shape.json")):
        print(f"[{args.shape}] writing the QMoE int4 layer", flush=True)
        write_qmoe_layer(args.shape, qd)
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

    def measure(name, scheme, act, model, flags, bytes_per_expert):
        nonlocal reference
        binary = os.path.join(d, f"moe-{name}-{act}")
        start = time.time()
        run([os.path.join(args.build, "bin", "moec"), "-q", model, "-o",
             binary] + flags)
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
        decode_bytes = 4.0 * H * E + k * bytes_per_expert
        row = dict(system="moec", model=name, scheme=scheme, act=act,
                   compile_s=compile_s, decode_ms=decode_ms,
                   roofline_gb_per_s=decode_roof,
                   decode_gb_per_s=decode_bytes / decode_ms / 1e6,
                   prefill_ms=prefill_ms, prefill_gops=ops / prefill_ms / 1e6,
                   rel_l2=rel, cosine=cos)
        row["pct_roofline"] = 100 * row["decode_gb_per_s"] / decode_roof
        rows.append(row)
        print(json.dumps(row), flush=True)

    model = os.path.join(d, "model.onnx")
    for scheme, flags, act in CONFIGS:
        measure(scheme, scheme, act, model, flags, expert_bytes(cfg, scheme))
    # The same weights pre-quantized as com.microsoft.QMoE int4 (block 32).
    qmodel = os.path.join(qd, "model.onnx")
    for act in ("fp32", "int8"):
        measure("qmoe4", "QMoE int4-g32", act, qmodel, [f"--act={act}"],
                qmoe_bytes(cfg))
    if not args.no_peers:
        before = roofline(args.build, args.threads)
        decode_ms, prefill_ms = ort_times(args, qmodel, decode_pool,
                                          prefill_pool)
        roof = (before + roofline(args.build, args.threads)) / 2
        gbs = (4.0 * H * E + k * qmoe_bytes(cfg)) / decode_ms / 1e6
        rows.append(dict(system="ONNX Runtime", model="qmoe4",
                         scheme="QMoE int4-g32", act="fp32",
                         decode_ms=decode_ms, decode_gb_per_s=gbs,
                         roofline_gb_per_s=roof, pct_roofline=100 * gbs / roof,
                         prefill_ms=prefill_ms,
                         prefill_gops=ops / prefill_ms / 1e6))
        print(json.dumps(rows[-1]), flush=True)
        for qtype in ("q8_0", "q4_0"):
            before = roofline(args.build, args.threads)
            row = llama_cpp.measure(args.build, args.work, args.shape, qtype,
                                    args.threads, prefill=args.prefill)
            roof = (before + roofline(args.build, args.threads)) / 2
            row.update(system="llama.cpp", model="gguf", act="q8_1 (int8)",
                       roofline_gb_per_s=roof,
                       pct_roofline=100 * row["decode_gb_per_s"] / roof)
            rows.append(row)
            print(json.dumps(row), flush=True)
    fp32 = rows[0]
    for row in rows:
        row["decode_speedup_vs_fp32"] = fp32["decode_ms"] / row["decode_ms"]
        row["prefill_speedup_vs_fp32"] = fp32["prefill_ms"] / row["prefill_ms"]
    lines = [
        f"# Quantized MoE layer ({args.shape}): moec fp32 / int8 / int4 and peers",
        "",
        f"Written by bench/cpu_quant.py on {time.strftime('%Y-%m-%d')}, "
        f"{args.threads} threads, layer H={H} E={E} k={k} I={I}; decode "
        f"T=1, prefill T={args.prefill}; how to read it: "
        "docs/quantization.md. llama.cpp's GB/s count its attention weights "
        "too, and its GOP/s its attention projections and scores.",
        "",
        "| system | weights | act | decode ms | decode GB/s (% roofline) | "
        "decode vs moec fp32 | prefill ms | prefill GOP/s | prefill vs moec "
        "fp32 | rel L2 vs fp32 | cosine |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        accuracy = (f"{r['rel_l2']:.4f} | {r['cosine']:.6f}" if "rel_l2" in r
                    else "- | -")
        lines.append(
            f"| {r['system']} | {r['scheme']} | {r['act']} | "
            f"{r['decode_ms']:.3f} | {r['decode_gb_per_s']:.1f} "
            f"({r['pct_roofline']:.0f}%) | "
            f"{r['decode_speedup_vs_fp32']:.2f}x | {r['prefill_ms']:.1f} | "
            f"{r['prefill_gops']:.0f} | {r['prefill_speedup_vs_fp32']:.2f}x | "
            f"{accuracy} |")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "cpu-quant.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out, "cpu-quant.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print("\n".join(lines))
    if not args.keep:
        shutil.rmtree(d)
        shutil.rmtree(qd)


if __name__ == "__main__":
    main()
