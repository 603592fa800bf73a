#!/usr/bin/python3
"""Pre-quantized weights reach the compiled program byte for byte.

For each test model (test/models/moe_models.py) whose experts arrive
quantized, compile it twice: with --embed-max-bytes=0, so that every weight
goes to OUT.weights.safetensors, and with the default, so that these small
weights are embedded in the binary. Then, for every 8-bit integer
initializer of packed codes (QMoE's expert weights, MatMulNBits' B, a
blocked DequantizeLinear's [N, K] integers), check:

* its bytes are one unbroken run inside one U8/I8 tensor of the weights
  file (a whole tensor, or one expert's slice of a stacked one);
* the same bytes appear in the embedded binary;
* the weights file holds no float tensor with as many elements as the
  dequantized weight would have (no dequantized copy was made).

Prints one line per initializer (with its SHA-256) and a summary line.
"""

import hashlib
import json
import os
import struct
import subprocess
import sys

import numpy as np

import e2e_args

WIDTH = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4,
         "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def safetensors(path):
    """{name: (dtype, shape, bytes)} of a safetensors file."""
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    header.pop("__metadata__", None)
    return {name: (t["dtype"], t["shape"],
                   data[t["data_offsets"][0]:t["data_offsets"][1]])
            for name, t in header.items()}


# The inputs holding packed codes: QMoE's fc1/fc2/fc3 weights, MatMulNBits'
# B, a blocked DequantizeLinear's integers.
CODE_INPUTS = {"QMoE": (2, 5, 8), "MatMulNBits": (1,), "DequantizeLinear": (0,)}


def quantized_initializers(model):
    """(name, bytes) of each initializer of packed codes."""
    from onnx import numpy_helper
    inits = {i.name: i for i in model.graph.initializer}
    found = []
    for node in model.graph.node:
        for i in CODE_INPUTS.get(node.op_type, ()):
            if i < len(node.input) and node.input[i] in inits:
                init = inits[node.input[i]]
                found.append((init.name, numpy_helper.to_array(init).tobytes()))
    return found


def sha(data):
    return hashlib.sha256(data).hexdigest()


def main():
    args, m = e2e_args.parse(__doc__)
    import onnx
    checks = failures = 0
    for case in args.cases:
        d, cfg, W, _, _ = m.save_case(args.out, case)
        model_path = os.path.join(d, "model.onnx")
        external = os.path.join(d, "external")
        embedded = os.path.join(d, "embedded")
        for binary, flags in ((external, ["--embed-max-bytes=0"]), (embedded, [])):
            subprocess.run([args.moec, "-q", model_path, "-o", binary] + flags,
                           check=True)
        tensors = safetensors(external + ".weights.safetensors")
        with open(embedded, "rb") as f:
            program = f.read()
        # A dequantized expert weight has E * N * K float elements.
        dequantized = {cfg["E"] * m.HIDDEN * cfg["I"] * f for f in (1, 2)}
        float_copies = [n for n, (dtype, shape, _) in tensors.items()
                        if dtype in ("F32", "F16", "BF16")
                        and int(np.prod(shape)) in dequantized]
        for name, data in quantized_initializers(onnx.load(model_path)):
            checks += 1
            holders = [n for n, (dtype, _, stored) in tensors.items()
                       if dtype in ("U8", "I8") and data in stored]
            problems = []
            if not holders:
                problems.append("not in the weights file")
            if data not in program:
                problems.append("not in the embedded binary")
            if float_copies:
                problems.append("float copies " + ",".join(float_copies))
            failures += bool(problems)
            status = "FAILED " + "; ".join(problems) if problems else "ok"
            where = holders[0] if holders else "-"
            print(f"{case:16s} {name:16s} {len(data):6d} B sha256 "
                  f"{sha(data)[:16]} in {where}: {status}")
    print(f"checks: {checks}; passed: {checks - failures}; failed: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
