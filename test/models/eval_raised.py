#!/usr/bin/python3
"""Evaluates raised IR in float64 and compares it with a model's references.

usage: eval_raised.py RAISED.mlir CASE_DIR [--tolerance T]

RAISED.mlir is `moec-import --emit=moe` output: moe.router, moe.experts and
moe.packed_weight, plus the onnx.node ops raising leaves (router projection,
shared experts). This script implements those ops from the moe dialect's
documented semantics (dialects/moe/IR/MoeOps.td), independently of the
ONNX patterns they were raised from, runs the module on each input in
CASE_DIR/manifest.json, and prints the largest error relative to the
reference's largest magnitude. Exits 1 if any exceeds the tolerance
(default 1e-6: float64 throughout; what remains is the model's float32
weights and inputs, which the reference uses too).
"""

import ast
import json
import os
import re
import sys

import numpy as np

DTYPES = {"f32": np.float32, "f64": np.float64, "f16": np.float16,
          "i64": np.int64, "i32": np.int32, "i8": np.int8, "ui8": np.uint8,
          "i1": np.bool_}


def parse_type(text):
    """'tensor<8x32xf32>' -> (shape, dtype)."""
    body = re.match(r"tensor<(.*)>", text).group(1).split("x")
    return [int(d) for d in body[:-1]], DTYPES[body[-1]]


def parse_dense(literal, type_text):
    shape, dtype = parse_type(type_text)
    body = literal[len("dense<"):-1]
    if body.startswith('"0x'):
        raw = bytes.fromhex(body[3:-1])
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    value = ast.literal_eval(body.replace("true", "True").replace("false", "False"))
    return np.broadcast_to(np.array(value, dtype=dtype), shape).copy()


def mlir_float(text):
    """An MLIR float literal: decimal, or the bit pattern MLIR prints for
    inf and NaN (0x7FF0000000000000 as f64, 0x7F800000 as f32)."""
    text = text.strip().split(" :")[0]
    if text.startswith("0x"):
        bits = int(text, 16)
        if len(text) > 10:
            return float(np.array(bits, np.uint64).view(np.float64))
        return float(np.array(bits, np.uint32).view(np.float32))
    return float(text)


def softmax(v):
    e = np.exp(v - v.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


ONNX = {
    "MatMul": lambda a, b: a @ b,
    "Add": lambda a, b: a + b,
    "Sub": lambda a, b: a - b,
    "Mul": lambda a, b: a * b,
    "Div": lambda a, b: a / b,
    "Sigmoid": sigmoid,
    "Relu": lambda a: np.maximum(a, 0),
    "Cast": lambda a: a,
    "Identity": lambda a: a,
    "Gemm": None,  # attributes: see evaluate()
    "Softmax": None,
}


def router(logits, bias, attrs):
    k = int(attrs["top_k"])
    scoring = attrs["scoring"]
    s = softmax(logits) if scoring == "softmax" else \
        sigmoid(logits) if scoring == "sigmoid" else logits
    c = s + bias if bias is not None else s.copy()
    if "groups" in attrs:
        g = dict(kv.split(" = ") for kv in attrs["groups"].split(", "))
        n_group, keep = int(g["n_group"]), int(g["topk_group"])
        grouped = c.reshape(len(c), n_group, -1)
        score = grouped.max(-1) if g["score"] == "max" else \
            np.sort(grouped, -1)[..., -2:].sum(-1)
        best = np.argsort(-score, -1, kind="stable")[:, :keep]
        eligible = np.zeros_like(score, dtype=bool)
        np.put_along_axis(eligible, best, True, -1)
        # Without fill, dropped groups are ineligible.
        fill = mlir_float(g["fill"]) if "fill" in g else -np.inf
        c = np.where(np.repeat(eligible, c.shape[1] // n_group, 1), c, fill)
    ids = np.argsort(-c, -1, kind="stable")[:, :k]
    if scoring == "softmax_after_topk":
        w = softmax(np.take_along_axis(logits, ids, -1))
    else:
        w = np.take_along_axis(s, ids, -1)
    if "normalize" in attrs:
        w = w / (w.sum(-1, keepdims=True) + 1e-20)
    return w * mlir_float(str(attrs.get("scale", 1.0))), ids


def activation(text, gate, up):
    kind = text.split("<")[0]
    params = dict(kv.split(" = ") for kv in re.findall(r"\w+ = [^,>]+", text))
    if kind == "relu":
        return np.maximum(up, 0)
    alpha = mlir_float(str(params.get("alpha", 1.0)))
    beta = mlir_float(str(params.get("beta", 0.0)))
    if "limit" in params:
        limit = mlir_float(params["limit"])
        gate, up = np.minimum(gate, limit), np.clip(up, -limit, limit)
    return gate * sigmoid(alpha * gate) * (up + beta)


def experts(x, w, ids, operands, act, layout):
    def proj(name, e, v):
        y = operands[name][e] @ v
        bias = operands.get(name + "_bias")
        return y + bias[e] if bias is not None else y

    out = np.zeros_like(x)
    for t in range(len(x)):
        for j in range(ids.shape[1]):
            e = ids[t, j]
            if "gate_up" in operands:
                gu = proj("gate_up", e, x[t])
                half = len(gu) // 2
                gate, up = (gu[0::2], gu[1::2]) if layout == "interleaved" else \
                    (gu[:half], gu[half:])
            else:
                gate = proj("gate", e, x[t]) if "gate" in operands else None
                up = proj("up", e, x[t])
            out[t] += w[t, j] * proj("down", e, activation(act, gate, up))
    return out


def unpack(data, scales, zero_points, packing):
    fmt = re.match(r"(\w+)", packing).group(1)
    block = [int(b) for b in re.search(r"block = \[([^\]]*)\]", packing).group(1).split(",")]
    if fmt in ("uint4", "sint4"):
        q = np.stack([data & 0xF, data >> 4], -1).reshape(*data.shape[:-1], -1)
        q = q.astype(np.int64)
        if fmt == "sint4":
            q = np.where(q > 7, q - 16, q)
    else:
        q = data.astype(np.int64)
    expand = lambda a: np.repeat(a, block[-1], -1)[..., :q.shape[-1]]
    zp = expand(zero_points.astype(np.int64)) if zero_points is not None else 0
    return (q - zp) * expand(scales.astype(np.float64))


def evaluate(text, x):
    env = {"%arg0": x.astype(np.float64)}
    for line in text.splitlines():
        line = line.strip()
        m = re.match(r"(%[\w]+) = arith.constant (dense<.*>) : (tensor<[^>]*>)$", line)
        if m:
            env[m.group(1)] = parse_dense(m.group(2), m.group(3))
            continue
        m = re.match(r'(%\w+) = onnx.node "(\w+)" opset \d+ \(([^)]*)\)', line)
        if m:
            if m.group(2) not in ONNX:
                raise SystemExit(f"eval_raised.py: cannot evaluate onnx op {m.group(2)}")
            args = [env[a.strip()].astype(np.float64) for a in m.group(3).split(",")]
            attrs = dict(re.findall(r"(\w+) = (-?[\d.e+-]+) : [if]\d+", line))
            if m.group(2) == "Softmax":
                e = np.exp(args[0] - args[0].max(int(attrs.get("axis", -1)), keepdims=True))
                env[m.group(1)] = e / e.sum(int(attrs.get("axis", -1)), keepdims=True)
                continue
            if m.group(2) == "Gemm":  # A' B' * alpha + C * beta
                a, b = args[0], args[1]
                a = a.T if int(attrs.get("transA", 0)) else a
                b = b.T if int(attrs.get("transB", 0)) else b
                y = float(attrs.get("alpha", 1.0)) * (a @ b)
                if len(args) > 2:
                    y = y + float(attrs.get("beta", 1.0)) * args[2]
                env[m.group(1)] = y
                continue
            env[m.group(1)] = ONNX[m.group(2)](*args)
            continue
        m = re.match(r"(%\w+) = tensor.cast (%\w+) ", line)
        if m:
            env[m.group(1)] = env[m.group(2)]
            continue
        m = re.match(r"(%\w+) = moe.packed_weight (%\w+), (%\w+)(?: zero_points (%\w+))? :"
                     r".*#moe.packing<(.*)>>$", line)
        if m:
            zp = env[m.group(4)] if m.group(4) else None
            env[m.group(1)] = unpack(env[m.group(2)], env[m.group(3)], zp, m.group(5))
            continue
        m = re.match(r"%weights, %ids = moe.router (%\w+)(?: bias (%\w+))? (.*?) : tensor", line)
        if m:
            attrs = dict(re.findall(r"(top_k|scoring|scale) = ([\w.+-]+)", m.group(3)))
            if " normalize" in " " + m.group(3):
                attrs["normalize"] = True
            g = re.search(r"groups = <([^>]*)>", m.group(3))
            if g:
                attrs["groups"] = g.group(1)
            bias = env[m.group(2)].astype(np.float64) if m.group(2) else None
            env["%weights"], env["%ids"] = router(env[m.group(1)], bias, attrs)
            continue
        m = re.match(r"(%\w+) = moe.experts (%\w+), %weights, %ids activation "
                     r"(\w+(?:<[^>]*>)?) (.*?) :", line)
        if m:
            operands, layout = {}, None
            for key, value in re.findall(r"(\w+) (%\w+|interleaved|concatenated)", m.group(4)):
                if key == "layout":
                    layout = value
                else:
                    operands[key] = env[value].astype(np.float64)
            env[m.group(1)] = experts(env[m.group(2)], env["%weights"], env["%ids"],
                                      operands, m.group(3), layout)
            continue
        m = re.match(r"return (%\w+) ", line)
        if m:
            return env[m.group(1)]
        if re.match(r"%\S+ = ", line):
            raise SystemExit(f"eval_raised.py: cannot evaluate: {line[:80]}")
    raise SystemExit("eval_raised.py: no return")


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    tolerance = float(argv[4]) if len(argv) > 4 and argv[3] == "--tolerance" else 1e-6
    text = open(argv[1]).read()
    with open(os.path.join(argv[2], "manifest.json")) as f:
        manifest = json.load(f)
    ok = True
    for run in manifest["runs"]:
        x = np.fromfile(os.path.join(argv[2], run["input"]), np.float32).reshape(run["shape"])
        ref = np.fromfile(os.path.join(argv[2], run["reference"]), np.float64).reshape(run["shape"])
        y = evaluate(text, x)
        # NaN where the reference has NaN (a model that computes inf * 0)
        # agrees; NaN anywhere else is an error.
        both = np.isnan(y) & np.isnan(ref)
        diff = np.where(both, 0.0, np.abs(y - ref))
        rel = np.nan_to_num(diff, nan=np.inf).max() / \
            max(np.nanmax(np.abs(np.where(both, 0.0, ref))), 1e-30)
        status = "ok  " if rel <= tolerance else "FAIL"
        ok = ok and rel <= tolerance
        print(f"{status} {manifest['case']} T={run['tokens']} rel={rel:.2e}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
