#!/usr/bin/python3
"""Mixed-precision policies (moec --quant-policy) end to end.

For each MoE test model (widened to hidden 256 and intermediate 128, as in
check_quant.py), compile with policies that give experts different
schemes, run the binary on tokens with a routing margin, and compare with
check_quant.py's float64 emulation with each expert quantized by its own
scheme (fp32 experts left exact; with --act=int8 only quantized experts
take int8 inputs). Same tolerance and tie handling as check_quant.py.

Policies:
* table: {"default": "int4-g32", "experts": {"0": {"1": "int8",
  "3": "fp32", "5": "int8"}}};
* hot: the 25% most routed experts of a routing profile (recorded by an
  instrumented binary on calibration tokens, counted again in numpy) in
  int8, the others int4-g128.

Prints one line per check and a summary line.
"""

import json
import os
import subprocess
import sys

import numpy as np

import e2e_args
from check_quant import TOLERANCE, quantize, reference

CALIBRATION = 200


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"FAILED: {' '.join(cmd)}\n{result.stderr}")


def main():
    args, m = e2e_args.parse(__doc__)
    m.widen()
    checks = failures = 0
    for case in args.cases:
        d, cfg, W, _, rng = m.save_case(args.out, case)
        E = cfg["E"]
        onnx_path = os.path.join(d, "model.onnx")
        x = m.draw_tokens(cfg, W, 40, rng).astype(np.float32)
        xp, yp = os.path.join(d, "x.npy"), os.path.join(d, "y.npy")
        np.save(xp, x)

        # The hot experts of a profile, counted in numpy too.
        cal = m.draw_tokens(cfg, W, CALIBRATION, rng).astype(np.float32)
        np.save(os.path.join(d, "cal.npy"), cal)
        inst = os.path.join(d, "profiled")
        run([args.moec, "-q", onnx_path, "--profile-routing", "-o", inst])
        run([inst, "--input", os.path.join(d, "cal.npy"), "--profile-out",
             os.path.join(d, "profile.json")])
        _, ids, _ = m.route_ref(cfg, W, cal.astype(np.float64))
        routed = np.bincount(ids.ravel(), minlength=E)
        order = sorted(range(E), key=lambda e: -routed[e])
        hot = set(order[:int(np.ceil(0.25 * E))])

        policies = {
            "table": ({"default": "int4-g32",
                       "experts": {"0": {"1": "int8", "3": "fp32", "5": "int8"}}},
                      ["int4-g32"] * E),
            "hot": ({"default": "int4-g128",
                     "hot": {"profile": "profile.json", "fraction": 0.25,
                             "scheme": "int8"}},
                    ["int4-g128"] * E),
        }
        policies["table"][1][1] = policies["table"][1][5] = "int8"
        policies["table"][1][3] = "fp32"
        for e in hot:
            policies["hot"][1][e] = "int8"
        for name, (policy, schemes) in policies.items():
            path = os.path.join(d, f"{name}.json")
            with open(path, "w") as f:
                json.dump(policy, f)
            Wq = type(W).__new__(type(W))
            Wq.__dict__ = dict(W.__dict__)
            for n in ("gate", "up", "down"):
                w = getattr(W, n).copy()
                for e, scheme in enumerate(schemes):
                    if scheme != "fp32":
                        w[e] = quantize(w[e], scheme)
                setattr(Wq, n, w)
            quantized = {e for e, s in enumerate(schemes) if s != "fp32"}
            for act in ("fp32", "int8"):
                checks += 1
                binary = os.path.join(d, f"{name}-{act}")
                run([args.moec, "-q", onnx_path, f"--quant-policy={path}",
                     f"--act={act}", "-o", binary])
                run([binary, "--input", xp, "--output", yp])
                y = np.load(yp).astype(np.float64)
                ref, near_tie = reference(m, cfg, Wq, x.astype(np.float64),
                                          quantized if act == "int8" else False)
                kept = ~near_tie
                err = float(np.abs(y - ref)[kept].max() / np.abs(ref).max())
                bad = err > TOLERANCE or kept.sum() * 2 < len(x)
                failures += bad
                mix = ", ".join(f"{s} x{schemes.count(s)}"
                                for s in sorted(set(schemes)))
                print(f"{case:16s} {name:6s} {act:5s} {'FAILED' if bad else 'ok':6s} "
                      f"{mix}: max rel error {err:.2e} on {kept.sum()}/{len(x)} tokens")
    print(f"checks: {checks}; passed: {checks - failures}; failed: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
