#!/usr/bin/python3
"""The OLMoE-shaped MoE layer on the reference NPU's simulator.

Writes the layer with bench/moe_layer.py (random fp32 weights, 1.6 GB under
build/bench-npu), compiles it for the npu target (the plugin built against
the SDK: build/sdk/bin/moec and build/targets/npu-plugin), runs it at
T = 1 and T = 512 tokens with --npu-stats and reports, per token count:
cycles and time at the chip's clock, the utilisation of the cube, the
vector unit and the DMA engines, global-memory bytes and bandwidth, and the
described chip's roofline at the layer's arithmetic intensity:

    roofline cycles = max(bytes / GM bytes per cycle, ops / peak ops per cycle)

with bytes = the weights the routed experts read (in the cube's type) plus
the router's weight and the layer's input and output, and ops = 2 per
multiply-add of the router and the routed experts. It also checks the
outputs against a float64 numpy reference of the layer (tolerance 4e-3 of
max|ref|, as test/targets/npu/moe-models.test states).

usage: bench/npu_moe_layer.py [--keep] [--out docs/benchmarks/npu-moe-layer.md]
"""

import argparse
import json
import os
import re
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import moe_layer  # noqa: E402

BUILD = os.path.join(ROOT, "build")
MOEC = os.path.join(BUILD, "sdk", "bin", "moec")
PLUGIN = os.path.join(BUILD, "targets", "npu-plugin", "libMoecTargetNpu.so")
CHIP = os.path.join(ROOT, "targets", "npu", "chips", "davinci-ref.chip")
TOKENS = (1, 512)


def chip_figures():
    """Clock, GM bytes per cycle and the f16 peak from the default chip."""
    text = open(CHIP).read()
    get = lambda key: re.search(rf"^{key} = ([0-9.]+)", text, re.M).group(1)
    cube = re.search(r"^cube f16 = (\d+)x(\d+)x(\d+)", text, re.M)
    macs = int(cube.group(1)) * int(cube.group(2)) * int(cube.group(3))
    return dict(clock=float(get("clock_ghz")), gm=float(get("gm_bytes_per_cycle")),
                peak=2 * macs * int(get("ai_cores")))


def reference(cfg, data, x):
    """float64 layer: softmax top-k router, SwiGLU experts (fc1 rows
    alternate gate and up), weighted sum; also the experts each token uses."""
    H, E, I, k = cfg["H"], cfg["E"], cfg["I"], cfg["k"]
    router = np.memmap(data, np.float32, "r", 0, (H, E)).astype(np.float64)
    fc1 = np.memmap(data, np.float32, "r", H * E * 4, (E, 2 * I, H))
    fc2 = np.memmap(data, np.float32, "r", H * E * 4 + E * 2 * I * H * 4, (E, H, I))
    xs = x.astype(np.float64)
    logits = xs @ router
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    ids = np.argsort(-p, axis=1, kind="stable")[:, :k]
    w = np.take_along_axis(p, ids, 1)
    if cfg["normalize"]:
        w /= w.sum(1, keepdims=True)
    y = np.zeros_like(xs)
    for e in np.unique(ids):
        tokens, slot = np.nonzero(ids == e)
        h = xs[tokens] @ fc1[e].astype(np.float64).T
        g, u = h[:, 0::2], h[:, 1::2]
        a = g / (1 + np.exp(-g)) * u
        y[tokens] += w[tokens, slot][:, None] * (a @ fc2[e].astype(np.float64).T)
    return y, len(np.unique(ids))


def parse_stats(text):
    stats = dict(cycles=int(re.search(r"cycles: (\d+)", text).group(1)),
                 gm_bytes=int(re.search(r"GM: (\d+) bytes", text).group(1)))
    avg = re.search(r"average\s+([\d.]+)%\s+([\d.]+)%\s+([\d.]+)%\s+([\d.]+)%\s+"
                    r"([\d.]+)%\s+([\d.]+)%", text)
    for name, value in zip(("S", "M", "V", "MTE1", "MTE2", "MTE3"), avg.groups()):
        stats[name] = float(value)
    return stats


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the layer's files")
    parser.add_argument("--out", help="write the table (markdown) here")
    args = parser.parse_args()
    for path in (MOEC, PLUGIN):
        if not os.path.exists(path):
            sys.exit(f"missing {path}: build moec first (bash scripts/build.sh)")
    cfg = moe_layer.SHAPES["olmoe"]
    work = os.path.join(BUILD, "bench-npu", "olmoe")
    if not os.path.exists(os.path.join(work, "model.onnx")):
        moe_layer.write_layer("olmoe", work)
    binary = os.path.join(work, "model-npu")
    subprocess.run([MOEC, "-q", f"--load-target-plugin={PLUGIN}", "--target=npu",
                    os.path.join(work, "model.onnx"), "-o", binary,
                    "--npu-buckets=1,512", "--max-tokens=512"], check=True)
    chip = chip_figures()
    H, E, I, k = cfg["H"], cfg["E"], cfg["I"], cfg["k"]
    rows = []
    rng = np.random.default_rng(1)
    for T in TOKENS:
        x = rng.standard_normal((T, H), dtype=np.float32)
        xin, yout = os.path.join(work, f"x{T}.npy"), os.path.join(work, f"y{T}.npy")
        np.save(xin, x)
        run = subprocess.run([binary, "--input", xin, "--output", yout, "--npu-stats"],
                             capture_output=True, text=True, check=True)
        stats = parse_stats(run.stderr)
        ref, active = reference(cfg, os.path.join(work, "model.onnx.data"), x)
        error = float(np.abs(np.load(yout) - ref).max() / np.abs(ref).max())
        # What the layer must move and compute on this chip (f16 weights).
        weight_bytes = active * 3 * H * I * 2 + H * E * 2
        io_bytes = 2 * T * H * 4
        ops = 2 * T * (k * 3 * H * I + H * E)
        bound = max((weight_bytes + io_bytes) / chip["gm"], ops / chip["peak"])
        rows.append(dict(T=T, active=active, error=error,
                         roofline_cycles=bound, roofline_pct=100 * bound / stats["cycles"],
                         gm_pct=100 * stats["gm_bytes"] / (stats["cycles"] * chip["gm"]),
                         min_bytes=weight_bytes + io_bytes, **stats))
        print(json.dumps(rows[-1]), flush=True)
    table = ["| T | experts | cycles | µs at %g GHz | roofline cycles | %% of roofline | "
             "GM bytes (min) | GM busy | cube | vector | MTE1 | MTE2 | MTE3 | error |" % chip["clock"],
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        table.append(
            f"| {r['T']} | {r['active']} | {r['cycles']} | {r['cycles'] / chip['clock'] / 1000:.1f} | "
            f"{r['roofline_cycles']:.0f} | {r['roofline_pct']:.1f}% | "
            f"{r['gm_bytes'] / 1e6:.1f} MB ({r['min_bytes'] / 1e6:.1f}) | {r['gm_pct']:.1f}% | "
            f"{r['M']:.1f}% | {r['V']:.1f}% | {r['MTE1']:.1f}% | {r['MTE2']:.1f}% | "
            f"{r['MTE3']:.1f}% | {r['error']:.1e} |")
    print("\n".join(table))
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(table) + "\n")
    if not args.keep:
        for name in ("model.onnx.data", "model-npu.weights.safetensors"):
            path = os.path.join(work, name)
            if os.path.exists(path):
                os.remove(path)
        os.remove(os.path.join(work, "model.onnx"))


if __name__ == "__main__":
    main()
