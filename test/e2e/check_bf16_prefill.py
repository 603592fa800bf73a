#!/usr/bin/python3
"""A BF16 checkpoint's prefill on vdpbf16ps, against float64.

Writes a BF16 test case (hf_models.py), draws a 40-token prompt (every
dense layer and the busiest experts see 16 rows or more), and runs the
binary compiled with the default --bf16-dot-rows=16 and with 0, as one
prompt and token by token, against the float64 reference of the stored
weights:

* --bf16-dot-rows=0, and every --chunk 1 run: exact f32 products, within
  the checkpoint suite's 1e-5 of max|ref|;
* the default's prompt: activations rounded to bf16 (unit roundoff 2^-9)
  in every product of two or three layers, within 2e-2 of max|ref|
  (measured: dense Llama 5.6e-3, DeepSeek-V3 3.8e-3), and more than 1e-5
  away from the exact run, so the bf16 path provably ran.

A routed model can pick another expert on a near tie once its activations
are rounded (Mixtral's token 12 of this prompt moves by 0.2 of max|ref|,
and the tokens after it through attention), which no tolerance of the
arithmetic covers: the cases to run are ones whose picks measured none.
"""

import argparse
import os
import subprocess
import sys

import numpy as np

EXACT, BF16 = 1e-5, 2e-2


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moec", required=True)
    ap.add_argument("--models", required=True, help="hf_models.py")
    ap.add_argument("--out", required=True)
    ap.add_argument("case")
    args = ap.parse_args()
    sys.path.insert(0, os.path.dirname(args.models))
    import hf_models
    d = hf_models.write_case(args.out, args.case)
    cfg, W = hf_models.load_case(d)
    ids = np.random.default_rng(40).integers(0, cfg["vocab_size"], 40).astype(np.int64)
    ids_path = os.path.join(d, "ids40.npy")
    np.save(ids_path, ids)
    ref = hf_models.forward(cfg, W, ids)
    scale = np.abs(ref).max()
    logits = {}
    for rows in (16, 0):
        binary = os.path.join(d, f"model-rows{rows}")
        subprocess.run([args.moec, "-q", d, f"--bf16-dot-rows={rows}", "-o", binary],
                       check=True)
        for chunk in (None, 1):
            out = os.path.join(d, f"rows{rows}-{chunk}.npy")
            subprocess.run([binary, "--tokens", ids_path, "--logits", out] +
                           (["--chunk", str(chunk)] if chunk else []), check=True)
            logits[(rows, chunk)] = np.load(out)
    failed = 0
    for (rows, chunk), y in logits.items():
        error = np.abs(y - ref).max() / scale
        bound = BF16 if (rows, chunk) == (16, None) else EXACT
        ok = error <= bound
        failed += not ok
        print(f"{'ok' if ok else 'FAILED'}: {args.case} --bf16-dot-rows={rows} "
              f"{'prompt' if chunk is None else 'chunk 1'}: {error:.1e} (<= {bound:g})")
    apart = np.abs(logits[(16, None)] - logits[(0, None)]).max() / scale
    ok = apart > EXACT
    failed += not ok
    print(f"{'ok' if ok else 'FAILED'}: {args.case} prompt with and without vdpbf16ps "
          f"differ by {apart:.1e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
