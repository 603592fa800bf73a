#!/usr/bin/python3
"""Writes one fp32 MoE layer as ONNX in the com.microsoft.MoE form.

The layer is the graph ONNX Runtime runs with its own MoE kernel: a router
MatMul x @ W_r [H, E] giving logits, then com.microsoft.MoE (softmax top-k
inside, SwiGLU experts with gate/up interleaved in fc1, swiglu_fusion=1).
Weights are random (normal, scaled by 1/sqrt(fan-in)) and live in an
external data file, so layers of several GB stay loadable.

usage: bench/moe_layer.py [--qmoe4] SHAPE DIR    (SHAPE: one of SHAPES below)
Writes DIR/model.onnx, DIR/model.onnx.data and DIR/shape.json; with
--qmoe4, the same weights as a com.microsoft.QMoE layer with int4 experts.
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

    def tensor(self, name, shape, chunks, dtype=np.float32,
               data_type=TensorProto.FLOAT):
        start = self.offset
        for chunk in chunks:
            data = np.ascontiguousarray(chunk, dtype=dtype).tobytes()
            self.file.write(data)
            self.offset += len(data)
        assert self.offset - start == np.dtype(dtype).itemsize * int(np.prod(shape))
        t = TensorProto()
        t.name = name
        t.dims.extend(shape)
        t.data_type = data_type
        t.data_location = TensorProto.EXTERNAL
        for key, value in [("location", self.name), ("offset", str(start)),
                           ("length", str(self.offset - start))]:
            entry = t.external_data.add()
            entry.key, entry.value = key, value
        return t


class LayerWeights:
    """The layer's random weights, drawn in a fixed order from seed 0 so that
    every writer (ONNX fp32, QMoE, GGUF) gets the same values: the router
    [H, E], then fc1 [2I, H] (rows alternate gate and up) of each expert,
    then fc2 [H, I] of each expert. Experts come one at a time, so layers of
    several GB need no more memory than one expert."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.rng = np.random.default_rng(0)
        self.stage = 0

    def normal(self, *shape, fan_in):
        return self.rng.standard_normal(shape, dtype=np.float32) * \
            np.float32(1 / np.sqrt(fan_in))

    def router(self):
        assert self.stage == 0
        self.stage = 1
        return self.normal(self.cfg["H"], self.cfg["E"], fan_in=self.cfg["H"])

    def fc1(self):
        assert self.stage == 1
        self.stage = 2
        H, I = self.cfg["H"], self.cfg["I"]
        return (self.normal(2 * I, H, fan_in=H) for _ in range(self.cfg["E"]))

    def fc2(self):
        assert self.stage == 2
        self.stage = 3
        H, I = self.cfg["H"], self.cfg["I"]
        return (self.normal(H, I, fan_in=I) for _ in range(self.cfg["E"]))


def quantize_qmoe(w, block):
    """QMoE's symmetric int4 of an [N, K] matrix: codes q + 8 (ORT's default
    zero point) two per byte, low nibble first, and f32 scales [N, K/block]."""
    N, K = w.shape
    v = w.reshape(N, K // block, block)
    s = (np.abs(v).max(-1) / 7).astype(np.float32)
    q = np.clip(np.round(v / np.where(s == 0, 1, s)[..., None]), -8, 7)
    q = (q.reshape(N, K) + 8).astype(np.uint8)
    return (q[:, 0::2] | (q[:, 1::2] << 4)).astype(np.uint8), s


def save_model(directory, shape_name, cfg, inits, moe_node):
    H = cfg["H"]
    nodes = [helper.make_node("MatMul", ["x", "router"], ["logits"]), moe_node]
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


def moe_attributes(cfg):
    return dict(k=cfg["k"], activation_type="swiglu", swiglu_fusion=1,
                activation_alpha=1.0, activation_beta=0.0,
                normalize_routing_weights=cfg["normalize"])


def write_layer(shape_name, directory):
    cfg = SHAPES[shape_name]
    H, E, I = cfg["H"], cfg["E"], cfg["I"]
    os.makedirs(directory, exist_ok=True)
    data = ExternalData(directory)
    weights = LayerWeights(cfg)
    inits = [
        data.tensor("router", [H, E], [weights.router()]),
        data.tensor("fc1", [E, 2 * I, H], weights.fc1()),
        data.tensor("fc2", [E, H, I], weights.fc2()),
    ]
    data.file.close()
    save_model(directory, shape_name, cfg, inits, helper.make_node(
        "MoE", ["x", "logits", "fc1", "", "fc2"], ["y"],
        domain="com.microsoft", **moe_attributes(cfg)))


def write_qmoe_layer(shape_name, directory, block=32):
    """The same layer as com.microsoft.QMoE with int4 experts (symmetric,
    block `block` along K, f32 scales, ORT's default zero point 8)."""
    cfg = SHAPES[shape_name]
    H, E, I = cfg["H"], cfg["E"], cfg["I"]
    os.makedirs(directory, exist_ok=True)
    data = ExternalData(directory)
    weights = LayerWeights(cfg)
    inits = [data.tensor("router", [H, E], [weights.router()])]
    for name, stack, (n, k) in (("fc1", weights.fc1(), (2 * I, H)),
                                ("fc2", None, (H, I))):
        parts = [quantize_qmoe(w, block)
                 for w in (stack if stack is not None else weights.fc2())]
        inits.append(data.tensor(f"{name}_q", [E, n, k // 2],
                                 (q for q, _ in parts), np.uint8,
                                 TensorProto.UINT8))
        inits.append(data.tensor(f"{name}_scales", [E, n, k // block],
                                 (s for _, s in parts)))
    data.file.close()
    save_model(directory, shape_name, cfg, inits, helper.make_node(
        "QMoE", ["x", "logits", "fc1_q", "fc1_scales", "", "fc2_q",
                 "fc2_scales"], ["y"], domain="com.microsoft",
        expert_weight_bits=4, block_size=block, **moe_attributes(cfg)))


def main(argv):
    qmoe = argv[1:2] == ["--qmoe4"]
    args = argv[2:] if qmoe else argv[1:]
    if len(args) != 2 or args[0] not in SHAPES:
        sys.exit(f"usage: {argv[0]} [--qmoe4] {{{','.join(SHAPES)}}} DIR")
    (write_qmoe_layer if qmoe else write_layer)(args[0], args[1])


if __name__ == "__main__":
    main(sys.argv)
