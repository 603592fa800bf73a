#!/usr/bin/python3
"""A whole MoE model on the reference NPU's simulator.

The model is the speed issue's OLMoE-1B-7B config cut to 3 layers (hidden
2048, 16 heads of 128, 64 experts of width 1024, top-8, vocabulary 50304;
bench/whole_model.py writes it: random BF16 weights, 2.7 GiB, under
build/bench-whole-model unless it is there already). It is compiled for the
npu target (buckets of 1 and 512 tokens, the KV cache in f16, the cube's
type, so that the attention loads it straight into L1, double-buffered)
and run with --npu-stats:

  decode      one token at KV depth 0, and one at depth 512 (after a
              512-token prompt), each a call of the 1-token program;
  prefill     512 tokens in one call, the LM head on the last row only
              (--last-logits, as llama-bench's pp512).

For each: cycles, time at the chip's clock, the cube's, vector unit's and
DMA engines' utilisation, GM bytes, and the described chip's roofline:

    roofline cycles = max(bytes / GM bytes per cycle, ops / peak ops per cycle)

bytes: every weight the call must read once in the cube's type (f16: the
attention projections, the router, the experts the call routes to: 8 at
decode, all 64 at 512 tokens, the LM head), the norm weights and one
embedding row per token in f32, and the KV cache (f16) up to the call's
last position; ops: 2 per multiply-add of those matmuls plus the
attention's QK^T and PV over the causal half. The logits are also checked
against the CPU target's binary on the same checkpoint with the same f16
cache (fp32 arithmetic, itself within 1e-5 of float64 on every test
model): max|npu - cpu| / max|cpu|. One token must be within the NPU's
4e-3; after a 512-token prompt the random router (64 experts, top-8) has
near-ties that f16 rounding flips, and a token that changes experts
changes the later ones through the attention, so those errors are
reported, not held to it.

usage: bench/npu_whole_model.py [--work DIR] [--out MD]
"""

import argparse
import os
import re
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "models"))
import whole_model  # noqa: E402
from npu_moe_layer import chip_figures  # noqa: E402

BUILD = os.path.join(ROOT, "build")
MOEC = os.path.join(BUILD, "sdk", "bin", "moec")
CPU_MOEC = os.path.join(BUILD, "bin", "moec")
PLUGIN = os.path.join(BUILD, "targets", "npu-plugin", "libMoecTargetNpu.so")
TOLERANCE = 4e-3


def run(cmd, **kw):
    print("$", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def parse_stats(text):
    """The last call's --npu-stats: cycles, GM bytes, average utilisation."""
    calls = text.split("npu: ")[1:]
    last = calls[-1]
    stats = {"cycles": int(re.search(r"cycles: (\d+)", last).group(1)),
             "gm_bytes": int(re.search(r"GM: (\d+) bytes", last).group(1))}
    header = re.search(r"^\s+S\s+M\s+V\s+MTE1\s+MTE2\s+MTE3$", last, re.M)
    rows = [list(map(float, re.findall(r"([0-9.]+)%", line)))
            for line in last[header.end():].splitlines()
            if line.startswith("core ")]
    for i, pipe in enumerate(("S", "M", "V", "MTE1", "MTE2", "MTE3")):
        stats[pipe] = sum(r[i] for r in rows) / len(rows)
    return stats


def roofline(cfg, tokens, depth, routed, chip):
    """Bytes and ops a call must move and compute (see the docstring)."""
    H, I, E, V, L = (cfg["hidden_size"], cfg["intermediate_size"], cfg["num_experts"],
                     cfg["vocab_size"], cfg["num_hidden_layers"])
    k = cfg["num_experts_per_tok"]
    f16, f32 = 2, 4
    per_layer = (4 * H * H + E * H + routed * 3 * H * I) * f16 + 4 * H * f32
    keys = depth + tokens
    kv = L * 2 * keys * H * f16
    weights = L * per_layer + V * H * f16 + H * f32 + tokens * H * f32
    nbytes = weights + kv
    ops = 2 * tokens * L * (4 * H * H + E * H + k * 3 * H * I)
    ops += 2 * V * H  # one row of the LM head
    # QK^T and PV over the keys each query sees.
    seen = tokens * depth + tokens * (tokens + 1) / 2
    ops += L * 2 * 2 * seen * H
    cycles = max(nbytes / chip["gm"], ops / chip["peak"])
    return nbytes, ops, cycles


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default=os.path.join(BUILD, "bench-whole-model"))
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks",
                                                 "npu-whole-model.md"))
    args = p.parse_args()
    cfg = dict(whole_model.CONFIG, num_hidden_layers=3)
    ckpt = os.path.join(args.work, "olmoe-3l")
    if not os.path.exists(os.path.join(ckpt, "model.safetensors")):
        t0 = time.time()
        whole_model.write_checkpoint(ckpt, cfg)
        print(f"wrote the checkpoint ({time.time() - t0:.0f} s)", flush=True)
    npu = os.path.join(args.work, "olmoe-npu")
    cpu = os.path.join(args.work, "olmoe-cpu-kv16")
    t0 = time.time()
    run([MOEC, "-q", f"--load-target-plugin={PLUGIN}", "--target=npu",
         "--npu-buckets=1,512", "--max-tokens=512", "--ctx-size=1024",
         "--kv-cache=f16", ckpt, "-o", npu])
    compile_s = time.time() - t0
    if not os.path.exists(cpu):
        run([CPU_MOEC, "-q", "--ctx-size=1024", "--kv-cache=f16", ckpt, "-o", cpu])
    rng = np.random.default_rng(0)
    ids = rng.integers(0, cfg["vocab_size"], 513).astype(np.int64)
    paths = {}
    for name, n in (("one", 1), ("prompt", 512), ("deep", 513)):
        paths[name] = os.path.join(args.work, f"ids-{name}.npy")
        np.save(paths[name], ids[:n])
    chip = chip_figures()
    cases = (("decode, depth 0", "one", [], 1, 0, 8),
             ("prefill 512", "prompt", [], 512, 0, cfg["num_experts"]),
             ("decode, depth 512", "deep", ["--chunk", "512"], 1, 512, 8))
    rows = []
    for label, name, extra, tokens, depth, routed in cases:
        out_npu = os.path.join(args.work, f"npu-{name}.npy")
        out_cpu = os.path.join(args.work, f"cpu-{name}.npy")
        t0 = time.time()
        result = run([npu, "--tokens", paths[name], "--last-logits", "--logits",
                      out_npu, "--npu-stats"] + extra)
        sim_s = time.time() - t0
        run([cpu, "--tokens", paths[name], "--last-logits", "--logits", out_cpu] + extra)
        a, b = np.load(out_npu), np.load(out_cpu)
        error = float(np.abs(a - b).max() / np.abs(b).max())
        stats = parse_stats(result.stderr)
        nbytes, ops, roof = roofline(cfg, tokens, depth, routed, chip)
        rows.append(dict(label=label, stats=stats, bytes=nbytes, ops=ops, roof=roof,
                         error=error, sim_s=sim_s))
        print(label, stats, f"roofline {roof:.0f} cycles "
              f"({100 * roof / stats['cycles']:.1f}%), error {error:.1e}", flush=True)
    lines = [
        "# The 3-layer OLMoE-shaped model on the reference NPU",
        "",
        "Written by `bench/npu_whole_model.py` (see its docstring for the model, the",
        "roofline's bytes and ops, and the check against the CPU target). Default",
        f"chip `davinci-ref`: {chip['gm']:.0f} GM bytes per cycle, "
        f"{chip['peak']} f16 ops per cycle, {chip['clock']:g} GHz.",
        f"Compiling took {compile_s:.0f} s.",
        "",
        "| call | cycles | µs | roofline cycles | % of roofline | GM bytes (min) "
        "| cube | vector | MTE1 | MTE2 | MTE3 | error vs CPU | simulated in |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        s = r["stats"]
        lines.append(
            f"| {r['label']} | {s['cycles']} | {s['cycles'] / chip['clock'] / 1e3:.1f} "
            f"| {r['roof']:.0f} | {100 * r['roof'] / s['cycles']:.1f}% "
            f"| {s['gm_bytes'] / 1e6:.1f} MB ({r['bytes'] / 1e6:.1f}) "
            f"| {s['M']:.1f}% | {s['V']:.1f}% | {s['MTE1']:.1f}% | {s['MTE2']:.1f}% "
            f"| {s['MTE3']:.1f}% | {r['error']:.1e} | {r['sim_s']:.0f} s |")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if rows[0]["error"] <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
