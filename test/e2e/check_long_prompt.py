#!/usr/bin/python3
"""Test checkpoints on a 40-token prompt, against float64.

The cases of hf_models.py run 12 to 16 tokens, fewer than the attention
kernel's blocks of keys (one vector's lanes, 16 with AVX-512); this draws
40 ids for each case named, computes the float64 reference of the stored
weights (hf_models.forward) and compares the binary as one prompt, token
by token (--chunk 1) and 7 at a time, within the checkpoint suite's 1e-5
of max|ref|. F32 cases: no bf16 rounding anywhere.
"""

import argparse
import os
import subprocess
import sys

import numpy as np

TOLERANCE = 1e-5


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moec", required=True)
    ap.add_argument("--models", required=True, help="hf_models.py")
    ap.add_argument("--out", required=True)
    ap.add_argument("cases", nargs="+")
    args = ap.parse_args()
    sys.path.insert(0, os.path.dirname(args.models))
    import hf_models
    failed = 0
    for case in args.cases:
        d = hf_models.write_case(args.out, case)
        cfg, W = hf_models.load_case(d)
        ids = np.random.default_rng(40).integers(0, cfg["vocab_size"], 40).astype(np.int64)
        ids_path = os.path.join(d, "ids40.npy")
        np.save(ids_path, ids)
        ref = hf_models.forward(cfg, W, ids)
        binary = os.path.join(d, "model40")
        subprocess.run([args.moec, "-q", d, "-o", binary], check=True)
        errors = []
        for chunk in (None, 1, 7):
            out = os.path.join(d, f"long-{chunk}.npy")
            subprocess.run([binary, "--tokens", ids_path, "--logits", out] +
                           (["--chunk", str(chunk)] if chunk else []), check=True)
            errors.append(np.abs(np.load(out) - ref).max() / np.abs(ref).max())
        ok = max(errors) <= TOLERANCE
        failed += not ok
        print(f"{'ok' if ok else 'FAILED'}: {case} 40 tokens: prompt {errors[0]:.1e}, "
              f"chunk 1 {errors[1]:.1e}, chunk 7 {errors[2]:.1e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
