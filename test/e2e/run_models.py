#!/usr/bin/python3
"""Compile every MoE test model with moec, run the binary, compare.

For each raisable case of test/models/moe_models.py: `moec model.onnx`,
then the binary on the case's inputs at 1, 7 and 40 tokens, compared with
the float64 reference: max|y - ref| <= TOLERANCE * max|ref|, under each
--wrap (say qemu-user with one CPU, then another). Prints one
table row per case (the worst token count) and a summary; exits non-zero
if any case fails. With --table FILE, also writes the rows as markdown.

The tolerance, 1e-5 of the output's scale, is fp32 arithmetic (a unit
roundoff of 6e-8) accumulated over dot products of a few hundred terms,
with exp and reassociated sums, plus the reference's float32 weights.
"""

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys

import numpy as np

TOLERANCE = 1e-5


def run_case(moec, root, case, extra, wraps):
    case_dir = os.path.join(root, case)
    manifest = json.load(open(os.path.join(case_dir, "manifest.json")))
    binary = os.path.join(case_dir, "model")
    compile_ = subprocess.run(
        [moec, "-q", os.path.join(case_dir, "model.onnx"), "-o", binary] + extra,
        capture_output=True, text=True)
    if compile_.returncode != 0:
        return case, None, "compile failed: " + compile_.stderr.strip()
    worst = 0.0
    for wrap in wraps:
        where = f" (under {' '.join(wrap)})" if wrap else ""
        for run in manifest["runs"]:
            x = np.fromfile(os.path.join(case_dir, run["input"]),
                            dtype=np.float32).reshape(run["shape"])
            ref = np.fromfile(os.path.join(case_dir, run["reference"]),
                              dtype=np.float64).reshape(run["shape"])
            x_path = os.path.join(case_dir, f"x_{run['tokens']}.npy")
            y_path = os.path.join(case_dir, f"y_{run['tokens']}.npy")
            np.save(x_path, x)
            result = subprocess.run(wrap + [binary, "--input", x_path, "--output", y_path],
                                    capture_output=True, text=True)
            if result.returncode != 0:
                return case, None, f"T={run['tokens']}{where}: " + result.stderr.strip()
            y = np.load(y_path)
            if y.shape != ref.shape:
                return case, None, f"T={run['tokens']}{where}: shape {y.shape}"
            worst = max(worst, float(np.abs(y - ref).max() / np.abs(ref).max()))
    return case, worst, None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moec", required=True)
    parser.add_argument("--models", required=True, help="moe_models.py")
    parser.add_argument("--out", required=True)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--table")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE,
                        help="max|y - ref| / max|ref| allowed (default %g)" % TOLERANCE)
    parser.add_argument("--cases", help="comma-separated subset of cases")
    parser.add_argument("--wrap", action="append",
                        help="a command that runs each binary (say valgrind and its "
                             "flags); given several times, each runs it (the worst "
                             "error counts)")
    parser.add_argument("moec_args", nargs="*", help="extra moec flags")
    args = parser.parse_args()
    cases = subprocess.run([sys.executable, args.models, "--list"],
                           capture_output=True, text=True,
                           check=True).stdout.split()
    cases = [c for c in cases if not c.startswith("nm-")]
    if args.cases:
        cases = [c for c in cases if c in args.cases.split(",")]
    subprocess.run([sys.executable, args.models, args.out] + cases,
                   check=True, stdout=subprocess.DEVNULL)
    failed = 0
    rows = []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for case, error, problem in pool.map(
                lambda c: run_case(args.moec, args.out, c, args.moec_args,
                                   [w.split() for w in args.wrap or [""]]),
                cases):
            if problem or error > args.tolerance:
                failed += 1
                print(f"FAILED: {case}: {problem or f'error {error:.2e}'}")
            else:
                print(f"ok: {case}: max|y - ref| / max|ref| = {error:.2e}")
            rows.append((case, error))
    if args.table:
        with open(args.table, "w") as f:
            f.write("| case | max abs error / max abs reference |\n|---|---|\n")
            for case, error in rows:
                f.write(f"| {case} | {'FAILED' if error is None else f'{error:.1e}'} |\n")
    print(f"models: {len(cases)}; passed: {len(cases) - failed}; "
          f"failed: {failed}; tolerance: {args.tolerance:g}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
