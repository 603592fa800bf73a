#!/usr/bin/python3
"""Compile every test checkpoint with moec, run the binary, compare.

For each case of test/models/hf_models.py (tiny random Hugging Face
checkpoints of every family with float64 reference logits written from the
HF modeling code): `moec CASE_DIR`, then the binary on the case's token ids
as one prompt (`--tokens`), token by token through the KV cache
(`--chunk 1`) and five at a time (`--chunk 5`), each compared with the
reference: max|y - ref| <= TOLERANCE * max|ref|, under each --wrap (say
qemu-user with one CPU, then another). Prints one row per case
(the three errors) and a summary; exits non-zero if any case fails.

The tolerance, 1e-5 of the logits' scale, is fp32 arithmetic (unit roundoff
6e-8) accumulated through 2-3 layers of dot products of up to a few hundred
terms, softmax and RMSNorm, against a float64 reference computed from the
same stored weights (BF16 cases included: the reference reads the rounded
values, and moec computes on them in fp32).
"""

import argparse
import concurrent.futures
import os
import subprocess
import sys

import numpy as np

TOLERANCE = 1e-5


def run_case(moec, root, case, extra, wraps):
    d = os.path.join(root, case)
    binary = os.path.join(d, "model")
    compile_ = subprocess.run([moec, "-q", d, "-o", binary] + extra,
                              capture_output=True, text=True)
    if compile_.returncode != 0:
        return case, None, "compile failed: " + compile_.stderr.strip()
    ref = np.load(os.path.join(d, "reference.npy"))
    errors = [0.0, 0.0, 0.0]
    for wrap in wraps:
        where = f" under {' '.join(wrap)}" if wrap else ""
        for i, chunk in enumerate((None, 1, 5)):
            out = os.path.join(d, f"logits_{chunk or 'all'}.npy")
            flags = ["--chunk", str(chunk)] if chunk else []
            result = subprocess.run(wrap + [binary, "--tokens", os.path.join(d, "ids.npy"),
                                            "--logits", out] + flags,
                                    capture_output=True, text=True)
            if result.returncode != 0:
                return case, None, (f"run (chunk {chunk}){where} failed: "
                                    + result.stderr.strip())
            y = np.load(out)
            if y.shape != ref.shape:
                return case, None, f"shape {y.shape}, expected {ref.shape}"
            errors[i] = max(errors[i], float(np.abs(y - ref).max() / np.abs(ref).max()))
    return case, errors, None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moec", required=True)
    parser.add_argument("--models", required=True, help="hf_models.py")
    parser.add_argument("--out", required=True)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cases", help="comma-separated subset of cases")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE,
                        help=f"max|y - ref| / max|ref| allowed (default {TOLERANCE:g})")
    parser.add_argument("--wrap", action="append",
                        help="a command that runs each binary (say qemu-user and "
                             "its CPU); given several times, each runs it (the "
                             "worst error counts)")
    parser.add_argument("moec_args", nargs="*", help="extra moec flags")
    args = parser.parse_args()
    cases = subprocess.run([sys.executable, args.models, "--list"],
                           capture_output=True, text=True,
                           check=True).stdout.split()
    if args.cases:
        cases = [c for c in cases if c in args.cases.split(",")]
    subprocess.run([sys.executable, args.models, args.out] + cases,
                   check=True, stdout=subprocess.DEVNULL)
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for case, error, problem in pool.map(
                lambda c: run_case(args.moec, args.out, c, args.moec_args,
                                   [w.split() for w in args.wrap or [""]]),
                cases):
            text = problem or ", ".join(
                f"{name} {e:.2e}" for name, e in
                zip(("prefill", "chunk 1", "chunk 5"), error))
            if problem or max(error) > args.tolerance:
                failed += 1
                print(f"FAILED: {case}: {text}")
            else:
                print(f"ok: {case}: max|y - ref| / max|ref|: {text}")
    print(f"checkpoints: {len(cases)}; passed: {len(cases) - failed}; "
          f"failed: {failed}; tolerance: {args.tolerance:g}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
