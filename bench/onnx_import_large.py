#!/usr/bin/python3
"""Import time and peak memory of moec-import against external weight size.

Generates ONNX models whose weights live in an external data file (a chain
of MatMul + Relu layers with [H, H] f32 weights) at several sizes up to
over 2 GB, imports each with moec-import, and reports wall time and the
importer's peak RSS. Weights are referenced, never read, so both should stay
flat as the model grows.

usage: bench/onnx_import_large.py --tool build/bin/moec-import [--dir DIR]
       [--hidden 4096] [--layers 8,32]
The models are written under DIR (default: a temporary directory, removed
afterwards).
"""

import argparse
import os
import resource
import shutil
import subprocess
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper


def write_model(directory, hidden, layers):
    """A chain of `layers` MatMul+Relu blocks; weights in model.onnx.data."""
    data_path = os.path.join(directory, "model.onnx.data")
    nbytes = hidden * hidden * 4
    block = np.arange(hidden * hidden, dtype=np.float32) / (hidden * hidden)
    inits, nodes = [], []
    with open(data_path, "wb") as data:
        for layer in range(layers):
            data.write((block + layer).tobytes())
            w = TensorProto()
            w.name = f"layers.{layer}.weight"
            w.dims.extend([hidden, hidden])
            w.data_type = TensorProto.FLOAT
            w.data_location = TensorProto.EXTERNAL
            for key, value in [("location", "model.onnx.data"),
                               ("offset", str(layer * nbytes)),
                               ("length", str(nbytes))]:
                entry = w.external_data.add()
                entry.key, entry.value = key, value
            inits.append(w)
            source = "x" if layer == 0 else f"h{layer - 1}"
            nodes.append(helper.make_node("MatMul", [source, w.name],
                                          [f"m{layer}"]))
            nodes.append(helper.make_node("Relu", [f"m{layer}"],
                                          [f"h{layer}"]))
    graph = helper.make_graph(
        nodes, "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["t", hidden])],
        [helper.make_tensor_value_info(f"h{layers - 1}", TensorProto.FLOAT,
                                       ["t", hidden])],
        initializer=inits)
    model = helper.make_model(graph,
                              opset_imports=[helper.make_opsetid("", 17)])
    with open(os.path.join(directory, "model.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    return layers * nbytes


def import_once(tool, directory):
    """Wall seconds and peak RSS (MiB) of one moec-import run."""
    out = os.path.join(directory, "out.mlir")
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.execv(tool, [tool, os.path.join(directory, "model.onnx"), "-o", out])
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("moec-import failed")
    return wall, usage.ru_maxrss / 1024.0


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--tool", required=True)
    parser.add_argument("--dir")
    parser.add_argument("--hidden", type=int, default=4096)
    parser.add_argument("--layers", default="2,8,32")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = args.dir or tempfile.mkdtemp(prefix="moec-import-bench-")
    try:
        print(f"{'weights':>10} {'layers':>6} {'wall s (best)':>14} "
              f"{'peak RSS MiB':>13}")
        for layers in [int(n) for n in args.layers.split(",")]:
            directory = os.path.join(root, f"layers{layers}")
            os.makedirs(directory, exist_ok=True)
            size = write_model(directory, args.hidden, layers)
            runs = [import_once(args.tool, directory)
                    for _ in range(args.repeat)]
            wall = min(r[0] for r in runs)
            rss = max(r[1] for r in runs)
            print(f"{size / 1e9:>8.2f}GB {layers:>6} {wall:>14.3f} "
                  f"{rss:>13.1f}")
            shutil.rmtree(directory)
    finally:
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
