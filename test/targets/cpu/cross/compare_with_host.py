#!/usr/bin/python3
"""Compile one checkpoint for this machine and for another architecture
with the same flags, and compare their logits on its token ids.

For the quantized paths (--quantize with --act=int8) the float64 reference
does not apply: both binaries read the same packed weights and quantize
the same activations, so their integer dot products agree exactly and only
the fp32 scaling and the order of summation differ. max|cross - host| <=
1e-5 * max|host|, the tolerance of the float64 comparisons, holds for
these tiny models (a rounding flip of one int8 activation would show as
about 1e-2).
"""

import argparse
import os
import shlex
import subprocess
import sys

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moec", required=True)
    parser.add_argument("--case", required=True, help="a checkpoint of hf_models.py")
    parser.add_argument("--out", required=True)
    parser.add_argument("--cross", required=True,
                        help="the cross flags, e.g. '--triple=aarch64-linux-gnu'")
    parser.add_argument("--wrap", required=True, help="the command that runs a cross binary")
    parser.add_argument("--tolerance", type=float, default=1e-5)
    parser.add_argument("moec_args", nargs="*", help="flags both compiles take")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    logits = {}
    for name, flags, wrap in (("host", [], []),
                              ("cross", shlex.split(args.cross), shlex.split(args.wrap))):
        binary = os.path.join(args.out, name)
        subprocess.run([args.moec, "-q", args.case, "-o", binary] + flags
                       + args.moec_args, check=True)
        out = os.path.join(args.out, name + ".npy")
        subprocess.run(wrap + [binary, "--tokens", os.path.join(args.case, "ids.npy"),
                               "--logits", out], check=True)
        logits[name] = np.load(out)
    error = float(np.abs(logits["cross"] - logits["host"]).max()
                  / np.abs(logits["host"]).max())
    verdict = "ok" if error <= args.tolerance else "FAILED"
    print(f"{verdict}: cross vs host: max|cross - host| / max|host| = {error:.2e}")
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
