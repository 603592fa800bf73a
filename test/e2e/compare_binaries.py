#!/usr/bin/python3
"""Compile one checkpoint twice with moec, with two sets of flags (say for
this CPU and for another target), and compare their logits on its ids.

Where the float64 reference does not apply (quantized weights, int8
activations), two binaries that read the same packed weights and quantize
the same activations agree but for the order of fp32 summation: max|b - a|
<= 1e-5 * max|a|, the tolerance of the float64 comparisons, holds for these
tiny models (one int8 activation rounded differently would show as about
1e-2).

usage: compare_binaries.py --moec MOEC --case DIR --out DIR
           --reference NAME=FLAGS --candidate NAME=FLAGS [--wrap CMD]
           [-- FLAGS BOTH TAKE]
prints "ok: CANDIDATE vs REFERENCE: ..." or "FAILED: ..." (exit 1).
"""

import argparse
import os
import shlex
import subprocess
import sys

import numpy as np


def named_flags(text):
    name, _, flags = text.partition("=")
    return name, shlex.split(flags)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moec", required=True)
    parser.add_argument("--case", required=True, help="a checkpoint of hf_models.py")
    parser.add_argument("--out", required=True)
    parser.add_argument("--reference", required=True, type=named_flags,
                        help="NAME=FLAGS of the binary compared against")
    parser.add_argument("--candidate", required=True, type=named_flags,
                        help="NAME=FLAGS of the binary under test")
    parser.add_argument("--wrap", default="",
                        help="the command that runs the candidate (say qemu-user)")
    parser.add_argument("--tolerance", type=float, default=1e-5)
    parser.add_argument("moec_args", nargs="*", help="flags both compiles take")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    logits = []
    for (name, flags), wrap in ((args.reference, []),
                                (args.candidate, shlex.split(args.wrap))):
        binary = os.path.join(args.out, name)
        subprocess.run([args.moec, "-q", args.case, "-o", binary] + flags
                       + args.moec_args, check=True)
        out = os.path.join(args.out, name + ".npy")
        subprocess.run(wrap + [binary, "--tokens", os.path.join(args.case, "ids.npy"),
                               "--logits", out], check=True)
        logits.append(np.load(out))
    reference, candidate = args.reference[0], args.candidate[0]
    error = float(np.abs(logits[1] - logits[0]).max() / np.abs(logits[0]).max())
    verdict = "ok" if error <= args.tolerance else "FAILED"
    print(f"{verdict}: {candidate} vs {reference}: "
          f"max|{candidate} - {reference}| / max|{reference}| = {error:.2e}")
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
