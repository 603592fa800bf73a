#!/usr/bin/python3
"""Compile time against graph size: is it linear?

usage: compile_time.py [--moec PATH] [--sizes N,N,...] [--out DIR]

Writes ONNX graphs of N nodes (a chain of Relu, Add and Mul nodes on a
[T, 32] input, so that nothing folds away) and times `moec -q` on each, with
the time of every stage from moec's progress lines. Prints a markdown table
with seconds per 1,000 nodes: a linear compiler keeps that column flat.
Default sizes 500, 1000, 5000; 20000 takes minutes, add it with --sizes.
"""

import argparse
import os
import re
import subprocess
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def chain(n, path):
    nodes, inits, prev = [], [], "x"
    one = numpy_helper.from_array(np.full((1, 32), 0.5, np.float32), "c")
    inits.append(one)
    ops = ("Relu", "Add", "Mul")
    for i in range(n):
        op, out = ops[i % 3], f"v{i}"
        inputs = [prev] if op == "Relu" else [prev, "c"]
        nodes.append(helper.make_node(op, inputs, [out], name=f"n{i}"))
        prev = out
    graph = helper.make_graph(
        nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["T", 32])],
        [helper.make_tensor_value_info(prev, TensorProto.FLOAT, ["T", 32])], initializer=inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moec", default=os.path.join(ROOT, "build", "bin", "moec"))
    ap.add_argument("--sizes", default="500,1000,5000")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench", "compile-time"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    print("| nodes | total s | s per 1k nodes | import | lowering | LLVM codegen | link |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in [int(s) for s in args.sizes.split(",")]:
        model = os.path.join(args.out, f"chain{n}.onnx")
        chain(n, model)
        start = time.monotonic()
        run = subprocess.run([args.moec, model, "-o", os.path.join(args.out, f"chain{n}")],
                             capture_output=True, text=True)
        total = time.monotonic() - start
        if run.returncode != 0:
            print(f"compile_time.py: {n} nodes: {run.stderr.strip()}", file=sys.stderr)
            return 1
        stages = dict(re.findall(r"moec: (imported|lowered|code generated|linked)[^(]*\(([\d.]+) s\)",
                                 run.stderr))
        print(f"| {n} | {total:.1f} | {1000 * total / n:.2f} | {stages.get('imported', '?')} | "
              f"{stages.get('lowered', '?')} | {stages.get('code generated', '?')} | "
              f"{stages.get('linked', '?')} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
