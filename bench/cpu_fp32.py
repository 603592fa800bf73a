#!/usr/bin/python3
"""fp32 MoE layers on the CPU: moec against ONNX Runtime and the roofline.

For each shape of moe_layer.py: writes the layer as ONNX in the
com.microsoft.MoE form (so ONNX Runtime runs its own MoE kernel), compiles
it once with moec, then times the moec binary and ONNX Runtime CPU
(onnxruntime-node) at each token count with the same threads. Inputs cycle
through 16 windows of different tokens, so decode does not find the chosen
experts in the cache. The read bandwidth roofline
(moec-roofline: a read-only reduction over 2 GiB with the same threads) is
measured right before and after every timed series, moec's and ONNX
Runtime's alike, and each series is compared with the mean of its own two:
this machine's bandwidth drifts by tens of percent within a minute. Writes
a markdown page (the table), a JSON file and a PNG plot.

usage: bench/cpu_fp32.py [--build build] [--work DIR] [--shapes a,b]
       [--tokens 1,8,32,128,512] [--threads 2] [--out docs/benchmarks]

Decode (T=1) reads the router and k experts: GB/s = those bytes / time,
compared with the roofline. Every row reports GFLOP/s = 2 * T * (k * 3 * H
* I + H * E) / time against the fp32 peak (--peak-gflops; 234 on two Zen 4
cores: 2 x 3.65 GHz x 32 flops per cycle).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from moe_layer import SHAPES, write_layer  # noqa: E402

WINDOWS = 16


def run(cmd, **kw):
    result = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if result.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed:\n{result.stderr}")
    return result.stdout


def roofline_program(build):
    return os.path.join(build, "bin", "moec-roofline")


def roofline(build, threads):
    out = run([roofline_program(build), "--threads", str(threads)])
    return float(re.search(r"median_gb_per_s=([0-9.]+)", out).group(1))


def layer_costs(cfg, tokens):
    H, E, k, I = cfg["H"], cfg["E"], cfg["k"], cfg["I"]
    flops = 2.0 * tokens * (k * 3 * H * I + H * E)
    decode_bytes = 4.0 * (H * E + k * 3 * H * I)
    return flops, decode_bytes


def iterations_for(cfg, tokens):
    flops, decode_bytes = layer_costs(cfg, tokens)
    estimate_ms = max(flops / 100e9, decode_bytes / 25e9) * 1e3
    return int(min(400, max(5, 3000 / estimate_ms)))


def bench_shape(args, name):
    cfg = SHAPES[name]
    d = os.path.join(args.work, name)
    if not os.path.exists(os.path.join(d, "shape.json")):
        print(f"[{name}] writing the layer", flush=True)
        write_layer(name, d)
    print(f"[{name}] compiling with moec", flush=True)
    start = time.time()
    run([os.path.join(args.build, "bin", "moec"), "-q",
         os.path.join(d, "model.onnx"), "-o", os.path.join(d, "moe")])
    compile_s = time.time() - start
    rng = np.random.default_rng(1)
    pool = rng.standard_normal((WINDOWS * max(args.tokens), cfg["H"]),
                               dtype=np.float32)
    np.save(os.path.join(d, "pool.npy"), pool)

    os.sync()  # the weights just written must not be flushing while we time
    rows = []
    for tokens in args.tokens:
        path = os.path.join(d, f"pool_{tokens}.npy")
        np.save(path, pool[:WINDOWS * tokens])
        before = roofline(args.build, args.threads)
        out = run([os.path.join(d, "moe"), "--input", path, "--bench",
                   "--bench-tokens", str(tokens), "--threads",
                   str(args.threads), "--iterations",
                   str(iterations_for(cfg, tokens))])
        after = roofline(args.build, args.threads)
        os.remove(path)
        ms = float(re.search(r"latency_ms=([0-9.]+)", out).group(1))
        rows.append(dict(shape=name, tokens=tokens, moec_ms=ms,
                         moec_roofline=(before + after) / 2,
                         moec_roofline_range=[before, after]))
        print(f"[{name}] moec T={tokens}: {ms:.3f} ms", flush=True)
    ort_runs = [f"{t}:{iterations_for(cfg, t)}" for t in args.tokens]
    check_tokens = 8 if 8 in args.tokens else args.tokens[0]
    dump = os.path.join(d, "ort_out.bin")
    out = run(["node", os.path.join(HERE, "ort_moe.js"),
               os.path.join(d, "model.onnx"), os.path.join(d, "pool.npy"),
               str(args.threads)] + ort_runs +
              ["--dump", str(check_tokens), dump,
               "--roofline", roofline_program(args.build)], cwd=ROOT)
    for line, row in zip(out.strip().splitlines(), rows):
        result = json.loads(line)
        row["ort_ms"] = result["median_ms"]
        row["ort_roofline"] = (result["roofline_before"] +
                               result["roofline_after"]) / 2
        row["ort_roofline_range"] = [result["roofline_before"],
                                     result["roofline_after"]]
        print(f"[{name}] ORT T={row['tokens']}: {row['ort_ms']:.3f} ms",
              flush=True)

    # Agreement: moec and ONNX Runtime on the same tokens.
    x = os.path.join(d, "check.npy")
    y = os.path.join(d, "check_out.npy")
    np.save(x, pool[:check_tokens])
    run([os.path.join(d, "moe"), "--input", x, "--output", y,
         "--threads", str(args.threads)])
    ours = np.load(y)
    theirs = np.fromfile(dump, np.float32).reshape(ours.shape)
    agreement = float(np.abs(ours - theirs).max() / np.abs(theirs).max())

    for row in rows:
        flops, decode_bytes = layer_costs(cfg, row["tokens"])
        row.update(compile_s=compile_s, max_rel_diff_vs_ort=agreement)
        for who in ("moec", "ort"):
            seconds = row[f"{who}_ms"] / 1e3
            row[f"{who}_gflops"] = flops / seconds / 1e9
            row[f"{who}_pct_peak"] = 100 * row[f"{who}_gflops"] / args.peak_gflops
            if row["tokens"] == 1:
                row[f"{who}_gb_per_s"] = decode_bytes / seconds / 1e9
                row[f"{who}_pct_roofline"] = (100 * row[f"{who}_gb_per_s"] /
                                              row[f"{who}_roofline"])
        row["speedup_vs_ort"] = row["ort_ms"] / row["moec_ms"]
    if not args.keep:
        shutil.rmtree(d)
    return rows


def markdown(rows, args):
    lines = [
        "# fp32 MoE layers: moec vs ONNX Runtime",
        "",
        f"Written by bench/cpu_fp32.py on {time.strftime('%Y-%m-%d')}, "
        f"{args.threads} threads, fp32 peak {args.peak_gflops:.0f} GFLOP/s; "
        "how to read it: docs/cpu-performance.md.",
        "",
        "| layer | T | moec ms | ORT ms | moec / ORT speed | moec tokens/s | "
        "moec GB/s (% roofline) | ORT GB/s (% roofline) | moec GFLOP/s "
        "(% peak) | ORT GFLOP/s (% peak) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        bw = lambda who: (f"{r[who + '_gb_per_s']:.1f} "
                          f"({r[who + '_pct_roofline']:.0f}%)"
                          if r["tokens"] == 1 else "")
        lines.append(
            f"| {r['shape']} | {r['tokens']} | {r['moec_ms']:.2f} | "
            f"{r['ort_ms']:.2f} | {r['speedup_vs_ort']:.2f}x | "
            f"{r['tokens'] / r['moec_ms'] * 1e3:.0f} | {bw('moec')} | "
            f"{bw('ort')} | {r['moec_gflops']:.0f} ({r['moec_pct_peak']:.0f}%) "
            f"| {r['ort_gflops']:.0f} ({r['ort_pct_peak']:.0f}%) |")
    lines.append("")
    lines.append("| layer | decode roofline, GB/s (before / after moec; "
                 "before / after ORT) | moec compile (s) "
                 "| max \\|moec - ORT\\| / max \\|ORT\\| |")
    lines.append("|---|---|---:|---:|")
    seen = set()
    for r in rows:
        if r["shape"] in seen:
            continue
        seen.add(r["shape"])
        decode = next(x for x in rows
                      if x["shape"] == r["shape"] and x["tokens"] == 1)
        m, o = decode["moec_roofline_range"], decode["ort_roofline_range"]
        lines.append(f"| {r['shape']} | {m[0]:.1f} / {m[1]:.1f}; "
                     f"{o[0]:.1f} / {o[1]:.1f} | {r['compile_s']:.1f} | "
                     f"{r['max_rel_diff_vs_ort']:.1e} |")
    return "\n".join(lines) + "\n"


def plot(rows, path, args):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    shapes = list(dict.fromkeys(r["shape"] for r in rows))
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    decode = [r for r in rows if r["tokens"] == 1]
    xs = np.arange(len(decode))
    left.bar(xs - 0.2, [r["moec_pct_roofline"] for r in decode], 0.4,
             label="moec")
    left.bar(xs + 0.2, [r["ort_pct_roofline"] for r in decode], 0.4,
             label="ONNX Runtime")
    left.axhline(100, color="gray", linestyle="--", linewidth=1)
    left.set_xticks(xs, [r["shape"] for r in decode])
    left.set_ylabel("% of read-bandwidth roofline")
    left.set_title(f"decode (T=1), {args.threads} threads")
    left.legend()
    for i, shape in enumerate(shapes):
        mine = [r for r in rows if r["shape"] == shape]
        color = f"C{i}"
        right.plot([r["tokens"] for r in mine], [r["moec_gflops"] for r in mine],
                   "o-", color=color, label=f"{shape} moec")
        right.plot([r["tokens"] for r in mine], [r["ort_gflops"] for r in mine],
                   "s--", color=color, label=f"{shape} ORT")
    right.axhline(args.peak_gflops, color="gray", linestyle="--", linewidth=1)
    right.set_xscale("log", base=2)
    right.set_xlabel("tokens T")
    right.set_ylabel("GFLOP/s")
    right.set_title(f"fp32 GFLOP/s (peak {args.peak_gflops:.0f})")
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--work", help="models go here (default: BUILD/bench)")
    parser.add_argument("--shapes", default="olmoe,qwen3-30b-a3b,mixtral")
    parser.add_argument("--tokens", default="1,8,32,128,512")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--peak-gflops", type=float, default=234.0)
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks"))
    parser.add_argument("--name", default="cpu-fp32")
    parser.add_argument("--keep", action="store_true",
                        help="keep the generated models")
    args = parser.parse_args()
    args.tokens = [int(t) for t in args.tokens.split(",")]
    args.work = args.work or os.path.join(args.build, "bench")
    for shape in args.shapes.split(","):
        if shape not in SHAPES:
            sys.exit(f"error: unknown shape '{shape}' (have {', '.join(SHAPES)})")
    rows = []
    for shape in args.shapes.split(","):
        rows += bench_shape(args, shape)
    os.makedirs(args.out, exist_ok=True)
    table = markdown(rows, args)
    print(table)
    with open(os.path.join(args.out, f"{args.name}.md"), "w") as f:
        f.write(table)
    with open(os.path.join(args.out, f"{args.name}.json"), "w") as f:
        json.dump(rows, f, indent=1)
    plot(rows, os.path.join(args.out, f"{args.name}.png"), args)


if __name__ == "__main__":
    main()
