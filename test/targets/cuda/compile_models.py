#!/usr/bin/python3
"""Compile every test model for the cuda target, through ptxas and fatbinary.

Writes the tiny checkpoints of test/models/hf_models.py and the MoE test
models of test/models/moe_models.py, compiles each with `moec --target=cuda`
(kernels for the chips named by the extra flags, default sm_80 and sm_90)
and runs the binary once under the tests' stand-in driver (LD_LIBRARY_PATH
set by the caller), which cannot run kernels: the run must get as far as
loading the embedded fatbin, the first thing a GPU would do. Prints one line
per model and a summary; exits non-zero if any fails.
"""

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys

import numpy as np

LOADED = "cuModuleLoadData) failed: fake driver error"


def compile_and_start(moec, model, binary, run, extra):
    built = subprocess.run([moec, "-q", model, "-o", binary, "--target=cuda"] + extra,
                           capture_output=True, text=True)
    if built.returncode != 0:
        return "compile failed: " + built.stderr.strip()
    started = subprocess.run([binary] + run, capture_output=True, text=True)
    if started.returncode != 1 or LOADED not in started.stderr:
        return f"run (exit {started.returncode}): " + started.stderr.strip()
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moec", required=True)
    parser.add_argument("--models-dir", required=True, help="test/models")
    parser.add_argument("--out", required=True)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("moec_args", nargs="*", help="extra moec flags")
    args = parser.parse_args()
    jobs = []
    hf = os.path.join(args.out, "hf")
    subprocess.run([sys.executable, os.path.join(args.models_dir, "hf_models.py"), hf],
                   check=True, stdout=subprocess.DEVNULL)
    for case in sorted(os.listdir(hf)):
        d = os.path.join(hf, case)
        jobs.append((case, d, os.path.join(d, "model"),
                     ["--tokens", os.path.join(d, "ids.npy"),
                      "--logits", os.path.join(d, "logits.npy")]))
    moe = os.path.join(args.out, "moe")
    subprocess.run([sys.executable, os.path.join(args.models_dir, "moe_models.py"), moe],
                   check=True, stdout=subprocess.DEVNULL)
    for case in sorted(os.listdir(moe)):
        d = os.path.join(moe, case)
        manifest = os.path.join(d, "manifest.json")
        if not os.path.exists(manifest) or not json.load(open(manifest)).get("runs"):
            continue
        run = json.load(open(manifest))["runs"][0]
        x = os.path.join(d, "x.npy")
        np.save(x, np.fromfile(os.path.join(d, run["input"]),
                               dtype=np.float32).reshape(run["shape"]))
        jobs.append((case, os.path.join(d, "model.onnx"), os.path.join(d, "model"),
                     ["--input", x, "--output", os.path.join(d, "y.npy")]))
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        results = pool.map(lambda job: (job[0], compile_and_start(
            args.moec, job[1], job[2], job[3], args.moec_args)), jobs)
        for case, problem in results:
            if problem:
                failed += 1
                print(f"FAILED: {case}: {problem}")
            else:
                print(f"ok: {case}")
    print(f"compiled: {len(jobs)}; loaded: {len(jobs) - failed}; failed: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
