#!/usr/bin/python3
"""A lone com.microsoft.MatMulNBits (4-bit, packed zero points, block 16),
outside any MoE block, with an input and its float64 result.

usage: matmul_nbits.py OUT_DIR   (writes model.onnx, x.npy, ref.npy)
       matmul_nbits.py --check OUT_DIR y.npy   (max relative error <= 1e-5)
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "models"))
import moe_models  # noqa: E402

if sys.argv[1] == "--check":
    ref = np.load(os.path.join(sys.argv[2], "ref.npy"))
    err = np.abs(np.load(sys.argv[3]) - ref).max() / np.abs(ref).max()
    print(f"max rel error {err:.2e}: {'ok' if err <= 1e-5 else 'FAILED'}")
    sys.exit(0 if err <= 1e-5 else 1)
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)
w = rng.standard_normal((16, 64)).astype(np.float32)
q, s, zp, deq = moe_models.nbits_quantize(w, 4)
node = helper.make_node("MatMulNBits", ["x", "B", "S", "Z"], ["y"],
                        domain="com.microsoft", K=64, N=16, bits=4,
                        block_size=moe_models.BLOCK)
graph = helper.make_graph(
    [node], "matmul_nbits",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["t", 64])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["t", 16])],
    [numpy_helper.from_array(q, "B"), numpy_helper.from_array(s, "S"),
     numpy_helper.from_array(zp, "Z")])
onnx.save(helper.make_model(graph, opset_imports=[
    helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]),
    os.path.join(out, "model.onnx"))
x = rng.standard_normal((5, 64)).astype(np.float32)
np.save(os.path.join(out, "x.npy"), x)
np.save(os.path.join(out, "ref.npy"), x.astype(np.float64) @ deq.astype(np.float64).T)
