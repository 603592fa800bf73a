#!/usr/bin/python3
"""Expert-sparsity passes on a layer with skewed routing: error, size, speed.

Writes an fp32 MoE layer (moe_layer.py; OLMoE's shape by default) and
draws tokens whose expert popularity is Zipf-like, as in trained MoEs:
x = z + c with z ~ N(0, 1) and c chosen so that c @ W_router = b,
b_e = -ZIPF * log(e + 1) (expert e is picked about (e + 1)^-ZIPF as often
as expert 0). An instrumented build (moec --profile-routing) profiles two
calibration batches, `moec profile merge` joins them; then every pass and
setting is compiled and measured against the unedited layer on held-out
tokens: relative L2 error and cosine of the outputs, binary + weights
size, decode (T=1, 64 windows of different tokens) and prefill (T=128)
latency with the same threads, each timed alternately with the unedited
layer's binary (bandwidth drifts by tens of percent within a minute) and
reported as a speed-up over the baseline's mean around it. Writes
docs/benchmarks/sparsity.{md,json,png}.

usage: bench/sparsity.py [--build build] [--shape olmoe] [--threads 2]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from moe_layer import SHAPES, write_layer  # noqa: E402

ZIPF = 1.0
HELD_OUT, PREFILL, DECODE_WINDOWS = 512, 128, 64


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed:\n{result.stderr}")
    return result.stdout + result.stderr


def tokens(cfg, router, n, seed):
    H, E = cfg["H"], cfg["E"]
    bias = -ZIPF * np.log(np.arange(E) + 1.0)
    shift = np.linalg.lstsq(router.T.astype(np.float64), bias, rcond=None)[0]
    z = np.random.default_rng(seed).standard_normal((n, H))
    return (z + shift).astype(np.float32)


def variants(profile, E, k):
    q = E // 4
    return [
        ("baseline", []),
        (f"prune freq keep={E - q}", [f"--prune-experts={profile}:keep={E - q}"]),
        (f"prune freq keep={E // 2}", [f"--prune-experts={profile}:keep={E // 2}"]),
        (f"prune saliency keep={E // 2}",
         [f"--prune-experts={profile}:keep={E // 2},metric=saliency"]),
        ("prune budget=0.5", [f"--prune-experts={profile}:budget=0.5"]),
        ("skip beta=0.2", ["--skip-experts=beta=0.2"]),
        ("skip profile fraction=0.5", [f"--skip-experts={profile}:fraction=0.5"]),
        (f"reduce-topk {max(k * 3 // 4, 1)}", [f"--reduce-topk={max(k * 3 // 4, 1)}"]),
        (f"reduce-topk {max(k // 2, 1)}", [f"--reduce-topk={max(k // 2, 1)}"]),
        (f"merge keep={E - q}", [f"--merge-experts={profile}:keep={E - q}"]),
        ("static-capacity 1.25", ["--static-capacity=1.25"]),
        ("static-capacity 8", ["--static-capacity=8"]),
    ]


def latency(binary, x_path, tokens_per_run, iterations, threads):
    out = run([binary, "--input", x_path, "--bench", "--bench-tokens",
               str(tokens_per_run), "--iterations", str(iterations),
               "--threads", str(threads)])
    return float(re.search(r"latency_ms=([0-9.]+)", out).group(1))


def paired(baseline, binary, x_path, tokens_per_run, iterations, threads,
           variant_input=None):
    """Mean latencies of the baseline and the variant, timed alternately
    (baseline, variant, baseline, variant, baseline)."""
    base, mine = [], []
    for _ in range(2):
        base.append(latency(baseline, x_path, tokens_per_run, iterations, threads))
        mine.append(latency(binary, variant_input or x_path, tokens_per_run,
                            iterations, threads))
    base.append(latency(baseline, x_path, tokens_per_run, iterations, threads))
    return float(np.mean(base)), float(np.mean(mine))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--shape", default="olmoe")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks"))
    ap.add_argument("--keep", action="store_true", help="keep the models")
    args = ap.parse_args()
    cfg = SHAPES[args.shape]
    H, E, k = cfg["H"], cfg["E"], cfg["k"]
    moec = os.path.join(args.build, "bin", "moec")
    work = os.path.join(args.build, "bench", "sparsity-" + args.shape)
    os.makedirs(work, exist_ok=True)
    write_layer(args.shape, work)
    model = os.path.join(work, "model.onnx")
    router = np.fromfile(os.path.join(work, "model.onnx.data"), np.float32,
                         count=H * E).reshape(H, E)

    # Profile two calibration batches; merge.
    profiled = os.path.join(work, "profiled")
    run([moec, "-q", model, "--profile-routing", "-o", profiled])
    parts = []
    for i in range(2):
        x_path = os.path.join(work, f"calibration{i}.npy")
        np.save(x_path, tokens(cfg, router, 512, 100 + i))
        parts.append(os.path.join(work, f"calibration{i}.json"))
        run([profiled, "--input", x_path, "--profile-out", parts[-1]])
    profile = os.path.join(work, "profile.json")
    run([moec, "profile", "merge"] + parts + ["-o", profile])
    print(run([moec, "profile", "show", profile]).strip())

    held = tokens(cfg, router, HELD_OUT, 7)
    held_path = os.path.join(work, "held_out.npy")
    np.save(held_path, held)
    prefill_path = os.path.join(work, "prefill.npy")
    np.save(prefill_path, held[:PREFILL])
    rows, reference, baseline = [], None, None
    for name, flags in variants(profile, E, k):
        binary = os.path.join(work, "variant" if flags else "baseline")
        static = any(f.startswith("--static-capacity") for f in flags)
        shape = [f"--input-shape=x={PREFILL},{H}"] if static else []
        report = run([moec, model, "-o", binary] + flags + shape)
        size = os.path.getsize(binary)
        if os.path.exists(binary + ".weights.safetensors"):
            size += os.path.getsize(binary + ".weights.safetensors")
        y_path = os.path.join(work, "y.npy")
        run([binary, "--input", prefill_path if static else held_path,
             "--output", y_path])
        y = np.load(y_path).astype(np.float64)
        if reference is None:
            reference = y
        ref = reference[:len(y)]
        rel = float(np.linalg.norm(y - ref) / np.linalg.norm(ref))
        # Per-token cosine; a token the edit zeroes (all choices dropped)
        # counts as 0.
        norms = np.linalg.norm(y, axis=1) * np.linalg.norm(ref, axis=1)
        cos = float(np.mean(np.where(norms > 0, np.sum(y * ref, 1) /
                                     np.maximum(norms, 1e-300), 0.0)))
        if baseline is None:
            baseline = binary
        # Bandwidth drifts: time the variant between two timings of the
        # baseline, twice, and compare with the baseline's mean.
        decode = prefill = base_decode = base_prefill = None
        if not static:
            base_decode, decode = paired(baseline, binary, held_path, 1,
                                         DECODE_WINDOWS, args.threads)
        base_prefill, prefill = paired(
            baseline, binary, held_path, PREFILL, 8, args.threads,
            variant_input=prefill_path if static else held_path)
        lines = [l.split(": ", 1)[1] for l in report.splitlines()
                 if l.startswith("moe-") and "layer 0" in l]
        rows.append(dict(variant=name, rel_l2=rel, cosine=cos,
                         size_mb=size / 1e6, decode_ms=decode,
                         prefill_ms=prefill, report=lines[0] if lines else "",
                         decode_speedup=base_decode / decode if decode else None,
                         prefill_speedup=base_prefill / prefill))
        print(json.dumps(rows[-1]))
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "sparsity.json"), "w") as f:
        json.dump(dict(shape=args.shape, cfg=cfg, zipf=ZIPF,
                       threads=args.threads, rows=rows), f, indent=1)
    with open(os.path.join(args.out, "sparsity.md"), "w") as f:
        f.write(markdown(rows, args, cfg))
    plot(rows, os.path.join(args.out, "sparsity.png"), args)
    if not args.keep:
        shutil.rmtree(work)


def markdown(rows, args, cfg):
    out = [f"# Expert sparsity on a {args.shape} layer (E={cfg['E']}, "
           f"k={cfg['k']}, H={cfg['H']}, I={cfg['I']}, fp32)\n",
           f"Written by bench/sparsity.py: Zipf-like routing (exponent {ZIPF}), "
           f"profile from 2 x 512 calibration tokens, errors on {HELD_OUT} "
           f"held-out tokens ({PREFILL} for static capacity) against the "
           f"unedited layer, {args.threads} threads. Decode: T=1 over "
           f"{DECODE_WINDOWS} different tokens; prefill: T={PREFILL}.\n",
           "| variant | rel. L2 error | cosine | size MB | decode ms | decode x | "
           "prefill ms | prefill x | what the pass did |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        decode = f"{r['decode_ms']:.2f} | {r['decode_speedup']:.2f}" \
            if r["decode_ms"] else "n/a | n/a"
        out.append(f"| {r['variant']} | {r['rel_l2']:.4f} | {r['cosine']:.4f} | "
                   f"{r['size_mb']:.0f} | {decode} | {r['prefill_ms']:.1f} | "
                   f"{r['prefill_speedup']:.2f} | {shorten(r['report'])} |")
    return "\n".join(out) + "\n"


def shorten(report, width=110):
    return report if len(report) <= width else report[:width - 3] + "..."


def plot(rows, path, args):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5))
    for i, r in enumerate(rows):
        speed = r["decode_speedup"] or r["prefill_speedup"]
        ax.scatter(max(r["rel_l2"], 1e-4), speed, color=f"C{i % 10}",
                   marker="o" if r["decode_speedup"] else "s")
        ax.annotate(r["variant"], (max(r["rel_l2"], 1e-4), speed), fontsize=7,
                    xytext=(4, 2), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("relative L2 error against the unedited layer (1e-4: exact)")
    ax.set_ylabel("decode speed-up (squares: prefill, static capacity)")
    ax.set_title(f"expert sparsity, {args.shape} layer, {args.threads} threads")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
