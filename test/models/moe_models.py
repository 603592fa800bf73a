#!/usr/bin/python3
"""Writes MoE test models in every ONNX export form, with float64 references.

usage: moe_models.py OUT_DIR [CASE ...]
       moe_models.py --list

Each case is FORM-VARIANT (or a near-miss, nm-*). It writes
OUT_DIR/CASE/model.onnx and, for raisable cases, one input x and one float64
reference y per token count (1, 7, 40) as raw little-endian files, listed in
OUT_DIR/CASE/manifest.json for ort_check.js.

Forms (../shared/reference/moe-models-and-formats.md, section 4):
  contrib       com.microsoft.MoE (fc1 interleaved gate/up, swiglu_fusion=1)
  contrib_concat, contrib_fc3   swiglu_fusion=2 and separate fc3 (fusion 0)
  qmoe4, qmoe8  com.microsoft.QMoE, symmetric block-wise int4/int8 weights
  nbits4, nbits8  the loop form with com.microsoft.MatMulNBits projections:
                asymmetric int4 with packed zero points and [N, blocks]
                scales; symmetric int8 with the default zero point and
                flat scales
  qdq4, qdq8    the loop form with blocked DequantizeLinear (opset 21) weights:
                int4 [K, N] blocked on axis 0; uint8 [N, K] with zero points
                blocked on axis 1, then Transpose
  gather        TopK indices Gather stacked [E, ...] initializers, batched MatMul
  loop          unrolled per-expert loop: Equal/OneHot -> NonZero -> Gather ->
                MLP -> Mul by routing weight -> ScatterND(add)
  dense         every expert computed, masked by a routing mask
  gather_alt    the gather form respelled: Gemm router (transB=1), no-op Cast
                and Identity on the logits and routing weights, one fused
                [E, 2I, H] gate/up for every variant split by Gather with
                constant index vectors, positive axis numbers throughout
  dense_onehot  the dense form with a Cast(OneHot) x weights routing matrix
                reduced over the k slots, columns taken by Slice, experts
                summed by Sum (or an Add chain); DeepSeek-V3's group mask
                spelled Where(Not(mask), 0, c)
  loop_alt      the loop form with each routing weight gathered from the
                flattened weights at token * k + slot, accumulated by
                ScatterElements(reduction=add) on an expanded token index
  dense_neginf  DeepSeek-V3 only: the dense form with dropped groups filled
                with -inf, not 0
  dense_fill0neg  DeepSeek-V3 only: the dense form (0.0 fill) with the
                selection bias lowered by FILL0NEG_SHIFT, so that many
                eligible scores are negative and some tokens pick an expert
                of a dropped group
Variants: mixtral, qwen2_moe, qwen3_moe, olmoe, deepseek_v3, gpt_oss.

Router logits are drawn so that every top-k choice (and DeepSeek's group
choice) has a margin of at least MARGIN: rounding cannot flip a selection.
"""

import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

TOKEN_COUNTS = (1, 7, 40)
MARGIN = 2e-3
HIDDEN = 32
BLOCK = 16  # QMoE quantization block along K

VARIANTS = {
    # E, k, scoring, normalize, activation; extras below.
    "mixtral": dict(E=8, k=2, I=16, scoring="softmax", normalize=True),
    "qwen2_moe": dict(E=8, k=2, I=8, scoring="softmax", normalize=False,
                      shared="gated", shared_I=24),
    "qwen3_moe": dict(E=16, k=4, I=8, scoring="softmax", normalize=True),
    "olmoe": dict(E=16, k=4, I=8, scoring="softmax", normalize=False),
    "deepseek_v3": dict(E=16, k=4, I=8, scoring="sigmoid", normalize=True,
                        bias=True, n_group=4, topk_group=2, scale=2.5,
                        shared="plain", shared_I=16),
    "gpt_oss": dict(E=8, k=2, I=16, scoring="softmax_after_topk",
                    normalize=False, router_bias=True, act="gpt_oss"),
}
ALPHA, LIMIT = 1.702, 7.0  # GPT-OSS clamped SwiGLU

FORMS = ("contrib", "contrib_concat", "contrib_fc3", "qmoe4", "qmoe8",
         "gather", "loop", "dense", "nbits4", "nbits8", "qdq4", "qdq8",
         "gather_alt", "dense_onehot", "loop_alt", "dense_neginf", "dense_fill0neg")
# dense_onehot sums its experts with one variadic Sum for these variants (an
# Add chain for the others); loop_alt masks by Transpose(OneHot) for these
# (Equal for the others), the opposite of form_loop's choice.
SUM_VARIANTS = ("mixtral", "olmoe", "deepseek_v3")
ONE_HOT_LOOP_VARIANTS = ("qwen2_moe", "olmoe", "gpt_oss")
# dense_fill0neg: lowers DeepSeek-V3's selection bias by this much, so that
# most scores sigmoid + bias are negative and about 40% of the tokens pick an
# expert of a dropped group (at 1.0 nearly every token would).
FILL0NEG_SHIFT = 0.75
# The contrib ops take logits and apply softmax inside: no sigmoid, selection
# bias or group limit, so DeepSeek-V3 routing has no contrib form.
CONTRIB_VARIANTS = ("mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "gpt_oss")
NEAR_MISSES = ("nm-topk-axis", "nm-not-router", "nm-missing-expert",
               "nm-bottom-k", "nm-unweighted")


def cases():
    out = []
    for form in FORMS:
        for variant in VARIANTS:
            if form.startswith(("contrib", "qmoe")) and variant not in CONTRIB_VARIANTS:
                continue
            if form in ("qmoe8", "contrib_concat", "contrib_fc3") and variant != "mixtral":
                continue
            if form in ("qmoe4", "nbits4") and variant not in ("mixtral", "gpt_oss"):
                continue
            if form in ("nbits8", "qdq8") and variant != "mixtral":
                continue
            if form == "qdq4" and variant not in ("mixtral", "gpt_oss"):
                continue
            if form in ("dense_neginf", "dense_fill0neg") and variant != "deepseek_v3":
                continue
            out.append(f"{form}-{variant}")
    return out + list(NEAR_MISSES)


# --------------------------------------------------------------------------
# Graph building
# --------------------------------------------------------------------------

class Graph:
    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0
        self.opset = 17

    def fresh(self, hint):
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, array, hint="c"):
        name = self.fresh(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def int4(self, values, hint="q4"):
        """An INT4 initializer (opset 21), two per byte, low nibble first;
        python3-onnx 1.12 cannot write one, so the proto is built here."""
        name = self.fresh(hint)
        flat = (np.asarray(values, np.int64).ravel() & 15).astype(np.uint8)
        flat = np.concatenate([flat, np.zeros(len(flat) % 2, np.uint8)])
        t = TensorProto(name=name, data_type=22, dims=list(np.shape(values)))
        t.raw_data = (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8).tobytes()
        self.inits.append(t)
        return name

    def i64(self, values):
        return self.const(np.array(values, dtype=np.int64), "i")

    def f32(self, values):
        return self.const(np.array(values, dtype=np.float32), "f")

    def op(self, op_type, inputs, n_out=1, domain="", **attrs):
        outs = [self.fresh(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=outs[0],
                                           domain=domain or None, **attrs))
        return outs[0] if n_out == 1 else outs

    def model(self, out, E_dim="T"):
        graph = helper.make_graph(
            self.nodes, "moe",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [E_dim, HIDDEN])],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, [E_dim, HIDDEN])],
            initializer=self.inits)
        opsets = [helper.make_opsetid("", self.opset),
                  helper.make_opsetid("com.microsoft", 1)]
        m = helper.make_model(graph, opset_imports=opsets, producer_name="moe_models.py")
        m.ir_version = 10 if self.opset >= 21 else 8  # INT4 needs IR 10
        return m


# --------------------------------------------------------------------------
# Weights and float64 reference math
# --------------------------------------------------------------------------

def silu(v):
    return v / (1.0 + np.exp(-v))


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def softmax(v):
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class Weights:
    """One MoE layer's float32 weights, torch layout [out, in]."""

    def __init__(self, cfg, rng):
        E, I, H = cfg["E"], cfg["I"], HIDDEN
        f = lambda *s: (rng.standard_normal(s) * 0.3).astype(np.float32)
        self.router = f(cfg["E"], H)
        self.router_bias = f(E) if cfg.get("router_bias") else None
        self.sel_bias = (rng.standard_normal(E) * 0.05).astype(np.float32) \
            if cfg.get("bias") else None
        self.gate, self.up, self.down = f(E, I, H), f(E, I, H), f(E, H, I)
        gpt = cfg.get("act") == "gpt_oss"
        self.gate_b = f(E, I) if gpt else None
        self.up_b = f(E, I) if gpt else None
        self.down_b = f(E, H) if gpt else None
        if cfg.get("shared"):
            S = cfg["shared_I"]
            self.sh_gate, self.sh_up, self.sh_down = f(S, H), f(S, H), f(H, S)
            self.sh_gate_w = f(1, H) if cfg["shared"] == "gated" else None

    def interleaved(self):
        E, I, H = self.gate.shape
        gu = np.empty((E, 2 * I, H), np.float32)
        gu[:, 0::2], gu[:, 1::2] = self.gate, self.up
        b = None
        if self.gate_b is not None:
            b = np.empty((E, 2 * I), np.float32)
            b[:, 0::2], b[:, 1::2] = self.gate_b, self.up_b
        return gu, b


def expert_ref(cfg, W, e, x):
    g = x @ W.gate[e].T.astype(np.float64)
    u = x @ W.up[e].T.astype(np.float64)
    if cfg.get("act") == "gpt_oss":
        g, u = g + W.gate_b[e], u + W.up_b[e]
        g = np.minimum(g, LIMIT)
        u = np.clip(u, -LIMIT, LIMIT)
        a = (u + 1.0) * g * sigmoid(ALPHA * g)
        return a @ W.down[e].T.astype(np.float64) + W.down_b[e]
    return (silu(g) * u) @ W.down[e].T.astype(np.float64)


def logits_ref(W, x):
    logits = x @ W.router.T.astype(np.float64)
    if W.router_bias is not None:
        logits = logits + W.router_bias
    return logits


def route_ref(cfg, W, x):
    """Returns (weights [T,k], ids [T,k], margin per token) in float64.

    DeepSeek's dropped groups score 0.0 (HF's masked_fill), or
    cfg["group_fill"] where given: then ties between two filled scores are
    exact in any precision, and TopK breaks them by index as the stable sort
    does, so they do not count against the margin."""
    E, k = cfg["E"], cfg["k"]
    logits = logits_ref(W, x)
    scoring = cfg["scoring"]
    s = softmax(logits) if scoring == "softmax" else \
        sigmoid(logits) if scoring == "sigmoid" else logits
    c = s + W.sel_bias if W.sel_bias is not None else s.copy()
    margins = np.full(len(x), np.inf)
    dropped = None
    if cfg.get("n_group"):
        G, keep = cfg["n_group"], cfg["topk_group"]
        grouped = np.sort(c.reshape(len(x), G, E // G), axis=-1)[..., -2:].sum(-1)
        order = np.argsort(-grouped, axis=-1, kind="stable")
        gs = np.take_along_axis(grouped, order, -1)
        margins = np.minimum(margins, gs[:, keep - 1] - gs[:, keep])
        mask = np.zeros((len(x), G))
        np.put_along_axis(mask, order[:, :keep], 1.0, -1)
        c = np.where(np.repeat(mask, E // G, axis=1) > 0, c, cfg.get("group_fill", 0.0))
        if "group_fill" in cfg:
            dropped = np.repeat(mask, E // G, axis=1) == 0
    ids = np.argsort(-c, axis=-1, kind="stable")
    sorted_c = np.take_along_axis(c, ids, -1)
    if dropped is None:
        margins = np.minimum(margins, sorted_c[:, k - 1] - sorted_c[:, k])
        # Also keep the selected scores apart, so their order is stable too.
        margins = np.minimum(margins, np.min(-np.diff(sorted_c[:, :k + 1]), axis=-1))
    else:
        margins = np.minimum(margins, fill_gaps(sorted_c, ids, dropped, k))
    ids = ids[:, :k]
    if scoring == "softmax_after_topk":
        w = softmax(np.take_along_axis(logits, ids, -1))
    else:
        w = np.take_along_axis(s, ids, -1)
    if cfg["normalize"]:
        w = w / (w.sum(-1, keepdims=True) + (1e-20 if scoring == "sigmoid" else 0.0))
    return w * cfg.get("scale", 1.0), ids, margins


def fill_gaps(sorted_c, ids, dropped, k):
    """The smallest gap between neighbours among the first k + 1 sorted
    scores, ignoring the exact ties between two filled (dropped) scores."""
    gaps = -np.diff(sorted_c[:, :k + 1])
    fill = np.take_along_axis(dropped, ids[:, :k + 1], -1)
    return np.min(np.where(fill[:, :-1] & fill[:, 1:], np.inf, gaps), axis=-1)


def dropped_picks(cfg, W, x):
    """Per token: whether its selection under cfg's group fill differs from
    the selection under a -inf fill, that is, takes an expert of a dropped
    group."""
    ids = np.sort(route_ref(cfg, W, x)[1], axis=-1)
    eligible = np.sort(route_ref(dict(cfg, group_fill=-np.inf), W, x)[1], axis=-1)
    return np.any(ids != eligible, axis=-1)


def shared_ref(cfg, W, x):
    if not cfg.get("shared"):
        return 0.0
    y = (silu(x @ W.sh_gate.T.astype(np.float64)) * (x @ W.sh_up.T.astype(np.float64))) \
        @ W.sh_down.T.astype(np.float64)
    if W.sh_gate_w is not None:
        y = y * sigmoid(x @ W.sh_gate_w.T.astype(np.float64))
    return y


def moe_ref(cfg, W, x, skip_expert=None):
    w, ids, _ = route_ref(cfg, W, x)
    y = np.zeros_like(x)
    for t in range(len(x)):
        for j in range(cfg["k"]):
            if ids[t, j] != skip_expert:
                y[t] += w[t, j] * expert_ref(cfg, W, ids[t, j], x[t:t + 1])[0]
    return y + shared_ref(cfg, W, x)


def draw_tokens(cfg, W, n, rng):
    """Token rows whose routing has a margin of at least MARGIN."""
    rows = []
    while len(rows) < n:
        x = rng.standard_normal((64, HIDDEN)) * 1.5
        x = x.astype(np.float32).astype(np.float64)
        _, _, margins = route_ref(cfg, W, x)
        rows.extend(x[margins > MARGIN])
    return np.array(rows[:n])


# --------------------------------------------------------------------------
# Router subgraphs (gather, loop and dense forms)
# --------------------------------------------------------------------------

def router_logits(g, W):
    logits = g.op("MatMul", ["x", g.const(W.router.T.copy(), "router_w")])
    if W.router_bias is not None:
        logits = g.op("Add", [logits, g.const(W.router_bias, "router_b")])
    return logits


def gemm_router_logits(g, W):
    """Gemm(x, Wr[E, H], bias, transB=1), the bias only where there is one."""
    ins = ["x", g.const(W.router, "router_w")]
    if W.router_bias is not None:
        ins.append(g.const(W.router_bias, "router_b"))
    return g.op("Gemm", ins, transB=1)


def no_op(g, v):
    """Cast(to=FLOAT) then Identity: float32 in, the same float32 out."""
    return g.op("Identity", [g.op("Cast", [v], to=TensorProto.FLOAT)])


def group_mask_where(g, mask, c, fill=0.0, invert=False):
    """Where(mask, c, fill), or Where(Not(mask), fill, c) with `invert`."""
    if invert:
        return g.op("Where", [g.op("Not", [mask]), g.f32(fill), c])
    return g.op("Where", [mask, c, g.f32(fill)])


def build_router(g, cfg, W, axis=-1, largest=1, alt=False, fill=0.0, invert=False):
    """Returns (weights, ids) of shape [T, k] as the HF exports compute them.

    `alt`: the gather_alt spelling (Gemm router, no-op Cast and Identity on
    the logits and weights, positive axes; pass axis=1 too). `fill` and
    `invert`: DeepSeek-V3's group mask, see group_mask_where."""
    E, k = cfg["E"], cfg["k"]
    last = 1 if alt else -1  # the expert axis of [T, E] and [T, k]
    logits = no_op(g, gemm_router_logits(g, W)) if alt else router_logits(g, W)
    K = g.i64([k])
    if cfg["scoring"] == "softmax_after_topk":
        vals, ids = g.op("TopK", [logits, K], 2, axis=axis, largest=largest)
        w = g.op("Softmax", [vals], axis=last)
        return (no_op(g, w) if alt else w), ids
    if cfg["scoring"] == "softmax":
        s = g.op("Softmax", [logits], axis=last)
        vals, ids = g.op("TopK", [s, K], 2, axis=axis, largest=largest)
        w = vals
    else:  # DeepSeek-V3 noaux_tc
        s = g.op("Sigmoid", [logits])
        c = g.op("Add", [s, g.const(W.sel_bias, "e_score_correction_bias")])
        G, keep = cfg["n_group"], cfg["topk_group"]
        grouped = g.op("Reshape", [c, g.i64([-1, G, E // G])])
        top2 = g.op("TopK", [grouped, g.i64([2])], 2, axis=2 if alt else -1)[0]
        group_scores = g.op("ReduceSum", [top2, g.i64([2 if alt else -1])], keepdims=0)
        group_ids = g.op("TopK", [group_scores, g.i64([keep])], 2, axis=last)[1]
        zeros = g.op("ConstantOfShape", [g.op("Shape", [group_scores])],
                     value=helper.make_tensor("", TensorProto.FLOAT, [1], [0.0]))
        ones = g.op("ConstantOfShape", [g.op("Shape", [group_ids])],
                    value=helper.make_tensor("", TensorProto.FLOAT, [1], [1.0]))
        group_mask = g.op("ScatterElements", [zeros, group_ids, ones], axis=1)
        expanded = g.op("Expand", [g.op("Unsqueeze", [group_mask, g.i64([2])]),
                                   g.i64([1, G, E // G])])
        score_mask = g.op("Reshape", [expanded, g.i64([-1, E])])
        masked = group_mask_where(g, g.op("Cast", [score_mask], to=TensorProto.BOOL),
                                  c, fill, invert)
        ids = g.op("TopK", [masked, K], 2, axis=axis, largest=largest)[1]
        w = g.op("GatherElements", [s, ids], axis=1)
    if cfg["normalize"]:
        total = g.op("ReduceSum", [w, g.i64([last])], keepdims=1)
        if cfg["scoring"] == "sigmoid":
            total = g.op("Add", [total, g.f32(1e-20)])
        w = g.op("Div", [w, total])
    if cfg.get("scale"):
        w = g.op("Mul", [w, g.f32(cfg["scale"])])
    return (no_op(g, w) if alt else w), ids


def build_shared(g, cfg, W, moe_out):
    if not cfg.get("shared"):
        return moe_out
    gate = g.op("MatMul", ["x", g.const(W.sh_gate.T.copy(), "shared_gate")])
    up = g.op("MatMul", ["x", g.const(W.sh_up.T.copy(), "shared_up")])
    act = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), up])
    y = g.op("MatMul", [act, g.const(W.sh_down.T.copy(), "shared_down")])
    if W.sh_gate_w is not None:
        y = g.op("Mul", [g.op("Sigmoid", [g.op("MatMul", [
            "x", g.const(W.sh_gate_w.T.copy(), "shared_expert_gate")])]), y])
    return g.op("Add", [moe_out, y])


def gated_act(g, cfg, gate, up):
    if cfg.get("act") == "gpt_oss":
        gate = g.op("Clip", [gate, "", g.f32(LIMIT)])
        up = g.op("Clip", [up, g.f32(-LIMIT), g.f32(LIMIT)])
        glu = g.op("Mul", [gate, g.op("Sigmoid", [g.op("Mul", [gate, g.f32(ALPHA)])])])
        return g.op("Mul", [g.op("Add", [up, g.f32(1.0)]), glu])
    return g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), up])


def nbits_quantize(w, bits):
    """MatMulNBits' inputs for a torch-layout [N, K] weight, block BLOCK:
    int4 asymmetric (zero points packed two per byte, scales [N, blocks]),
    int8 symmetric (default zero point 128, flat scales); and the
    dequantized weight the reference computes with."""
    N, K = w.shape
    v = w.reshape(N, K // BLOCK, BLOCK).astype(np.float64)
    if bits == 4:
        lo, hi = np.minimum(v.min(-1), 0), np.maximum(v.max(-1), 0)
        s = ((hi - lo) / 15).astype(np.float32)
        z = np.clip(np.round(-lo / s), 0, 15)
        q = np.clip(np.round(v / s[..., None]) + z[..., None], 0, 15)
    else:
        s = (np.abs(v).max(-1) / 127).astype(np.float32)
        z = np.full(s.shape, 128.0)
        q = np.clip(np.round(v / s[..., None]), -128, 127) + 128
    deq = ((q - z[..., None]) * s[..., None].astype(np.float64)).reshape(N, K)
    q = q.astype(np.uint8)
    if bits == 4:
        q = q[..., 0::2] | (q[..., 1::2] << 4)
        zb = np.zeros((N, (K // BLOCK + 1) // 2 * 2), np.uint8)
        zb[:, :K // BLOCK] = z
        zp = (zb[:, 0::2] | (zb[:, 1::2] << 4)).astype(np.uint8)
        return q, s, zp, deq.astype(np.float32)
    return q, s.reshape(-1), None, deq.astype(np.float32)


def qdq_quantize(w, form):
    """Blocked (block BLOCK along K) QDQ codes of a torch-layout [N, K]
    weight: qdq4 symmetric int4, qdq8 asymmetric uint8; returns codes,
    scales and zero points [N, K // BLOCK] (None for qdq4) and the
    dequantized weight."""
    N, K = w.shape
    v = w.reshape(N, K // BLOCK, BLOCK).astype(np.float64)
    if form == "qdq4":
        s = (np.abs(v).max(-1) / 7).astype(np.float32)
        z = np.zeros(s.shape)
        q = np.clip(np.round(v / s[..., None]), -8, 7)
    else:
        lo, hi = np.minimum(v.min(-1), 0), np.maximum(v.max(-1), 0)
        s = ((hi - lo) / 255).astype(np.float32)
        z = np.clip(np.round(-lo / s), 0, 255)
        q = np.clip(np.round(v / s[..., None]) + z[..., None], 0, 255)
    deq = ((q - z[..., None]) * s[..., None].astype(np.float64)).reshape(N, K)
    zp = None if form == "qdq4" else z.astype(np.uint8)
    return q.reshape(N, K).astype(np.int64), s, zp, deq.astype(np.float32)


def projection(g, x, w, name, nbits):
    """x @ w.T for a torch-layout [N, K] weight: MatMul on the transposed
    initializer; MatMulNBits on block-quantized codes (nbits 4 or 8); or a
    blocked DequantizeLinear feeding the MatMul ("qdq4": int4 [K, N] blocked
    on axis 0; "qdq8": uint8 [N, K] blocked on axis 1, then Transpose).
    Returns the output and the weight the reference computes with."""
    if not nbits:
        return g.op("MatMul", [x, g.const(w.T.copy(), name)]), w
    if nbits == "qdq4":
        q, s, _, deq = qdq_quantize(w, nbits)
        dq = g.op("DequantizeLinear", [g.int4(q.T, f"{name}_q"),
                                       g.const(s.T.copy(), f"{name}_scales")],
                  axis=0, block_size=BLOCK)
        return g.op("MatMul", [x, dq]), deq
    if nbits == "qdq8":
        q, s, zp, deq = qdq_quantize(w, nbits)
        dq = g.op("DequantizeLinear", [g.const(q.astype(np.uint8), f"{name}_q"),
                                       g.const(s, f"{name}_scales"),
                                       g.const(zp, f"{name}_zp")],
                  axis=1, block_size=BLOCK)
        return g.op("MatMul", [x, g.op("Transpose", [dq], perm=[1, 0])]), deq
    q, s, zp, deq = nbits_quantize(w, nbits)
    ins = [x, g.const(q, f"{name}_q"), g.const(s, f"{name}_scales")]
    if zp is not None:
        ins.append(g.const(zp, f"{name}_zp"))
    return g.op("MatMulNBits", ins, domain="com.microsoft", K=w.shape[1],
                N=w.shape[0], bits=nbits, block_size=BLOCK), deq


def expert_mlp(g, cfg, W, e, x, nbits=0):
    """One expert on per-expert [in, out] initializers, as traced exports
    have; with `nbits`, on MatMulNBits, and W then holds the dequantized
    weights the reference computes with."""
    if cfg.get("act") == "gpt_oss":
        gu, gub = W.interleaved()
        h, gu_e = projection(g, x, gu[e], f"e{e}_gate_up", nbits)
        W.gate[e], W.up[e] = gu_e[0::2], gu_e[1::2]
        h = g.op("Add", [h, g.const(gub[e], f"e{e}_gate_up_b")])
        big = g.i64([1 << 62])
        gate = g.op("Slice", [h, g.i64([0]), big, g.i64([-1]), g.i64([2])])
        up = g.op("Slice", [h, g.i64([1]), big, g.i64([-1]), g.i64([2])])
        act = gated_act(g, cfg, gate, up)
        y, W.down[e] = projection(g, act, W.down[e], f"e{e}_down", nbits)
        return g.op("Add", [y, g.const(W.down_b[e], f"e{e}_down_b")])
    gate, W.gate[e] = projection(g, x, W.gate[e], f"e{e}_gate", nbits)
    up, W.up[e] = projection(g, x, W.up[e], f"e{e}_up", nbits)
    y, W.down[e] = projection(g, gated_act(g, cfg, gate, up), W.down[e],
                              f"e{e}_down", nbits)
    return y


# --------------------------------------------------------------------------
# The four forms
# --------------------------------------------------------------------------

def form_gather(g, cfg, W, w, ids):
    """GPT-OSS make_moe_decomposed / transformers batched_mm."""
    xk = g.op("Unsqueeze", ["x", g.i64([1, 2])])  # [T,1,1,H]
    if cfg.get("act") == "gpt_oss":
        gu, gub = W.interleaved()  # stacked in x @ W layout [E, H, 2I]
        w1 = g.op("Gather", [g.const(gu.transpose(0, 2, 1).copy(), "W1"), ids], axis=0)
        b1 = g.op("Gather", [g.const(gub, "b1"), ids], axis=0)
        h = g.op("Add", [g.op("MatMul", [xk, w1]), g.op("Unsqueeze", [b1, g.i64([2])])])
        big = g.i64([1 << 62])
        gate = g.op("Slice", [h, g.i64([0]), big, g.i64([-1]), g.i64([2])])
        up = g.op("Slice", [h, g.i64([1]), big, g.i64([-1]), g.i64([2])])
        act = gated_act(g, cfg, gate, up)
        w2 = g.op("Gather", [g.const(W.down.transpose(0, 2, 1).copy(), "W2"), ids], axis=0)
        b2 = g.op("Gather", [g.const(W.down_b, "b2"), ids], axis=0)
        y = g.op("Add", [g.op("MatMul", [act, w2]), g.op("Unsqueeze", [b2, g.i64([2])])])
    else:  # torch layout, gate and up concatenated: experts.gate_up_proj [E, 2I, H]
        I = cfg["I"]
        gate_up = g.const(np.concatenate([W.gate, W.up], axis=1), "gate_up_proj")
        w1 = g.op("Transpose", [g.op("Gather", [gate_up, ids], axis=0)], perm=[0, 1, 3, 2])
        gate, up = g.op("Split", [g.op("MatMul", [xk, w1]), g.i64([I, I])], 2, axis=-1)
        act = gated_act(g, cfg, gate, up)
        w2 = g.op("Transpose", [g.op("Gather", [g.const(W.down, "down_proj"), ids], axis=0)],
                  perm=[0, 1, 3, 2])
        y = g.op("MatMul", [act, w2])
    y = g.op("Squeeze", [y, g.i64([2])])  # [T,k,H]
    y = g.op("Mul", [y, g.op("Unsqueeze", [w, g.i64([2])])])
    return g.op("ReduceSum", [y, g.i64([1])], keepdims=0)


def expert_mask(g, cfg, ids, one_hot):
    """Mixtral-style exports one-hot the ids and permute to [E, k, T]
    (returned); others compare against each expert id (None)."""
    if not one_hot:
        return None
    return g.op("Transpose", [g.op("OneHot", [ids, g.i64(cfg["E"]), g.i64([0, 1])], axis=-1)],
                perm=[2, 1, 0])


def expert_hits(g, ids, mask, e):
    """(token, slot) index vectors of the pairs routed to expert e."""
    if mask is not None:
        hit = g.op("NonZero", [g.op("Gather", [mask, g.i64(e)], axis=0)])  # [2,n]: slot, token
        slot, tok = g.op("Gather", [hit, g.i64(0)], axis=0), g.op("Gather", [hit, g.i64(1)], axis=0)
    else:
        hit = g.op("NonZero", [g.op("Equal", [ids, g.i64(e)])])  # [2,n]: token, slot
        tok, slot = g.op("Gather", [hit, g.i64(0)], axis=0), g.op("Gather", [hit, g.i64(1)], axis=0)
    return tok, slot


def form_loop(g, cfg, W, w, ids, skip_expert=None, nbits=0):
    """HF eager loop over range(E), traced: one subgraph per expert."""
    E = cfg["E"]
    acc = g.op("ConstantOfShape", [g.op("Shape", ["x"])],
               value=helper.make_tensor("", TensorProto.FLOAT, [1], [0.0]))
    mask = expert_mask(g, cfg, ids, cfg["scoring"] == "softmax" and cfg["normalize"])
    for e in range(E):
        if e == skip_expert:
            continue
        tok, slot = expert_hits(g, ids, mask, e)
        rows = g.op("Gather", ["x", tok], axis=0)
        y = expert_mlp(g, cfg, W, e, rows, nbits)
        pairs = g.op("Concat", [g.op("Unsqueeze", [tok, g.i64([1])]),
                                g.op("Unsqueeze", [slot, g.i64([1])])], axis=1)
        weight = g.op("GatherND", [w, pairs])
        y = g.op("Mul", [y, g.op("Unsqueeze", [weight, g.i64([1])])])
        acc = g.op("ScatterND", [acc, g.op("Unsqueeze", [tok, g.i64([1])]), y],
                   reduction="add")
    return acc


def form_dense(g, cfg, W, w, ids, weighted=True):
    """mobius dense_fallback: every expert on every token, masked."""
    E = cfg["E"]
    scatter = cfg["scoring"] != "softmax"
    if scatter:  # routing matrix [T, E] by ScatterElements
        shape = g.op("Concat", [g.op("Slice", [g.op("Shape", ["x"]), g.i64([0]), g.i64([1])]),
                                g.i64([E])], axis=0)
        zeros = g.op("ConstantOfShape", [shape],
                     value=helper.make_tensor("", TensorProto.FLOAT, [1], [0.0]))
        routing = g.op("ScatterElements", [zeros, ids, w], axis=1)
    out = None
    for e in range(E):
        if scatter:
            col = g.op("Gather", [routing, g.i64([e])], axis=1)  # [T,1]
        else:  # Equal one-hot times weights, summed over the k slots
            hit = g.op("Cast", [g.op("Equal", [ids, g.i64(e)])], to=TensorProto.FLOAT)
            col = g.op("ReduceSum", [g.op("Mul", [hit, w]) if weighted else hit,
                                     g.i64([1])], keepdims=1)
        y = g.op("Mul", [expert_mlp(g, cfg, W, e, "x"), col])
        out = y if out is None else g.op("Add", [out, y])
    return out


def form_gather_alt(g, cfg, W, w, ids):
    """The gather form respelled: one fused torch-layout [E, 2I, H] gate/up
    for every variant (interleaved for GPT-OSS, concatenated otherwise),
    split by Gather with constant index vectors on axis 3; positive axes."""
    I, gpt = cfg["I"], cfg.get("act") == "gpt_oss"
    if gpt:
        gu, gub = W.interleaved()
        gate_at, up_at = np.arange(0, 2 * I, 2), np.arange(1, 2 * I, 2)
    else:
        gu, gub = np.concatenate([W.gate, W.up], axis=1), None
        gate_at, up_at = np.arange(I), np.arange(I, 2 * I)
    xk = g.op("Unsqueeze", ["x", g.i64([1, 2])])  # [T,1,1,H]
    h = g.op("MatMul", [xk, gathered_t(g, gu, ids, "gate_up_proj")])  # [T,k,1,2I]
    if gpt:
        h = g.op("Add", [h, gathered_bias(g, gub, ids, "gate_up_bias")])
    gate = g.op("Gather", [h, g.i64(gate_at)], axis=3)
    up = g.op("Gather", [h, g.i64(up_at)], axis=3)
    y = g.op("MatMul", [gated_act(g, cfg, gate, up), gathered_t(g, W.down, ids, "down_proj")])
    if gpt:
        y = g.op("Add", [y, gathered_bias(g, W.down_b, ids, "down_bias")])
    y = g.op("Squeeze", [y, g.i64([2])])  # [T,k,H]
    y = g.op("Mul", [y, g.op("Unsqueeze", [w, g.i64([2])])])
    return g.op("ReduceSum", [y, g.i64([1])], keepdims=0)


def gathered_t(g, stacked, ids, name):
    """The routed experts' torch-layout [out, in] weights, transposed:
    [T, k, in, out]."""
    return g.op("Transpose", [g.op("Gather", [g.const(stacked, name), ids], axis=0)],
                perm=[0, 1, 3, 2])


def gathered_bias(g, stacked, ids, name):
    """The routed experts' biases [T, k, 1, out]."""
    return g.op("Unsqueeze", [g.op("Gather", [g.const(stacked, name), ids], axis=0),
                              g.i64([2])])


def form_loop_alt(g, cfg, W, w, ids, one_hot):
    """The loop form respelled: each pair's weight gathered from the
    flattened [T*k] weights at token * k + slot, the expert's rows added into
    the output by ScatterElements(reduction=add) on an expanded token index."""
    E, k = cfg["E"], cfg["k"]
    acc = g.op("ConstantOfShape", [g.op("Shape", ["x"])],
               value=helper.make_tensor("", TensorProto.FLOAT, [1], [0.0]))
    flat_w = g.op("Reshape", [w, g.i64([-1])])
    mask = expert_mask(g, cfg, ids, one_hot)
    for e in range(E):
        tok, slot = expert_hits(g, ids, mask, e)
        y = expert_mlp(g, cfg, W, e, g.op("Gather", ["x", tok], axis=0))
        at = g.op("Add", [g.op("Mul", [tok, g.i64(k)]), slot])
        weight = g.op("Gather", [flat_w, at], axis=0)
        y = g.op("Mul", [y, g.op("Unsqueeze", [weight, g.i64([1])])])
        index = g.op("Expand", [g.op("Unsqueeze", [tok, g.i64([1])]), g.op("Shape", [y])])
        acc = g.op("ScatterElements", [acc, index, y], axis=0, reduction="add")
    return acc


def form_dense_onehot(g, cfg, W, w, ids, variadic):
    """The dense form respelled: routing matrix [T, E] = sum over the k slots
    of Cast(OneHot(ids)) * weights (with a Sum, OneHot written as
    Equal(Unsqueeze(ids, -1), Range(0, E, 1))), each expert's column by
    Slice, the masked outputs summed by one Sum (`variadic`) or a
    left-to-right Add chain."""
    E = cfg["E"]
    if variadic:
        experts = g.op("Range", [g.const(np.array(0, np.int64)),
                                 g.const(np.array(E, np.int64)),
                                 g.const(np.array(1, np.int64))])
        hot = g.op("Equal", [g.op("Unsqueeze", [ids, g.i64([-1])]), experts])
    else:
        hot = g.op("OneHot", [ids, g.i64(E), g.i64([0, 1])], axis=-1)
    hot = g.op("Cast", [hot], to=TensorProto.FLOAT)  # [T,k,E]
    weighted = g.op("Mul", [hot, g.op("Unsqueeze", [w, g.i64([-1])])])
    routing = g.op("ReduceSum", [weighted, g.i64([1])], keepdims=0)  # [T,E]
    outs = []
    for e in range(E):
        col = g.op("Slice", [routing, g.i64([e]), g.i64([e + 1]), g.i64([1])])  # [T,1]
        outs.append(g.op("Mul", [expert_mlp(g, cfg, W, e, "x"), col]))
    if variadic:
        return g.op("Sum", outs)
    out = outs[0]
    for y in outs[1:]:
        out = g.op("Add", [out, y])
    return out


def quantize(weight, bits):
    """Symmetric block-wise quantization along K; ORT's default zero point."""
    E, N, K = weight.shape
    blocks = weight.reshape(E, N, K // BLOCK, BLOCK).astype(np.float64)
    qmax = (1 << (bits - 1)) - 1
    scale = np.abs(blocks).max(-1, keepdims=True) / qmax
    scale = scale.astype(np.float32)
    q = np.clip(np.round(blocks / scale), -qmax - 1, qmax).astype(np.int64) + (1 << (bits - 1))
    deq = ((q - (1 << (bits - 1))) * scale.astype(np.float64)).reshape(E, N, K)
    q = q.reshape(E, N, K).astype(np.uint8)
    if bits == 4:
        q = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)
    return q, scale.reshape(E, N, K // BLOCK), deq.astype(np.float32)


def form_contrib(g, cfg, W, form):
    logits = router_logits(g, W)
    gpt = cfg.get("act") == "gpt_oss"
    attrs = dict(k=cfg["k"], activation_type="swiglu",
                 normalize_routing_weights=int(cfg["normalize"] or gpt),
                 activation_alpha=ALPHA if gpt else 1.0,
                 activation_beta=1.0 if gpt else 0.0)
    if gpt:
        attrs["swiglu_limit"] = LIMIT
    gu, gub = W.interleaved()
    if form == "contrib_concat":
        fc1, fusion = np.concatenate([W.gate, W.up], axis=1), 2
    elif form == "contrib_fc3":
        fc1, fusion = W.gate, 0
    else:
        fc1, fusion = gu, 1
    attrs["swiglu_fusion"] = fusion
    if form.startswith("qmoe"):
        bits = int(form[-1])
        q1, s1, deq1 = quantize(fc1, bits)
        q2, s2, deq2 = quantize(W.down, bits)
        # The reference computes with exactly the dequantized values.
        W.gate, W.up = deq1[:, 0::2].copy(), deq1[:, 1::2].copy()
        W.down = deq2
        ins = ["x", logits, g.const(q1, "fc1_q"), g.const(s1, "fc1_scales"),
               g.const(gub, "fc1_bias") if gpt else "",
               g.const(q2, "fc2_q"), g.const(s2, "fc2_scales"),
               g.const(W.down_b, "fc2_bias") if gpt else ""]
        attrs.update(expert_weight_bits=bits, block_size=BLOCK)
        return g.op("QMoE", ins, domain="com.microsoft", **attrs)
    ins = ["x", logits, g.const(fc1, "fc1"), g.const(gub, "fc1_bias") if gpt else "",
           g.const(W.down, "fc2"), g.const(W.down_b, "fc2_bias") if gpt else ""]
    if fusion == 0:
        ins += [g.const(W.up, "fc3")]
    return g.op("MoE", ins, domain="com.microsoft", **attrs)


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------

def build(case, rng):
    """Returns (model, cfg, weights, reference function or None)."""
    g = Graph()
    if case.startswith("nm-"):
        cfg = dict(VARIANTS["olmoe" if case != "nm-missing-expert" else "mixtral"])
        W = Weights(cfg, rng)
        if case == "nm-topk-axis":  # top-k over tokens, not experts
            w, ids = build_router(g, cfg, W, axis=0)
            out = g.op("Add", ["x", g.op("ReduceSum", [w, g.i64([1]), ], keepdims=1)])
        elif case == "nm-not-router":  # top-k activation sparsity on x itself
            vals, ids = g.op("TopK", ["x", g.i64([4])], 2, axis=-1)
            out = g.op("Add", ["x", g.op("ReduceSum", [vals, g.i64([1])], keepdims=1)])
        elif case == "nm-missing-expert":  # trace that kept only the hit experts
            w, ids = build_router(g, cfg, W)
            out = form_loop(g, cfg, W, w, ids, skip_expert=3)
        elif case == "nm-bottom-k":  # largest=0: the mask is not the top-k
            w, ids = build_router(g, cfg, W, largest=0)
            out = form_dense(g, cfg, W, w, ids)
        else:  # nm-unweighted: experts summed without the routing weights
            w, ids = build_router(g, cfg, W)
            out = form_dense(g, cfg, W, w, ids, weighted=False)
        return g.model(out), cfg, W, None
    form, variant = case.split("-", 1)
    cfg = dict(VARIANTS[variant])
    W = Weights(cfg, rng)
    if form in ("dense_neginf", "dense_fill0neg"):
        cfg["group_fill"] = -np.inf if form == "dense_neginf" else 0.0
    if form == "dense_fill0neg":
        W.sel_bias = (W.sel_bias - FILL0NEG_SHIFT).astype(np.float32)
    if form.startswith(("contrib", "qmoe")):
        out = form_contrib(g, cfg, W, form)
    elif form.startswith("nbits"):
        w, ids = build_router(g, cfg, W)
        out = form_loop(g, cfg, W, w, ids, nbits=int(form[-1]))
    elif form.startswith("qdq"):
        g.opset = 21  # blocked DequantizeLinear
        w, ids = build_router(g, cfg, W)
        out = form_loop(g, cfg, W, w, ids, nbits=form)
    elif form == "gather_alt":
        w, ids = build_router(g, cfg, W, axis=1, alt=True)
        out = form_gather_alt(g, cfg, W, w, ids)
    elif form == "dense_onehot":
        w, ids = build_router(g, cfg, W, invert=True)
        out = form_dense_onehot(g, cfg, W, w, ids, variant in SUM_VARIANTS)
    elif form == "loop_alt":
        w, ids = build_router(g, cfg, W)
        out = form_loop_alt(g, cfg, W, w, ids, variant in ONE_HOT_LOOP_VARIANTS)
    elif form in ("dense_neginf", "dense_fill0neg"):
        w, ids = build_router(g, cfg, W, fill=cfg["group_fill"])
        out = form_dense(g, cfg, W, w, ids)
    else:
        w, ids = build_router(g, cfg, W)
        out = {"gather": form_gather, "loop": form_loop, "dense": form_dense}[form](
            g, cfg, W, w, ids)
    out = build_shared(g, cfg, W, out)
    return g.model(out), cfg, W, moe_ref


def widen(hidden=256, intermediate=128):
    """Sizes every variant so that the quantized CPU kernels apply (K a
    multiple of their 32- and 128-element steps, pre-quantized blocks of
    32): call before save_case."""
    global HIDDEN, BLOCK
    HIDDEN, BLOCK = hidden, 32
    for variant in VARIANTS.values():
        variant["I"] = intermediate


def save_case(root, case):
    """Builds `case` from its fixed seed into ROOT/CASE/model.onnx; returns
    (directory, cfg, weights, reference, rng), the rng ready for tokens."""
    rng = np.random.default_rng(sum(map(ord, case)))
    model, cfg, W, ref = build(case, rng)
    d = os.path.join(root, case)
    os.makedirs(d, exist_ok=True)
    onnx.save(model, os.path.join(d, "model.onnx"))
    return d, cfg, W, ref, rng


def write_case(root, case):
    d, cfg, W, ref, rng = save_case(root, case)
    manifest = {"case": case, "model": "model.onnx", "runs": []}
    if case.startswith(("contrib_concat", "contrib_fc3")):
        manifest["ort_skip"] = "ONNX Runtime's CPU MoE supports only swiglu_fusion=1"
    if case.startswith("qdq"):
        # ORT's extended optimizations fuse DequantizeLinear + MatMul into a
        # MatMulNBits with int8 activations; the reference keeps fp32 ones.
        manifest["ort_optimization"] = "basic"
    if ref is not None:
        picks = 0
        for n in TOKEN_COUNTS:
            x = draw_tokens(cfg, W, n, rng)
            if case.startswith("dense_fill0neg"):
                picks += dropped_picks(cfg, W, x).sum()
            y = ref(cfg, W, x)
            x.astype(np.float32).tofile(os.path.join(d, f"x_{n}.bin"))
            y.astype(np.float64).tofile(os.path.join(d, f"y_{n}.bin"))
            manifest["runs"].append({"tokens": n, "input": f"x_{n}.bin",
                                     "reference": f"y_{n}.bin", "shape": [n, HIDDEN]})
        # The 0.0 fill must matter: some tokens pick an expert of a dropped group.
        assert picks or not case.startswith("dense_fill0neg"), case
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


def main(argv):
    return cli(argv, cases(), write_case, __doc__)


def cli(argv, all_cases, write, doc):
    """The generators' command line: OUT_DIR [CASE ...] or --list."""
    if argv[1:] == ["--list"]:
        print("\n".join(all_cases))
        return 0
    if len(argv) < 2 or argv[1].startswith("-"):
        print(doc, file=sys.stderr)
        return 2
    wanted = argv[2:] or list(all_cases)
    unknown = sorted(set(wanted) - set(all_cases))
    if unknown:
        name = os.path.basename(argv[0])
        print(f"{name}: unknown case(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    for case in wanted:
        write(argv[1], case)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
