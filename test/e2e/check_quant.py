#!/usr/bin/python3
"""Quantized experts end to end, against float64 numpy emulations.

For each MoE test model (test/models/moe_models.py, widened to hidden 256
and intermediate 128 so that every kernel applies), compile with each
--quantize scheme (pre-quantized models: as imported) and --act precision,
run the binary on tokens with a routing margin, once as a batch and once
the first token alone (decode, the single-row kernels), and compare with
numpy's model of the same layer:

* weights: the scheme's round-to-nearest codes and scales, computed in
  float32 exactly as moe-quantize-weights does (scales rounded to f16 for
  int4 before the codes), dequantized in float64;
* --act=int8: every expert input row x (the token for gate/up, the
  activation output for down) replaced by sx * rint(x / sx), sx =
  max|x| / 127, in float32.

Tolerance: max|y - ref| <= 1e-5 * max|ref| (the e2e suite's fp32
tolerance; only summation order differs, integer dot products are exact).
With --act=int8, the down projection's input is the binary's fp32
activation output, which can differ from numpy's float64 one in the last
bits; where such an element sits within 2e-4 of a rounding tie of its
code, the two may round apart. Tokens with such an element are left out of
the comparison (and counted); at least half of them must remain. The
check also requires the emulation to be 100x closer than the same
weights with float activations, so ignored activation quantization
cannot pass.
"""

import os
import subprocess
import sys

import numpy as np

import e2e_args

SCHEMES = ("int8", "int4-g32", "int4-g64", "int4-g128", "int4-g32,asym",
           "int8,asym")
TOKENS = 40
TOLERANCE = 1e-5


def quantize(w, scheme):
    """moe-quantize-weights on [..., K] rows: the dequantized float64 weights."""
    name, _, asym = scheme.partition(",")
    bits = 8 if name == "int8" else 4
    K = w.shape[-1]
    G = K if bits == 8 else int(name.split("-g")[1])
    rows = w.reshape(-1, K).astype(np.float32)
    out = np.empty(rows.shape, np.float64)
    qmax = (1 << bits) - 1 if asym else (1 << (bits - 1)) - 1
    qmin = 0 if asym else (-127 if bits == 8 else -8)
    for g0 in range(0, K, G):
        v = rows[:, g0:g0 + G]
        lo = np.minimum(v.min(1), 0).astype(np.float32)
        hi = np.maximum(v.max(1), 0).astype(np.float32)
        s = ((hi - lo) if asym else np.maximum(hi, -lo)) / np.float32(qmax)
        if bits == 4:
            s = s.astype(np.float16).astype(np.float32)
        safe = np.where(s == 0, np.float32(1), s)
        ratio = (v / safe[:, None]).astype(np.float64)
        rnd = lambda r: np.sign(r) * np.floor(np.abs(r) + 0.5)
        z = np.clip(rnd(-lo.astype(np.float64) / safe), 0, qmax) if asym else 0 * s
        z = np.where(s == 0, 0, z)
        q = np.clip(rnd(ratio) + z[:, None], qmin, qmax)
        q = np.where(s[:, None] == 0, z[:, None], q)
        out[:, g0:g0 + G] = (q - z[:, None]) * s[:, None].astype(np.float64)
    return out.reshape(w.shape)


TIE = 2e-4


def act_int8(x, ties=None):
    """Per-row dynamic int8 quantization, in float32 like the binary; sets
    ties[0] when an element lies within TIE of a rounding tie."""
    x = x.astype(np.float32)
    s = (np.abs(x).max(-1, keepdims=True) / np.float32(127)).astype(np.float32)
    s = np.where(s > 0, s, np.float32(1))
    r = (x / s).astype(np.float32)
    if ties is not None:
        ties[0] |= bool((np.abs(np.abs(r - np.floor(r)) - 0.5) < TIE).any())
    q = np.clip(np.rint(r), -127, 127)
    return q.astype(np.float64) * s


def reference(m, cfg, W, x, act8):
    """The layer with quantized weights W (float64) and, with act8 (True,
    or the experts it applies to), int8-quantized expert inputs; and per
    token whether a down-projection input sat near a rounding tie."""
    w, ids, _ = m.route_ref(cfg, W, x)
    y = np.zeros(x.shape)
    near_tie = np.zeros(len(x), bool)
    for t in range(len(x)):
        ties = [False]
        for j in range(cfg["k"]):
            e = ids[t, j]
            q8 = act8 if isinstance(act8, bool) else e in act8
            aq = (lambda v: act_int8(v, ties)) if q8 else (lambda v: v)
            xt = act_int8(x[t:t + 1]) if q8 else x[t:t + 1]
            g, u = xt @ W.gate[e].T, xt @ W.up[e].T
            if cfg.get("act") == "gpt_oss":
                g, u = g + W.gate_b[e], u + W.up_b[e]
                g = np.minimum(g, m.LIMIT)
                u = np.clip(u, -m.LIMIT, m.LIMIT)
                a = (u + 1.0) * g * m.sigmoid(m.ALPHA * g)
                out = aq(a) @ W.down[e].T + W.down_b[e]
            else:
                out = aq(m.silu(g) * u) @ W.down[e].T
            y[t] += w[t, j] * out[0]
        near_tie[t] = ties[0]
    return y + m.shared_ref(cfg, W, x), near_tie


def main():
    def options(ap):
        ap.add_argument("--schemes", default=",".join(s.replace(",", "+") for s in SCHEMES),
                        help="comma-separated; '+asym' for ',asym'")
        ap.add_argument("--flag", action="append", default=[],
                        help="extra moec flag (e.g. --cpu=x86-64-v3)")
        ap.add_argument("--fp32-tolerance", type=float, default=TOLERANCE,
                        help="the tolerance of --act=fp32 runs, for targets "
                             "that round the rows (the npu target's f16 cube)")
    args, m = e2e_args.parse(__doc__, options)
    m.widen()
    schemes = [s.replace("+", ",") for s in args.schemes.split(",")]
    failures = checks = 0
    for case in args.cases:
        d, cfg, W, _, rng = m.save_case(args.out, case)
        onnx_path = os.path.join(d, "model.onnx")
        x = m.draw_tokens(cfg, W, TOKENS, rng).astype(np.float32)
        xp, yp = os.path.join(d, "x.npy"), os.path.join(d, "y.npy")
        # Decode: the first token alone (the single-row kernels).
        x1p, y1p = os.path.join(d, "x1.npy"), os.path.join(d, "y1.npy")
        np.save(xp, x)
        np.save(x1p, x[:1])
        x64 = x.astype(np.float64)
        # A pre-quantized model (qmoe, nbits, qdq forms) compiles as it is;
        # W already holds its dequantized weights.
        imported = case.startswith(("qmoe", "nbits", "qdq"))
        for scheme in ["imported"] if imported else schemes:
            Wq = type(W).__new__(type(W))
            Wq.__dict__ = dict(W.__dict__, **{} if imported else {
                n: quantize(getattr(W, n), scheme) for n in ("gate", "up", "down")})
            for act in ("fp32", "int8"):
                checks += 1
                binary = os.path.join(d, f"{scheme.replace(',', '-')}-{act}")
                cmd = [args.moec, "-q", onnx_path, f"--act={act}", "-o",
                       binary] + args.flag
                if not imported:
                    cmd.append(f"--quantize={scheme}")
                result = subprocess.run(cmd, capture_output=True, text=True)
                for inp, outp in ((xp, yp), (x1p, y1p)):
                    if result.returncode == 0:
                        result = subprocess.run([binary, "--input", inp, "--output", outp],
                                                capture_output=True, text=True)
                if result.returncode != 0:
                    failures += 1
                    print(f"{case:16s} {scheme:14s} {act:5s} FAILED {result.stderr.strip()}")
                    continue
                y = np.load(yp).astype(np.float64)
                ref, near_tie = reference(m, cfg, Wq, x64, act == "int8")
                kept = ~near_tie
                # The decode run must agree with the same token in the batch.
                y = np.concatenate([np.load(y1p).astype(np.float64), y])
                ref = np.concatenate([ref[:1], ref])
                kept = np.concatenate([kept[:1], kept])
                scale = np.abs(ref).max()
                err = float(np.abs(y - ref)[kept].max() / scale)
                tolerance = TOLERANCE if act == "int8" else args.fp32_tolerance
                bad = err > tolerance or kept.sum() * 2 < len(y)
                detail = f"max rel error {err:.2e}"
                if act == "int8":
                    other, _ = reference(m, cfg, Wq, x64, False)
                    other = np.concatenate([other[:1], other])
                    err_float = float(np.abs(y - other).max() / scale)
                    bad |= err * 100 > err_float
                    detail += (f" on {kept.sum()}/{len(y)} tokens without a tie;"
                               f" vs float activations {err_float:.2e}")
                failures += bad
                print(f"{case:16s} {scheme:14s} {act:5s} {'FAILED' if bad else 'ok':6s} {detail}")
    print(f"checks: {checks}; passed: {checks - failures}; failed: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
