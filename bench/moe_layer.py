#!/usr/bin/python3
"""Writes one fp32 MoE layer as ONNX in the com.microsoft.MoE form.

The layer is the graph ONNX Runtime runs with its own MoE kernel: a router
MatMul x @ W_r [H, E] giving logits, then com.microsoft.MoE (softmax top-k
inside, SwiGLU experts with gate/up interleaved in fc1, swiglu_fusion=1).
Weights are random (normal, scaled by 1/sqrt(fan-in)) and live in an
external data file, so layers of several GB stay loadable.

usage: bench/moe_layer.py SHAPE DIR    (SHAPE: one of SHAPES below)
Writes DIR/model.onnx, DIR/model.onnx.data and DIR/shape.json.
"""

import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

# hidden H, experts E, top-k, expert intermediate size I, and whether the
# model renormalises the top-k weights (HF norm_topk_prob).
SHAPES = {
    "olmoe": dict(H=2048, E=64, k=8, I=1024, normalize=0),
    "qwen3-30b-a3b": dict(H=2048, E=128, k=8, I=768, normalize=1),
    "mixtral": dict(H=4096, E=8, k=2, I=14336, normalize=1),
    # A small layer for trying the scripts out quickly.
    "tiny": dict(H=256, E=8, k=2, I=128, normalize=1),
}


class ExternalData:
    """Appends tensors to one raw file and makes initializers that point there."""

    def __init__(self, directory):
        self.name = "model.onnx.data"
        self.file = open(os.path.join(directory, self.name), "wb")
        self.offset = 0

    def tensor(self, name, shape, chunks):
        start = self.offset
        for chunk in chunks:
            data = np.ascontiguousarray(chunk, dtype=np.float32).tobytes()
            self.file.write(data)
            self.offset += len(data)
        assert self.offset - start == 4 * int(np.prod(shape))
        t = TensorProto()
        t.name = name
        t.dims.extend(shape)
        t.data_type = TensorProto.FLOAT
        t.data_location = TensorProto.EXTERNAL
        for key, value in [("location", self.name), ("offset", str(start)),
                           ("length", str(self.offset - start))]:
            entry = t.external_data.add()
            entry.key, entry.value = key, value
        return t


def write_layer(shape_name, directory):
    cfg = SHAPES[shape_name]
    H, E, k, I = cfg["H"], cfg["E"], cfg["k"], cfg["I"]
    rng = np.random.default_rng(0)
    normal = lambda *s, fan_in: rng.standard_normal(s, dtype=np.float32) * \
        np.float32(1 / np.sqrt(fan_in))
    os.makedirs(directory, exist_ok=True)
    data = ExternalData(directory)
    inits = [
        data.tensor("router", [H, E], [normal(H, E, fan_in=H)]),
        # fc1 [E, 2I, H]: rows alternate gate and up (swiglu_fusion=1).
        data.tensor("fc1", [E, 2 * I, H],
                    (normal(2 * I, H, fan_in=H) for _ in range(E))),
        data.tensor("fc2", [E, H, I], (normal(H, I, fan_in=I) for _ in range(E))),
    ]
    data.file.close()
    nodes = [
        helper.make_node("MatMul", ["x", "router"], ["logits"]),
        helper.make_node("MoE", ["x", "logits", "fc1", "", "fc2"], ["y"],
                         domain="com.microsoft", k=k, activation_type="swiglu",
                         swiglu_fusion=1, activation_alpha=1.0,
                         activation_beta=0.0,
                         normalize_routing_weights=cfg["normalize"]),
    ]
    graph = helper.make_graph(
        nodes, f"moe_{shape_name}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["T", H])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["T", H])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    onnx.save(model, os.path.join(directory, "model.onnx"))
    with open(os.path.join(directory, "shape.json"), "w") as f:
        json.dump(dict(cfg, name=shape_name), f)


def main(argv):
    if len(argv) != 3 or argv[1] not in SHAPES:
        sys.exit(f"usage: {argv[0]} {{{','.join(SHAPES)}}} DIR")
    write_layer(argv[1], argv[2])


if __name__ == "__main__":
    main(sys.argv)
