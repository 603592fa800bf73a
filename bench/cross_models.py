#!/usr/bin/python3
"""Every test model on every cross configuration, under qemu-user: the
error against the float64 reference and the binary's size, as a table.

The configurations are those of test/targets/cpu/cross/ (triple, moec
flags, the qemu CPUs each binary runs on); the cases are the 27 tiny
checkpoints of test/models/hf_models.py (prompt, --chunk 1, --chunk 5) and
the 54 raisable MoE models of test/models/moe_models.py (1, 7, 40 tokens),
through the same runners as the tests (test/e2e/run_checkpoints.py,
run_models.py), tolerance 1e-5 of max|ref|.

usage: bench/cross_models.py [--build build] [--out MD] [--jobs 2]
"""

import argparse
import concurrent.futures
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
sys.path.insert(0, HERE)

import run_checkpoints  # noqa: E402
import run_models  # noqa: E402

from cross_instructions import QEMU  # noqa: E402

RVV = "rv64,v=true,vext_spec=v1.0,vlen="

# (triple, moec flags, qemu CPUs)
CONFIGS = [
    ("aarch64", ["--mattr=+dotprod"], ["max"]),
    ("aarch64", ["--mattr=+sve,+dotprod", "--vector-bits=256"],
     ["max,sve256=on", "max,sve512=on"]),
    ("riscv64", ["--mattr=+v"], [RVV + "128", RVV + "256"]),
    ("riscv64", [], ["rv64"]),
]


def cases(models):
    names = subprocess.run([sys.executable, models, "--list"], capture_output=True,
                           text=True, check=True).stdout.split()
    return [c for c in names if not c.startswith("nm-")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks",
                                                      "cross-models.md"))
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    moec = os.path.join(args.build, "bin", "moec")
    work = tempfile.mkdtemp(prefix="moec-cross-models-")
    hf = os.path.join(ROOT, "test", "models", "hf_models.py")
    moe = os.path.join(ROOT, "test", "models", "moe_models.py")
    suites = [("checkpoints", hf, cases(hf), run_checkpoints.run_case),
              ("MoE models", moe, cases(moe), run_models.run_case)]
    rows = []
    for arch, flags, cpus in CONFIGS:
        extra = [f"--triple={arch}-linux-gnu"] + flags
        wraps = [QEMU[arch].split() + ["-cpu", cpu] for cpu in cpus]
        for suite, models, names, run_case in suites:
            out = os.path.join(work, f"{arch}{len(rows)}")
            subprocess.run([sys.executable, models, out] + names, check=True,
                           stdout=subprocess.DEVNULL)
            with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
                results = list(pool.map(
                    lambda c: run_case(moec, out, c, extra, wraps), names))
            failed = [c for c, e, problem in results if problem]
            errors = {c: max(e) if isinstance(e, list) else e
                      for c, e, problem in results if not problem}
            worst = max(errors, key=errors.get)
            size = os.path.getsize(os.path.join(out, names[0], "model"))
            passed = sum(1 for e in errors.values() if e <= 1e-5)
            rows.append((arch, " ".join(flags) or "(baseline)", ", ".join(cpus), suite,
                         f"{passed}/{len(names)}", errors[worst], worst, names[0], size))
            print(f"{arch} {' '.join(flags)}: {suite}: {passed}/{len(names)}, worst "
                  f"{errors[worst]:.2e} ({worst}){'; FAILED ' + ' '.join(failed) if failed else ''}",
                  flush=True)
    with open(args.out, "w") as f:
        f.write("# Cross binaries under qemu-user: error and size\n\n"
                "bench/cross_models.py: each case compiled with `--triple=ARCH-linux-gnu` "
                "and the flags shown, run under qemu-user on each CPU listed, compared with "
                "its float64 reference (max\\|y - ref\\| / max\\|ref\\|, tolerance 1e-5; the "
                "worst of all runs). Checkpoints: the 27 of test/models/hf_models.py "
                "(prompt, `--chunk 1`, `--chunk 5`); MoE models: the 54 of "
                "test/models/moe_models.py (1, 7, 40 tokens). Size: the binary of the "
                "first case, weights embedded.\n\n"
                "| triple | moec flags | qemu CPUs | cases | passed | worst error (case) | "
                "binary bytes (case) |\n|---|---|---|---|---:|---|---|\n")
        for arch, flags, cpus, suite, passed, error, worst, first, size in rows:
            f.write(f"| {arch}-linux-gnu | `{flags}` | `{cpus}` | {suite} | {passed} | "
                    f"{error:.1e} ({worst}) | {size:,} ({first}) |\n")
    print("wrote", args.out)


if __name__ == "__main__":
    sys.exit(main())
