#!/usr/bin/python3
"""Activation-aware int4 (moec --awq) against plain round-to-nearest.

For each MoE test model (widened to hidden 256 and intermediate 128, as in
check_quant.py), tokens get the activation outliers of real LLMs: a few
input channels OUTLIER_GAIN times larger than the rest. The script profiles
calibration tokens with an instrumented binary (moec --profile-routing),
then compiles the fp32 model, --quantize=SCHEME and --quantize=SCHEME
--awq=PROFILE, and runs held-out tokens of the same distribution through
all three. All three share the fp32 router and its input, so they route
alike and the differences are the experts' quantization error:

* AWQ's relative L2 error against the fp32 build must be at most
  MAX_RATIO of round-to-nearest's (AWQ's point: salient channels lose less);
* with --awq-min-tokens above any expert's count, every expert is rarely
  routed and falls back: the binary must equal the RTN one bit for bit.

Prints one line per check and a summary line.
"""

import os
import subprocess
import sys

import numpy as np

import e2e_args

OUTLIER_CHANNELS = 8
OUTLIER_GAIN = 20.0
CALIBRATION, HELD_OUT = 256, 64
MAX_RATIO = 0.8


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"FAILED: {' '.join(cmd)}\n{result.stderr}")
    return result.stderr


def main():
    args, m = e2e_args.parse(__doc__, lambda ap: ap.add_argument(
        "--scheme", default="int4-g32"))
    m.widen()
    checks = failures = 0
    for case in args.cases:
        d, cfg, W, _, rng = m.save_case(args.out, case)
        onnx_path = os.path.join(d, "model.onnx")
        outliers = rng.choice(m.HIDDEN, OUTLIER_CHANNELS, replace=False)

        def tokens(n, name):
            x = rng.standard_normal((n, m.HIDDEN)).astype(np.float32)
            x[:, outliers] *= OUTLIER_GAIN
            path = os.path.join(d, name)
            np.save(path, x)
            return path

        cal, held = tokens(CALIBRATION, "cal.npy"), tokens(HELD_OUT, "x.npy")
        inst = os.path.join(d, "profiled")
        profile = os.path.join(d, "profile.json")
        run([args.moec, "-q", onnx_path, "--profile-routing", "-o", inst])
        run([inst, "--input", cal, "--profile-out", profile])

        builds = {
            "fp32": [],
            "rtn": [f"--quantize={args.scheme}"],
            "awq": [f"--quantize={args.scheme}", f"--awq={profile}"],
            "awq-all-rare": [f"--quantize={args.scheme}", f"--awq={profile}",
                             "--awq-min-tokens=1000000"],
        }
        y = {}
        for name, flags in builds.items():
            binary = os.path.join(d, name)
            log = run([args.moec, onnx_path, "-o", binary] + flags)
            for line in log.splitlines():
                if "awq:" in line:
                    print(f"{case:16s} {name:12s} {line.strip()}")
            out = os.path.join(d, f"y-{name}.npy")
            run([binary, "--input", held, "--output", out])
            y[name] = np.load(out).astype(np.float64)

        def rel(a):
            return float(np.linalg.norm(a - y["fp32"]) / np.linalg.norm(y["fp32"]))

        rtn, awq = rel(y["rtn"]), rel(y["awq"])
        checks += 2
        bad = not awq <= MAX_RATIO * rtn
        failures += bad
        print(f"{case:16s} {args.scheme:12s} {'FAILED' if bad else 'ok':6s} "
              f"rel L2 vs fp32: RTN {rtn:.4f}, AWQ {awq:.4f} "
              f"(x{awq / rtn:.2f}, at most x{MAX_RATIO})")
        same = np.array_equal(y["awq-all-rare"], y["rtn"])
        failures += not same
        print(f"{case:16s} {'all rare':12s} {'ok' if same else 'FAILED':6s} "
              f"every expert below --awq-min-tokens: "
              f"{'identical to' if same else 'differs from'} RTN")
    print(f"checks: {checks}; passed: {checks - failures}; failed: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
