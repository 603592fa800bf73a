#!/usr/bin/python3
"""Small ONNX graphs that lower op by op (no MoE block), each with an input
and its float64 result, for graphs the node tests do not cover.

usage: numeric_models.py CASE OUT_DIR   (writes model.onnx, x.npy, ref.npy)
       numeric_models.py --check OUT_DIR y.npy   (max relative error <= 1e-5)

Cases:
  matmul_nbits        a com.microsoft.MatMulNBits, 4-bit with packed uint8
                      zero points, block 16
  matmul_bias_matmul  MatMul, bias Add, MatMul: two matmuls whose zero
                      initial values are one tensor after CSE
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "models"))
import moe_models  # noqa: E402


def matmul_nbits(rng):
    w = rng.standard_normal((16, 64)).astype(np.float32)
    q, s, zp, deq = moe_models.nbits_quantize(w, 4)
    nodes = [helper.make_node("MatMulNBits", ["x", "B", "S", "Z"], ["y"],
                              domain="com.microsoft", K=64, N=16, bits=4,
                              block_size=moe_models.BLOCK)]
    inits = [numpy_helper.from_array(q, "B"), numpy_helper.from_array(s, "S"),
             numpy_helper.from_array(zp, "Z")]
    return nodes, inits, 64, 16, lambda x: x @ deq.astype(np.float64).T


def matmul_bias_matmul(rng):
    w1 = rng.standard_normal((32, 32)).astype(np.float32)
    b1 = rng.standard_normal(32).astype(np.float32)
    w2 = rng.standard_normal((32, 32)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["h"]),
             helper.make_node("Add", ["h", "B1"], ["hb"]),
             helper.make_node("MatMul", ["hb", "W2"], ["y"])]
    inits = [numpy_helper.from_array(w1, "W1"), numpy_helper.from_array(b1, "B1"),
             numpy_helper.from_array(w2, "W2")]
    return nodes, inits, 32, 32, lambda x: (x @ w1 + b1) @ w2


CASES = {"matmul_nbits": matmul_nbits, "matmul_bias_matmul": matmul_bias_matmul}

if sys.argv[1] == "--check":
    ref = np.load(os.path.join(sys.argv[2], "ref.npy"))
    err = np.abs(np.load(sys.argv[3]) - ref).max() / np.abs(ref).max()
    print(f"max rel error {err:.2e}: {'ok' if err <= 1e-5 else 'FAILED'}")
    sys.exit(0 if err <= 1e-5 else 1)
case, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)
nodes, inits, k, n, reference = CASES[case](rng)
graph = helper.make_graph(
    nodes, case, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["t", k])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["t", n])], inits)
onnx.save(helper.make_model(graph, opset_imports=[
    helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]),
    os.path.join(out, "model.onnx"))
x = rng.standard_normal((5, k)).astype(np.float32)
np.save(os.path.join(out, "x.npy"), x)
np.save(os.path.join(out, "ref.npy"), reference(x.astype(np.float64)))
