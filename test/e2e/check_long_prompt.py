#!/usr/bin/python3
"""Test checkpoints on a longer prompt, against float64.

The cases of hf_models.py run 12 to 16 tokens, fewer than the attention
kernels' blocks of keys (one vector's lanes, 16 with AVX-512, on the CPU;
128 keys on the NPU); this draws --tokens ids (default 40) for each case
named, computes the float64 reference of the stored weights
(hf_models.forward) and compares the binary as one prompt, token by token
(--chunk 1) and 7 at a time, within --tolerance of max|ref| (default the
checkpoint suite's 1e-5; F32 cases: no bf16 rounding anywhere). Flags
after `--` go to moec (another target).
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
    ap.add_argument("--tokens", type=int, default=40)
    ap.add_argument("--tolerance", type=float, default=TOLERANCE,
                    help=f"max|y - ref| / max|ref| allowed (default {TOLERANCE:g})")
    ap.add_argument("--min-routing-gap", type=float, default=0.0,
                    help="draw ids until every top-k choice of the reference "
                         "wins by this much (a target computing in f16 would "
                         "flip a closer one)")
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("cases", nargs="+")
    # Extra moec flags follow `--`.
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    args = ap.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    args.moec_args = extra
    sys.path.insert(0, os.path.dirname(args.models))
    import hf_models
    failed = 0
    for case in args.cases:
        d = hf_models.write_case(args.out, case)
        cfg, W = hf_models.load_case(d)
        n = args.tokens
        # The first draw whose routing choices all clear --min-routing-gap.
        for seed in range(40, 40 + args.draws):
            ids = np.random.default_rng(seed).integers(0, cfg["vocab_size"], n).astype(np.int64)
            trace = hf_models.Trace()
            ref = hf_models.forward(cfg, W, ids, trace)
            if trace.margin >= args.min_routing_gap:
                break
        else:
            print(f"FAILED: {case}: no draw of {n} ids in {args.draws} has every "
                  f"routing gap >= {args.min_routing_gap:g}")
            failed += 1
            continue
        ids_path = os.path.join(d, f"ids{n}.npy")
        np.save(ids_path, ids)
        binary = os.path.join(d, f"model{n}")
        subprocess.run([args.moec, "-q", d, "-o", binary] + args.moec_args, check=True)
        errors = []
        for chunk in (None, 1, 7):
            out = os.path.join(d, f"long-{chunk}.npy")
            subprocess.run([binary, "--tokens", ids_path, "--logits", out] +
                           (["--chunk", str(chunk)] if chunk else []), check=True)
            errors.append(np.abs(np.load(out) - ref).max() / np.abs(ref).max())
        ok = max(errors) <= args.tolerance
        failed += not ok
        drawn = f" (ids of seed {seed})" if args.min_routing_gap else ""
        print(f"{'ok' if ok else 'FAILED'}: {case} {n} tokens{drawn}: prompt {errors[0]:.1e}, "
              f"chunk 1 {errors[1]:.1e}, chunk 7 {errors[2]:.1e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
