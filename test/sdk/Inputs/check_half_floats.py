#!/usr/bin/python3
"""Runs the binary of half-floats.mlir and compares its outputs, bit for
bit, with numpy: f16 through numpy's float16, bf16 by rounding float64 to 8
significant bits with ties to even (np.rint). Prints "equal" or the
differences."""

import subprocess
import sys

import numpy as np

binary, work = sys.argv[1], sys.argv[2]
# Rounding ties, an f16 overflow (70000) and its edge (65519 stays finite),
# an f16 subnormal (1e-6) and a sum that cancels to +0.
x = np.array([1.0, -2.7, 3.14159, 70000.0, 1e-6, 0.333, -0.1, 65519.0],
             np.float32)
np.save(f"{work}/x.npy", x)
subprocess.run([binary, "--input", f"x={work}/x.npy", "--output",
                f"y={work}/y.npy", "--output", f"z={work}/z.npy"], check=True)


def bf16(v):
    m, e = np.frexp(np.asarray(v, np.float64))
    return np.ldexp(np.rint(m * 256), e - 8)


y_ref = bf16(bf16(x) * 1.5).astype(np.float32)
with np.errstate(over="ignore"):
    h = x.astype(np.float16)
z_ref = np.maximum(h + np.float16(0.1), np.float16(-0.0)).astype(np.float32)
y, z = np.load(f"{work}/y.npy"), np.load(f"{work}/z.npy")
same = all(np.array_equal(a, b) and np.array_equal(np.signbit(a), np.signbit(b))
           for a, b in ((y, y_ref), (z, z_ref)))
print("equal" if same else f"differ: y {y} vs {y_ref}, z {z} vs {z_ref}")
