#!/usr/bin/python3
"""The vdpbf16ps kernels of bf16 weights, exactly, on values bf16 holds.

Writes a module with a checkpoint-style dense layer (x [T, 72] times a bf16
weight [37, 72]) and a grouped matmul on bf16 experts [2, 37, 72]; K = 72
is two steps of 32 and a masked tail of 8, N = 37 nine blocks of 4 weight
rows and a single row. The CPU target multiplies calls of 16 or more rows
(per expert for the grouped matmul) with vdpbf16ps on activations rounded
to bf16, and shorter ones with exact f32 products. The activations here
are bf16 values, so rounding them changes nothing and both paths must
agree with float64 numpy within 1e-6 of max|ref| (products of two bf16
values are exact in f32; only the order of the f32 sums differs). Runs
T = 21 (the dense layer and expert 0, 16 rows, on vdpbf16ps; expert 1, 5
rows, on f32), T = 5 (all f32) and T = 157 (the kernel's chunks of 64
activation rows, 6 rows a pass and the 4/2/1-row remainders: 157 = 2 x 64 +
29, expert 0 takes 150 and expert 1, on f32, 7). Then T = 21 on float32
activations: the reference rounds the rows that take vdpbf16ps to bf16
(nearest even) and must match within the same 1e-6, while the unrounded
one is at least 100x further away, so the instruction provably ran.
"""

import argparse
import os
import subprocess
import sys

import numpy as np

K, N, E = 72, 37, 2
TOLERANCE = 1e-6


def bf16(rng, shape, scale):
    """Random values that bf16 holds exactly, as float32."""
    x = (rng.standard_normal(shape) * scale).astype(np.float32)
    return (x.view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)


def round_bf16(x):
    """float32 to the nearest bf16 (ties to even), as vcvtneps2bf16."""
    bits = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return bits.astype(np.uint32).view(np.float32)


def hex_bf16(a):
    return "0x" + (a.view(np.uint32) >> 16).astype("<u2").tobytes().hex().upper()


MODULE = """
#x = affine_map<(t, o, k) -> (t, k)>
#w = affine_map<(t, o, k) -> (o, k)>
#y = affine_map<(t, o, k) -> (t, o)>
func.func @main(%x: tensor<?x{K}xf32>, %offsets: tensor<3xi32>)
    -> (tensor<?x{N}xf32>, tensor<?x{N}xf32>) {{
  %c0 = arith.constant 0 : index
  %t = tensor.dim %x, %c0 : tensor<?x{K}xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty(%t) : tensor<?x{N}xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<?x{N}xf32>) -> tensor<?x{N}xf32>
  %w = arith.constant dense<"{W}"> : tensor<{N}x{K}xbf16>
  %dense = linalg.generic {{indexing_maps = [#x, #w, #y],
                           iterator_types = ["parallel", "parallel", "reduction"]}}
      ins(%x, %w : tensor<?x{K}xf32>, tensor<{N}x{K}xbf16>) outs(%init : tensor<?x{N}xf32>) {{
  ^bb0(%a: f32, %b: bf16, %acc: f32):
    %wide = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %wide : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }} -> tensor<?x{N}xf32>
  %experts = arith.constant dense<"{EXPERTS}"> : tensor<{E}x{N}x{K}xbf16>
  %grouped = moe.grouped_matmul %x, %experts, %offsets
      : tensor<?x{K}xf32>, tensor<{E}x{N}x{K}xbf16>, tensor<3xi32> -> tensor<?x{N}xf32>
  return %dense, %grouped : tensor<?x{N}xf32>, tensor<?x{N}xf32>
}}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moec", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    w = bf16(rng, (N, K), 0.5)
    experts = bf16(rng, (E, N, K), 0.5)
    path = os.path.join(args.out, "bf16-dots.mlir")
    with open(path, "w") as f:
        f.write(MODULE.format(K=K, N=N, E=E, W=hex_bf16(w), EXPERTS=hex_bf16(experts)))
    binary = os.path.join(args.out, "bf16-dots")
    subprocess.run([args.moec, "-q", path, "-o", binary], check=True)
    failed = 0
    for tokens, split, exact in ((21, 16, True), (5, 3, True), (157, 150, True),
                                 (21, 16, False)):
        x = bf16(rng, (tokens, K), 1.0) if exact else (
            rng.standard_normal((tokens, K)).astype(np.float32))
        offsets = np.array([0, split, tokens], np.int32)
        np.save(os.path.join(args.out, "x.npy"), x)
        np.save(os.path.join(args.out, "offsets.npy"), offsets)
        outs = [os.path.join(args.out, f"y{i}.npy") for i in range(2)]
        subprocess.run([binary, "--input", "input0=" + os.path.join(args.out, "x.npy"),
                        "--input", "input1=" + os.path.join(args.out, "offsets.npy"),
                        "--output", "output0=" + outs[0],
                        "--output", "output1=" + outs[1]], check=True)
        def references(rounded):
            """(dense, grouped) in float64; with `rounded`, the rows of
            calls of 16 or more rows rounded to bf16 first."""
            x64 = x.astype(np.float64)
            xr = round_bf16(x).astype(np.float64) if rounded else x64
            dense = (xr if tokens >= 16 else x64) @ w.astype(np.float64).T
            grouped = np.concatenate(
                [(xr if offsets[e + 1] - offsets[e] >= 16 else x64)[offsets[e]:offsets[e + 1]]
                 @ experts[e].astype(np.float64).T for e in range(E)])
            return dense, grouped

        label = f"T={tokens}" + ("" if exact else " float32 rows")
        for i, name in enumerate(("dense", "grouped")):
            y = np.load(outs[i])
            ref, unrounded = references(True)[i], references(False)[i]
            error = np.abs(y - ref).max() / np.abs(ref).max()
            ok = y.shape == ref.shape and error <= TOLERANCE
            note = ""
            if not exact:
                apart = np.abs(y - unrounded).max() / np.abs(unrounded).max()
                ok = ok and apart > 100 * TOLERANCE
                note = f"; unrounded reference {apart:.1e}"
            failed += not ok
            print(f"{'ok' if ok else 'FAILED'}: {label} {name}: "
                  f"max|y - ref| / max|ref| {error:.1e}{note}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
