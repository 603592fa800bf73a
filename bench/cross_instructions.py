#!/usr/bin/python3
"""Instructions one decode step executes on each architecture, scalar
against vector kernels, counted under qemu-user.

Debian's static qemu has no TCG plugins, so the count comes from its logs:
`-d in_asm,exec,nochain` prints every translated block's instructions once
(in_asm) and a line for every execution of a block (exec; nochain makes
each one pass through the logger). The instructions executed are the sum,
over executions, of the block's length. A decode step is the difference
between feeding the checkpoint's ids one at a time (--chunk 1) for
`--steps` + 1 tokens and for 1 token, divided by `--steps`: the program's
start, the weights' binding and the first call cancel.

The model is the OLMoE test checkpoint of test/models/hf_models.py (3
layers, 8 experts top-2, clip_qkv) widened to hidden 256, experts of 128
and 4 heads of 64: small enough for qemu's logs, wide enough for the
kernels' vectors and register tiles to fill.

usage: bench/cross_instructions.py [--build build] [--out MD]
"""

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "models"))

import hf_models  # noqa: E402

# The checkpoint's hidden size: the test checkpoint's 64 widened so that
# the kernels' vectors and tiles fill.
WIDTH = 256

QEMU = {"aarch64": "qemu-aarch64-static -L /usr/aarch64-linux-gnu",
        "riscv64": "qemu-riscv64-static -L /usr/riscv64-linux-gnu"}

# (architecture, kernels, moec flags, qemu CPU)
CONFIGS = [
    ("aarch64", "scalar (model code without NEON)", ["--mattr=-neon"], "max"),
    ("aarch64", "NEON, sdot", ["--mattr=+dotprod"], "max"),
    ("aarch64", "SVE 256-bit", ["--mattr=+sve,+dotprod", "--vector-bits=256"],
     "max,sve256=on"),
    ("riscv64", "scalar (RV64GC)", [], "rv64"),
    ("riscv64", "RVV, VLEN 128", ["--mattr=+v"], "rv64,v=true,vlen=128,vext_spec=v1.0"),
    ("riscv64", "RVV 256-bit", ["--mattr=+v", "--vector-bits=256"],
     "rv64,v=true,vlen=256,vext_spec=v1.0"),
]


def count_instructions(command, log):
    """Guest instructions `command` (a qemu command line) executes."""
    subprocess.run(command[:1] + ["-d", "in_asm,exec,nochain", "-D", log] + command[1:],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lengths = {}
    executed = collections.Counter()
    block = None
    with open(log, errors="replace") as f:
        for line in f:
            if line.startswith("IN:"):
                block = []
                continue
            if block is not None:
                match = re.match(r"0x([0-9a-f]+):", line)
                if match:
                    block.append(int(match.group(1), 16))
                    continue
                if block:
                    lengths[block[0]] = len(block)
                block = None
            if line.startswith("Trace "):
                # Trace 0: 0x7f... [00000000/0000004000400a10/...]
                pc = int(line.split("[")[1].split("/")[1], 16)
                executed[pc] += 1
    missing = [pc for pc in executed if pc not in lengths]
    if missing:
        raise RuntimeError(f"{len(missing)} executed blocks were never listed")
    os.remove(log)
    return sum(lengths[pc] * n for pc, n in executed.items())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks",
                                                      "cross-instructions.md"))
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()
    moec = os.path.join(args.build, "bin", "moec")
    work = tempfile.mkdtemp(prefix="moec-cross-")
    hf_models.CASES["olmoe-wide"] = dict(
        hf_models.CASES["olmoe"],
        cfg=dict(clip_qkv=1.5, hidden_size=WIDTH, intermediate_size=WIDTH // 2,
                 num_attention_heads=4, num_key_value_heads=4))
    case = hf_models.write_case(work, "olmoe-wide")
    ids = np.load(os.path.join(case, "ids.npy"))
    one, more = os.path.join(work, "one.npy"), os.path.join(work, "more.npy")
    np.save(one, ids[:1])
    np.save(more, ids[:args.steps + 1])
    rows = []
    for arch, kernels, flags, cpu in CONFIGS:
        binary = os.path.join(work, re.sub(r"\W+", "-", f"{arch}-{kernels}"))
        subprocess.run([moec, "-q", case, "-o", binary, f"--triple={arch}-linux-gnu"] + flags,
                       check=True)
        base = QEMU[arch].split() + ["-cpu", cpu, binary, "--chunk", "1", "--logits",
                                     os.path.join(work, "out.npy"), "--tokens"]
        first = count_instructions(base + [one], os.path.join(work, "log"))
        total = count_instructions(base + [more], os.path.join(work, "log"))
        step = (total - first) / args.steps
        rows.append((arch, kernels, " ".join(flags), step, os.path.getsize(binary)))
        print(f"{arch} {kernels}: {step:,.0f} instructions per decode step", flush=True)
    with open(args.out, "w") as f:
        f.write("# Instructions per decode step, scalar and vector kernels\n\n"
                "bench/cross_instructions.py: the OLMoE test checkpoint "
                "(hf_models.py: 3 layers, 8 experts top-2) widened to hidden "
                f"{WIDTH}, experts of {WIDTH // 2}, 4 heads; counted "
                "under qemu-user from "
                "`-d in_asm,exec,nochain` logs; one decode step at depth 1-2.\n\n"
                "| architecture | kernels | moec flags | instructions per step | "
                "vs scalar | binary bytes |\n|---|---|---|---:|---:|---:|\n")
        scalar = {}
        for arch, kernels, flags, step, size in rows:
            scalar.setdefault(arch, step)
            flags = f"`{flags}`" if flags else "(baseline)"
            f.write(f"| {arch} | {kernels} | {flags} | {step:,.0f} | "
                    f"{step / scalar[arch]:.2f} | {size:,} |\n")
    print("wrote", args.out)


if __name__ == "__main__":
    sys.exit(main())
