#!/usr/bin/python3
"""Writes the small ONNX models the importer tests read.

usage: make_model.py CASE OUT_DIR

Each case writes OUT_DIR/model.onnx (plus any external data files). Models
are built with python3-onnx's protobuf classes directly, so that tests can
also write what onnx's helpers refuse (INT4 tensors as raw data_type 22,
unsafe external-data locations, inconsistent sizes).
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

INT4 = 22  # TensorProto.INT4 (ONNX 1.16), newer than Debian's onnx 1.12


def tensor(name, array, data_type=None):
    t = TensorProto()
    t.name = name
    t.dims.extend(array.shape)
    t.data_type = data_type or onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[array.dtype]
    t.raw_data = array.tobytes()
    return t


def external(name, dims, data_type, location, offset=0, length=None):
    t = TensorProto()
    t.name = name
    t.dims.extend(dims)
    t.data_type = data_type
    t.data_location = TensorProto.EXTERNAL
    entries = [("location", location), ("offset", str(offset))]
    if length is not None:
        entries.append(("length", str(length)))
    for key, value in entries:
        entry = t.external_data.add()
        entry.key, entry.value = key, value
    return t


def model(nodes, inputs, outputs, initializers=(), opset=17, extra_opsets=()):
    graph = helper.make_graph(nodes, "test", inputs, outputs,
                              initializer=list(initializers))
    opsets = [helper.make_opsetid("", opset)]
    opsets += [helper.make_opsetid(d, v) for d, v in extra_opsets]
    m = helper.make_model(graph, opset_imports=opsets)
    m.ir_version = 8
    return m


def value(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def router(out):
    """A router block: logits = x @ W (external, 2 MiB) + b, softmax,
    top-2. W and a second external tensor share one data file."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((1024, 512)).astype(np.float32)
    extra = rng.standard_normal((256,)).astype(np.float32)
    with open(os.path.join(out, "model.onnx.data"), "wb") as f:
        f.write(extra.tobytes())
        f.write(w.tobytes())
    inits = [
        external("router.weight", [1024, 512], TensorProto.FLOAT,
                 "model.onnx.data", offset=extra.nbytes, length=w.nbytes),
        external("router.extra", [256], TensorProto.FLOAT, "model.onnx.data"),
        tensor("router.bias", np.linspace(-1, 1, 512).astype(np.float32)),
        tensor("k", np.array([2], dtype=np.int64)),
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "router.weight"], ["mm"], "router_mm"),
        helper.make_node("Add", ["mm", "router.bias"], ["logits"], "router_add"),
        helper.make_node("Softmax", ["logits"], ["probs"], "router_softmax",
                         axis=-1),
        helper.make_node("TopK", ["probs", "k"], ["weights", "ids"],
                         "router_topk"),
    ]
    return model(nodes, [value("x", TensorProto.FLOAT, ["tokens", 1024])],
                 [value("weights", TensorProto.FLOAT, ["tokens", 2]),
                  value("ids", TensorProto.INT64, ["tokens", 2])], inits)


def embedded(out):
    """A 2 MiB initializer embedded in the protobuf."""
    w = np.arange(1024 * 512, dtype=np.float32).reshape(1024, 512)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], "mm")]
    return model(nodes, [value("x", TensorProto.FLOAT, [2, 1024])],
                 [value("y", TensorProto.FLOAT, [2, 512])], [tensor("w", w)])


def int4_blocked(out):
    """DequantizeLinear (opset 21) of INT4 weights with block_size 16,
    then MatMul: the opset-21 blocked weight-only pattern."""
    q = (np.arange(8 * 32) % 16 - 8).astype(np.int8).reshape(8, 32)
    flat = (q.reshape(-1) & 0xF).astype(np.uint8)
    packed = (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8)
    w = TensorProto()
    w.name = "w_q"
    w.dims.extend([8, 32])
    w.data_type = INT4
    w.raw_data = packed.tobytes()
    scales = tensor("w_scale", np.linspace(0.5, 1.0, 16, dtype=np.float32)
                    .reshape(8, 2))
    nodes = [
        helper.make_node("DequantizeLinear", ["w_q", "w_scale"], ["w"], "dq",
                         axis=1, block_size=16),
        helper.make_node("MatMul", ["x", "w"], ["y"], "mm"),
    ]
    return model(nodes, [value("x", TensorProto.FLOAT, ["t", 8])],
                 [value("y", TensorProto.FLOAT, ["t", 32])], [w, scales],
                 opset=21)


def contrib(out):
    """com.microsoft ops of onnxruntime-genai exports: a skip RMS norm, a
    4-bit MatMulNBits and a Gelu (opset 20)."""
    n, k, block = 16, 64, 32
    b = np.arange(n * (k // block) * (block // 2), dtype=np.uint8).reshape(
        n, k // block, block // 2)
    inits = [
        tensor("gamma", np.ones(k, dtype=np.float32)),
        tensor("B", b),
        tensor("scales", np.full(n * (k // block), 0.25, dtype=np.float32)),
    ]
    nodes = [
        helper.make_node("SkipSimplifiedLayerNormalization",
                         ["x", "skip", "gamma"], ["norm", "", "", "sum"],
                         "skip_norm", domain="com.microsoft", epsilon=1e-6),
        helper.make_node("MatMulNBits", ["norm", "B", "scales"], ["proj"],
                         "proj", domain="com.microsoft", K=k, N=n, bits=4,
                         block_size=block),
        helper.make_node("Gelu", ["proj"], ["y"], "gelu", approximate="tanh"),
    ]
    return model(nodes, [value("x", TensorProto.FLOAT, ["t", k]),
                         value("skip", TensorProto.FLOAT, ["t", k])],
                 [value("y", TensorProto.FLOAT, ["t", n]),
                  value("sum", TensorProto.FLOAT, ["t", k])], inits,
                 opset=20, extra_opsets=[("com.microsoft", 1)])


def dynamic(out):
    """Inputs with symbolic dimensions, for --input-shape."""
    nodes = [helper.make_node("Relu", ["x"], ["y"], "relu")]
    return model(nodes, [value("x", TensorProto.FLOAT, ["batch", "seq", 8])],
                 [value("y", TensorProto.FLOAT, ["batch", "seq", 8])])


def runtime_checks(out):
    """Extents only the run time knows, as torch exports index_add_ and
    repeat(): Expand to Shape(y), a ScatterElements whose indices are
    Expand(Unsqueeze(i), Shape(u)), and a Tile with run-time repeats; and
    a Gather of rows of y by ids g, as an embedding looks up token ids.
    The binary checks them."""
    axes = tensor("axes", np.array([1], dtype=np.int64))
    nodes = [
        helper.make_node("Shape", ["y"], ["y_shape"], "y_shape"),
        helper.make_node("Expand", ["x", "y_shape"], ["e"], "expand"),
        helper.make_node("Unsqueeze", ["i", "axes"], ["i2"], "unsqueeze"),
        helper.make_node("Shape", ["u"], ["u_shape"], "u_shape"),
        helper.make_node("Expand", ["i2", "u_shape"], ["indices"],
                         "expand_indices"),
        helper.make_node("ScatterElements", ["y", "indices", "u"], ["s"],
                         "scatter", axis=0, reduction="add"),
        helper.make_node("Tile", ["x", "r"], ["t"], "tile"),
        helper.make_node("Gather", ["y", "g"], ["rows"], "embed", axis=0),
    ]
    return model(nodes, [value("x", TensorProto.FLOAT, ["a", 4]),
                         value("y", TensorProto.FLOAT, ["b", 4]),
                         value("i", TensorProto.INT64, ["c"]),
                         value("u", TensorProto.FLOAT, ["c", 4]),
                         value("r", TensorProto.INT64, [2]),
                         value("g", TensorProto.INT64, ["d"])],
                 [value("e", TensorProto.FLOAT, None),
                  value("s", TensorProto.FLOAT, None),
                  value("t", TensorProto.FLOAT, None),
                  value("rows", TensorProto.FLOAT, None)], [axes])


# Malformed models: each must be refused with a clear message.

def unsupported_op(out):
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], "conv_1")]
    w = tensor("w", np.ones((1, 1, 1, 1), dtype=np.float32))
    return model(nodes, [value("x", TensorProto.FLOAT, [1, 1, 4, 4])],
                 [value("y", TensorProto.FLOAT, None)], [w])


def opset_too_old(out):
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    return model(nodes, [value("x", TensorProto.FLOAT, [4])],
                 [value("y", TensorProto.FLOAT, [4])], opset=12)


def opset_too_new(out):
    m = opset_too_old(out)
    m.opset_import[0].version = 22
    return m


def single_external(location, length=None):
    nodes = [helper.make_node("Add", ["x", "w"], ["y"], "add")]
    w = external("w", [4], TensorProto.FLOAT, location, length=length)
    return model(nodes, [value("x", TensorProto.FLOAT, [4])],
                 [value("y", TensorProto.FLOAT, [4])], [w])


def missing_external(out):
    return single_external("absent.bin")


def absolute_location(out):
    return single_external("/etc/passwd")


def parent_location(out):
    return single_external("../outside.bin")


def symlink_location(out):
    outside = os.path.join(os.path.dirname(os.path.abspath(out)), "secret.bin")
    with open(outside, "wb") as f:
        f.write(bytes(16))
    link = os.path.join(out, "link.bin")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(outside, link)
    return single_external("link.bin")


def external_length_mismatch(out):
    with open(os.path.join(out, "w.bin"), "wb") as f:
        f.write(bytes(16))
    return single_external("w.bin", length=12)


def external_too_short(out):
    with open(os.path.join(out, "w.bin"), "wb") as f:
        f.write(bytes(8))
    return single_external("w.bin")


def raw_size_mismatch(out):
    nodes = [helper.make_node("Add", ["x", "w"], ["y"], "add")]
    w = tensor("w", np.ones(4, dtype=np.float32))
    w.raw_data = w.raw_data[:12]
    return model(nodes, [value("x", TensorProto.FLOAT, [4])],
                 [value("y", TensorProto.FLOAT, [4])], [w])


def declared_shape_mismatch(out):
    """An initializer also listed as a graph input with another shape."""
    nodes = [helper.make_node("Add", ["x", "w"], ["y"], "add")]
    w = tensor("w", np.ones(4, dtype=np.float32))
    return model(nodes, [value("x", TensorProto.FLOAT, [4]),
                         value("w", TensorProto.FLOAT, [5])],
                 [value("y", TensorProto.FLOAT, [4])], [w])


def undefined_input(out):
    nodes = [helper.make_node("Add", ["x", "nowhere"], ["y"], "add")]
    return model(nodes, [value("x", TensorProto.FLOAT, [4])],
                 [value("y", TensorProto.FLOAT, [4])])


CASES = {f.__name__: f for f in [
    router, embedded, int4_blocked, contrib, dynamic, runtime_checks,
    unsupported_op,
    opset_too_old, opset_too_new, missing_external, absolute_location,
    parent_location, symlink_location, external_length_mismatch,
    external_too_short, raw_size_mismatch, declared_shape_mismatch,
    undefined_input]}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in CASES:
        sys.exit("usage: make_model.py {%s} OUT_DIR" % "|".join(CASES))
    case, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    m = CASES[case](out)
    with open(os.path.join(out, "model.onnx"), "wb") as f:
        f.write(m.SerializeToString())


if __name__ == "__main__":
    main()
