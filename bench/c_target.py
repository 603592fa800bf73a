#!/usr/bin/python3
"""The c target (examples/target-plugin) against the cpu target.

Installs the SDK from --build into a temporary prefix, builds the example
out of tree against it (as test/sdk/c-target.test does), writes each fp32
layer of moe_layer.py, compiles it for both targets and times both binaries
at each token count on one thread (the C the target prints is serial).
Both binaries must agree within 1e-5 of max|y|. Writes a markdown table.

usage: bench/c_target.py [--build build] [--shapes tiny,olmoe]
       [--tokens 1,32] [--cc cc] [--out docs/benchmarks]

The ratio c / cpu is how far portable C compiled by the system compiler
is from the CPU target's register tiles and threads: where a vendor
porting the C starts.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from moe_layer import SHAPES, write_layer  # noqa: E402
from cpu_fp32 import iterations_for, run  # noqa: E402


def build_plugin(args, work):
    prefix = os.path.join(work, "prefix")
    build = os.path.join(work, "c-build")
    run(["cmake", "--install", args.build, "--prefix", prefix])
    run(["cmake", "-G", "Ninja", "-S",
         os.path.join(ROOT, "examples", "target-plugin"), "-B", build,
         "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_PREFIX_PATH=" + prefix])
    run(["cmake", "--build", build])
    return (os.path.join(prefix, "bin", "moec"),
            os.path.join(build, "libMoecTargetC.so"))


def time_binary(args, binary, pool, tokens, cfg):
    out = run([binary, "--input", pool, "--bench", "--bench-tokens",
               str(tokens), "--threads", "1", "--iterations",
               str(max(3, iterations_for(cfg, tokens) // 4))])
    return float(re.search(r"latency_ms=([0-9.]+)", out).group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--shapes", default="tiny,olmoe")
    parser.add_argument("--tokens", default="1,32")
    parser.add_argument("--cc", default="cc")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs",
                                                      "benchmarks"))
    args = parser.parse_args()
    tokens = [int(t) for t in args.tokens.split(",")]
    work = tempfile.mkdtemp(prefix="moec-c-bench-",
                            dir=os.path.join(args.build))
    rows = []
    try:
        moec, plugin = build_plugin(args, work)
        for name in args.shapes.split(","):
            cfg = SHAPES[name]
            d = os.path.join(work, name)
            write_layer(name, d)
            binaries = {}
            for target, flags in (("cpu", []),
                                  ("c", ["--load-target-plugin=" + plugin,
                                         "--target=c", "--cc=" + args.cc])):
                start = time.time()
                binaries[target] = os.path.join(d, target)
                run([moec, "-q", os.path.join(d, "model.onnx"), "-o",
                     binaries[target]] + flags)
                print(f"[{name}] {target}: compiled in "
                      f"{time.time() - start:.1f} s", flush=True)
            pool = np.random.default_rng(1).standard_normal(
                (16 * max(tokens), cfg["H"]), dtype=np.float32)
            outputs = []
            for target, binary in binaries.items():
                np.save(os.path.join(d, "x.npy"), pool[:8])
                run([binary, "--input", os.path.join(d, "x.npy"),
                     "--output", os.path.join(d, target + ".npy")])
                outputs.append(np.load(os.path.join(d, target + ".npy")))
            diff = float(np.abs(outputs[0] - outputs[1]).max() /
                         np.abs(outputs[0]).max())
            if diff > 1e-5:
                sys.exit(f"error: [{name}] c and cpu differ by {diff:.1e}")
            os.sync()
            for t in tokens:
                path = os.path.join(d, f"pool_{t}.npy")
                np.save(path, pool[:16 * t])
                ms = {target: time_binary(args, binary, path, t, cfg)
                      for target, binary in binaries.items()}
                rows.append(dict(shape=name, tokens=t, diff=diff, **ms))
                print(f"[{name}] T={t}: c {ms['c']:.2f} ms, cpu "
                      f"{ms['cpu']:.2f} ms", flush=True)
            shutil.rmtree(d)
    finally:
        shutil.rmtree(work)
    weights = lambda r: 4.0 * SHAPES[r["shape"]]["H"] * (
        SHAPES[r["shape"]]["E"] + 3 * SHAPES[r["shape"]]["k"] *
        SHAPES[r["shape"]]["I"])
    lines = ["# The c target against the cpu target", "",
             f"Written by bench/c_target.py on {time.strftime('%Y-%m-%d')}: "
             f"fp32 layers, one thread, C compiled by `{args.cc}`. Decode "
             "GB/s counts the router and the k experts read at T = 1 (the "
             "tiny layer stays in cache).", "",
             "| layer | T | c ms | cpu ms | c / cpu time | decode GB/s, c "
             "/ cpu | max \\|c - cpu\\| / max \\|cpu\\| |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        gbs = [weights(r) / (r[t] / 1e3) / 1e9 for t in ("c", "cpu")]
        decode = (f"{gbs[0]:.1f} / {gbs[1]:.1f}" if r["tokens"] == 1
                  else "")
        lines.append(f"| {r['shape']} | {r['tokens']} | {r['c']:.2f} | "
                     f"{r['cpu']:.2f} | {r['c'] / r['cpu']:.1f}x | {decode} | "
                     f"{r['diff']:.1e} |")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "c-target.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
