#!/usr/bin/python3
"""Compile one checkpoint for the cpu and the (emulated) cuda target with
the same flags and compare their logits on its token ids.

Both binaries compute in fp32 on the same (e.g. quantized) weights, in a
different order of summation: max|cuda - cpu| <= 1e-5 * max|cpu|, the
tolerance of the float64 comparisons, holds for these tiny models.
"""

import argparse
import os
import subprocess
import sys

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moec", required=True)
    parser.add_argument("--case", required=True, help="a checkpoint of hf_models.py")
    parser.add_argument("--out", required=True)
    parser.add_argument("--tolerance", type=float, default=1e-5)
    parser.add_argument("moec_args", nargs="*")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    logits = {}
    for target, flags in (("cpu", ["--bf16-dot-rows=0"]),
                          ("cuda", ["--cuda-emulate-kernels"])):
        binary = os.path.join(args.out, target)
        subprocess.run([args.moec, "-q", args.case, "-o", binary, "--target=" + target]
                       + flags + args.moec_args, check=True)
        out = os.path.join(args.out, target + ".npy")
        subprocess.run([binary, "--tokens", os.path.join(args.case, "ids.npy"),
                        "--logits", out], check=True)
        logits[target] = np.load(out)
    error = float(np.abs(logits["cuda"] - logits["cpu"]).max()
                  / np.abs(logits["cpu"]).max())
    verdict = "ok" if error <= args.tolerance else "FAILED"
    print(f"{verdict}: cuda vs cpu: max|cuda - cpu| / max|cpu| = {error:.2e}")
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
