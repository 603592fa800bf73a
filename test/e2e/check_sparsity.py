#!/usr/bin/python3
"""Expert sparsity end to end, against float64 numpy references.

For each MoE test model (test/models/moe_models.py): build an instrumented
binary (moec --profile-routing), profile two calibration batches, merge
them (moec profile merge) and check the profile against numpy's count of
the same routing. Then compile with each sparsity flag and compare the
binary's output on held-out tokens with numpy's model of the edited
layer: pruned (router and experts sliced), skipped (choices below beta *
top weight dropped, renormalised where the router normalises), top-k
reduced, merged (frequency-weighted weights, ids remapped, duplicates
summed), static capacity (slots filled choice-major in token order).

Tokens are drawn so that every routing decision of the edited model has a
margin (moe_models.MARGIN), so fp32 rounding cannot flip a choice, and the
tolerance is the e2e suite's: max|y - ref| <= 1e-5 * max|ref|.
"""

import json
import math
import os
import subprocess
import sys

import numpy as np

import e2e_args

TOLERANCE = 1e-5
CALIBRATION = (150, 150)
HELD_OUT = 40


def run(args, **kw):
    result = subprocess.run(args, capture_output=True, text=True, **kw)
    if result.returncode != 0:
        raise RuntimeError(" ".join(args) + ": " + result.stderr.strip())
    return result


def with_stacks(W, **stacks):
    """A copy of the layer's weights with some [E, ...] stacks replaced."""
    clone = type(W).__new__(type(W))
    clone.__dict__ = dict(W.__dict__, **stacks)
    return clone


def pruned(cfg, W, keep):
    """The layer built with only the experts `keep`: router and stacks sliced."""
    return dict(cfg, E=len(keep)), with_stacks(
        W, **{name: getattr(W, name)[keep] for name in ("router", "gate", "up", "down")})


def expert_rows(m, cfg, W, e, x):
    """Expert e on rows x: (hidden before down, output)."""
    g = x @ W.gate[e].T.astype(np.float64)
    u = x @ W.up[e].T.astype(np.float64)
    return m.silu(g) * u, m.expert_ref(cfg, W, e, x)


def profile_ref(m, cfg, W, x):
    E, k = cfg["E"], cfg["k"]
    w, ids, _ = m.route_ref(cfg, W, x)
    routed = np.zeros(E, np.int64)
    wsum, sal = np.zeros(E), np.zeros(E)
    co = np.zeros((E, E), np.int64)
    out_sum = np.zeros((E, x.shape[1]))
    hid_sum = np.zeros((E, cfg["I"]))
    in_sum = np.zeros((E, x.shape[1]))
    hist = np.zeros((k - 1, 20), np.int64)
    for t in range(len(x)):
        for j in range(k):
            e = ids[t, j]
            hidden, out = expert_rows(m, cfg, W, e, x[t:t + 1])
            routed[e] += 1
            wsum[e] += w[t, j]
            sal[e] += w[t, j] * np.linalg.norm(out[0])
            co[e, e] += 1
            out_sum[e] += out[0]
            hid_sum[e] += np.abs(hidden[0])
            in_sum[e] += np.abs(x[t])
            for l in range(j + 1, k):
                co[e, ids[t, l]] += 1
                co[ids[t, l], e] += 1
        s = np.sort(w[t])[::-1]
        for r in range(1, k):
            hist[r - 1, min(int(s[r] / s[0] * 20), 19)] += 1
    n = np.maximum(routed, 1)[:, None]
    return dict(routed=routed, wsum=wsum, sal=sal, co=co, hist=hist,
                out_mean=out_sum / n, in_mean=in_sum / n, hid_mean=hid_sum / n)


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + a:8 + n + b], "<f4").reshape(info["shape"])
    return out


def check_profile(path, ref):
    p = json.load(open(path))["layers"][0]
    side = read_safetensors(path[:-5] + ".safetensors")
    rel = lambda a, b: float(np.abs(np.asarray(a) - b).max() / max(np.abs(b).max(), 1e-30))
    problems = []
    if p["routed_tokens"] != ref["routed"].tolist():
        problems.append("routed_tokens")
    if np.asarray(p["coselection"]).tolist() != ref["co"].tolist():
        problems.append("coselection")
    for key, want in (("weight_sum", ref["wsum"]), ("saliency_sum", ref["sal"])):
        if rel(p[key], want) > 1e-5:
            problems.append(f"{key} off by {rel(p[key], want):.1e}")
    got_hist = np.array([r["histogram"] for r in p["weight_ratio"]])
    if np.abs(got_hist - ref["hist"]).sum() > 2:
        problems.append("weight_ratio histogram")
    for key, want in (("expert_output_mean", ref["out_mean"]),
                      ("expert_input_mean_abs", ref["in_mean"]),
                      ("expert_hidden_mean_abs", ref["hid_mean"])):
        got = side["layers.0." + key]
        if rel(got, want) > 1e-5:
            problems.append(f"{key} off by {rel(got, want):.1e}")
    return problems


def moe_out(m, cfg, W, x, edit=None):
    """The layer's output with routing choices edited by edit(w, ids)."""
    w, ids, _ = m.route_ref(cfg, W, x)
    if edit:
        w, ids = edit(w, ids)
    y = np.zeros_like(x)
    for t in range(len(x)):
        for j in range(ids.shape[1]):
            if ids[t, j] >= 0:
                y[t] += w[t, j] * m.expert_ref(cfg, W, ids[t, j], x[t:t + 1])[0]
    return y + m.shared_ref(cfg, W, x)


def cluster(out_mean, routed, keep):
    """moe-merge-experts' greedy clustering on cosine of mean outputs."""
    clusters = [([e], out_mean[e] * routed[e], routed[e]) for e in range(len(routed))]

    def cos(a, b):
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        return 1.0 if na == 0 or nb == 0 else float(a @ b / (na * nb))
    while len(clusters) > keep:
        best, pair = -2, None
        for i in range(len(clusters)):
            for j in range(i + 1, len(clusters)):
                s = cos(clusters[i][1], clusters[j][1])
                if s > best:
                    best, pair = s, (i, j)
        i, j = pair
        a, b = clusters[i], clusters[j]
        clusters[i] = (sorted(a[0] + b[0]), a[1] + b[1], a[2] + b[2])
        del clusters[j]
    return [c[0] for c in clusters]


def main():
    args, m = e2e_args.parse(__doc__)
    os.makedirs(args.out, exist_ok=True)
    failures = checks = 0

    def report(case, what, err=None, problem=None):
        """One row; a check fails on a problem or an error above TOLERANCE
        (err None without a problem: an exact comparison that passed)."""
        nonlocal failures, checks
        checks += 1
        bad = problem is not None or (err is not None and err > TOLERANCE)
        failures += bad
        detail = problem or (f"max rel error {err:.2e}" if err is not None
                             else "matches numpy")
        print(f"{case:16s} {what:28s} {'FAILED' if bad else 'ok':6s} {detail}")

    for case in args.cases:
        d, cfg, W, _, rng = m.save_case(args.out, case)
        onnx_path = os.path.join(d, "model.onnx")
        E, k = cfg["E"], cfg["k"]

        # Profile two calibration batches and merge them.
        inst = os.path.join(d, "profiled")
        run([args.moec, "-q", onnx_path, "--profile-routing", "-o", inst])
        batches, paths = [], []
        for i, n in enumerate(CALIBRATION):
            x = m.draw_tokens(cfg, W, n, rng)
            batches.append(x)
            np.save(os.path.join(d, f"cal{i}.npy"), x.astype(np.float32))
            paths.append(os.path.join(d, f"cal{i}.json"))
            run([inst, "--input", os.path.join(d, f"cal{i}.npy"), "--profile-out", paths[-1]])
        profile = os.path.join(d, "profile.json")
        run([args.moec, "profile", "merge"] + paths + ["-o", profile])
        ref = profile_ref(m, cfg, W, np.concatenate(batches))
        problems = check_profile(profile, ref)
        report(case, "profile (2 runs merged)", problem="; ".join(problems) or None)

        def compare(what, flags, ref_cfg, ref_W, edit=None, margin_ok=None):
            """Compiles with `flags`, runs held-out tokens, compares with
            numpy's layer (ref_cfg, ref_W) with choices edited by `edit`."""
            x = m.draw_tokens(ref_cfg, ref_W, HELD_OUT, rng)
            if margin_ok is not None:
                while True:
                    keep = margin_ok(x)
                    if keep.all():
                        break
                    x = np.concatenate([x[keep], m.draw_tokens(ref_cfg, ref_W, HELD_OUT, rng)])[:HELD_OUT]
            binary = os.path.join(d, what.split()[0])
            try:
                run([args.moec, "-q", onnx_path, "-o", binary] + flags)
                xp, yp = os.path.join(d, "x.npy"), os.path.join(d, "y.npy")
                np.save(xp, x.astype(np.float32))
                run([binary, "--input", xp, "--output", yp])
            except RuntimeError as e:
                report(case, what, problem=str(e)[-200:])
                return
            y = np.load(yp)
            want = moe_out(m, ref_cfg, ref_W, x, edit)
            report(case, what, float(np.abs(y - want).max() / np.abs(want).max()),
                   vacuous(x, want))

        def vacuous(x, want):
            """A check of an edit that changes nothing would prove nothing."""
            plain = moe_out(m, cfg, W, x)
            if np.abs(want - plain).max() <= 100 * TOLERANCE * np.abs(plain).max():
                return "the edit does not change these tokens' output"
            return None

        # Prune by frequency and by saliency to E - E/4 experts.
        keep_n = E - E // 4
        for metric, score in (("frequency", ref["routed"].astype(float)),
                              ("saliency", ref["sal"] / np.maximum(ref["routed"], 1))):
            keep = sorted(np.argsort(-score, kind="stable")[:keep_n].tolist())
            pcfg, pW = pruned(cfg, W, keep)
            compare(f"prune-{metric} keep={keep_n}",
                    [f"--prune-experts={profile}:keep={keep_n},metric={metric}"], pcfg, pW)
        # Skip choices below 0.3 of the top weight.
        beta = 0.3

        def skip(w, ids):
            w, ids = w.copy(), ids.copy()
            drop = w < beta * w.max(axis=1, keepdims=True)
            total, kept = w.sum(1, keepdims=True), np.where(drop, 0, w).sum(1, keepdims=True)
            w[drop], ids[drop] = 0, -1
            return (w * total / kept if cfg["normalize"] else w), ids

        def ratio_margin(x):
            w = m.route_ref(cfg, W, x)[0]
            return (np.abs(w / w.max(1, keepdims=True) - beta) > 1e-3).all(1)
        compare(f"skip beta={beta}", [f"--skip-experts=beta={beta}"], cfg, W, skip,
                margin_ok=ratio_margin)
        # Top-k reduction to k/2.
        rcfg = dict(cfg, k=max(k // 2, 1))
        compare(f"reduce-topk {rcfg['k']}", [f"--reduce-topk={rcfg['k']}"], rcfg, W)
        # Merge to E - E/4 experts.
        groups = cluster(ref["out_mean"], ref["routed"].astype(float), keep_n)
        mapping = np.zeros(E, np.int64)
        merged = {name: [] for name in ("gate", "up", "down")}
        for g, members in enumerate(groups):
            f = ref["routed"][members].astype(float)
            f = f / f.sum() if f.sum() > 0 else np.full(len(members), 1 / len(members))
            mapping[members] = g
            for name, stacks in merged.items():
                stack = getattr(W, name).astype(np.float64)
                stacks.append(sum(fi * stack[e] for fi, e in zip(f, members)))
        # The router stays W's: only the experts are merged.
        mW = with_stacks(W, **{name: np.array(v) for name, v in merged.items()})

        def remap(w, ids):
            w, ids = w.copy(), mapping[ids]
            for t in range(len(ids)):
                for j in range(1, ids.shape[1]):
                    for i in range(j):
                        if ids[t, j] >= 0 and ids[t, i] == ids[t, j]:
                            w[t, i] += w[t, j]
                            w[t, j], ids[t, j] = 0, -1
            return w, ids
        compare(f"merge keep={keep_n}", [f"--merge-experts={profile}:keep={keep_n}"],
                cfg, mW, remap)
        # Static capacity at factor 1.0 for 40 tokens.
        capacity = min(math.ceil(1.0 * HELD_OUT * k / E), HELD_OUT)

        def cap(w, ids):
            w, ids = w.copy(), ids.copy()
            used = np.zeros(E, np.int64)
            for j in range(ids.shape[1]):
                for t in range(len(ids)):
                    e = ids[t, j]
                    if used[e] < capacity:
                        used[e] += 1
                    else:
                        w[t, j], ids[t, j] = 0, -1
            return w, ids
        compare("static-capacity 1.0", ["--static-capacity=1.0",
                                         f"--input-shape=x={HELD_OUT},{m.HIDDEN}"],
                cfg, W, cap)

    print(f"checks: {checks}; passed: {checks - failures}; failed: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
