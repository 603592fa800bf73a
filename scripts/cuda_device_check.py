#!/usr/bin/python3
"""The cuda target's check on a machine with an NVIDIA GPU, in two steps.

  cuda_device_check.py prepare [--out DIR] [--moec MOEC]
      Here (any machine with moec built and the CUDA toolkit): writes the
      test models (the tiny checkpoints of test/models/hf_models.py, the MoE
      models of test/models/moe_models.py) with their float64 references,
      compiles each for --target=cuda (sm_80 and sm_90), and the
      checkpoints once more for sm_80 alone, whose PTX the driver compiles
      for a newer chip. Packs everything into DIR.tar.xz (tens of MB).

  cuda_device_check.py run [--out DIR] [--jobs N]
      There (the GPU's machine: python3 and the driver, nothing built):
      unpacks DIR.tar.xz when DIR is absent, runs every binary on its inputs
      (checkpoints: one prompt, --chunk 1, --chunk 5; MoE layers: 1, 7 and
      40 tokens) and prints model -> max|y - ref| / max|ref| against the
      tolerance, 1e-5 (fp32 arithmetic, as the CPU target's tests). Exits
      non-zero if any fails. Only the standard library is used there.

`run --emulated` runs binaries prepared with `prepare --emulated` (kernels
emulated on the host) under the tests' stand-in driver, to check the
script itself without a GPU.
"""

import argparse
import array
import concurrent.futures
import json
import os
import struct
import subprocess
import sys
import tarfile

TOLERANCE = 1e-5
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_npy(path):
    """(shape, values) of a little-endian float32/float64 .npy, C order."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x93NUMPY":
        raise ValueError(f"{path}: not a .npy file")
    major = data[6]
    header_len = struct.unpack("<H" if major == 1 else "<I",
                               data[8:10] if major == 1 else data[8:12])[0]
    start = (10 if major == 1 else 12) + header_len
    header = eval(data[(10 if major == 1 else 12):start].decode("latin1"))
    code = {"<f4": "f", "<f8": "d"}[header["descr"]]
    values = array.array(code)
    values.frombytes(data[start:])
    return tuple(header["shape"]), values


def relative_error(y, ref):
    scale = max(abs(r) for r in ref)
    return max(abs(a - b) for a, b in zip(y, ref)) / scale


def prepare(args):
    import numpy as np  # only here, where the models are written

    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    models = os.path.join(ROOT, "test", "models")
    flags = ["--target=cuda"] + (["--cuda-emulate-kernels"] if args.emulated else [])
    checks = []
    hf = os.path.join(out, "hf")
    subprocess.run([sys.executable, os.path.join(models, "hf_models.py"), hf],
                   check=True, stdout=subprocess.DEVNULL)
    chosen = set(args.cases.split(",")) if args.cases else None
    jobs = []
    for case in sorted(os.listdir(hf)):
        if chosen and case not in chosen:
            continue
        d = os.path.join(hf, case)
        for name, extra in (("model", []), ("model_sm80", ["--cuda-archs=sm_80"])):
            jobs.append(([args.moec, "-q", d, "-o", os.path.join(d, name)] + flags + extra))
            checks.append({"kind": "checkpoint", "name": case + ("" if name == "model" else " (sm_80 PTX)"),
                           "binary": f"hf/{case}/{name}", "tokens": f"hf/{case}/ids.npy",
                           "reference": f"hf/{case}/reference.npy"})
    moe = os.path.join(out, "moe")
    subprocess.run([sys.executable, os.path.join(models, "moe_models.py"), moe],
                   check=True, stdout=subprocess.DEVNULL)
    for case in sorted(os.listdir(moe)):
        if chosen and case not in chosen:
            continue
        d = os.path.join(moe, case)
        manifest = json.load(open(os.path.join(d, "manifest.json")))
        if not manifest["runs"]:
            continue
        jobs.append([args.moec, "-q", os.path.join(d, "model.onnx"), "-o",
                     os.path.join(d, "model")] + flags)
        runs = []
        for run in manifest["runs"]:
            x = np.fromfile(os.path.join(d, run["input"]), dtype=np.float32)
            np.save(os.path.join(d, f"x_{run['tokens']}.npy"), x.reshape(run["shape"]))
            runs.append({"input": f"moe/{case}/x_{run['tokens']}.npy",
                         "reference": f"moe/{case}/{run['reference']}",
                         "tokens": run["tokens"]})
        checks.append({"kind": "layer", "name": case, "binary": f"moe/{case}/model",
                       "runs": runs})
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for job, result in zip(jobs, pool.map(
                lambda cmd: subprocess.run(cmd, capture_output=True, text=True), jobs)):
            if result.returncode:
                sys.exit(f"error: {' '.join(job)}:\n{result.stderr}")
    for check in checks:
        subprocess.run(["strip", os.path.join(out, check["binary"])], check=True)
    with open(os.path.join(out, "checks.json"), "w") as f:
        json.dump({"emulated": args.emulated, "checks": checks}, f, indent=1)
    keep = [c["binary"] for c in checks]
    for c in checks:
        keep += [c["tokens"], c["reference"]] if c["kind"] == "checkpoint" else \
            [p for r in c["runs"] for p in (r["input"], r["reference"])]
    with tarfile.open(out + ".tar.xz", "w:xz") as tar:
        tar.add(os.path.join(out, "checks.json"), arcname=os.path.basename(out) + "/checks.json")
        for path in sorted(set(keep)):
            tar.add(os.path.join(out, path), arcname=os.path.join(os.path.basename(out), path))
    size = os.path.getsize(out + ".tar.xz")
    print(f"prepared {len(checks)} checks in {out}.tar.xz ({size / 2**20:.1f} MiB)")


def run_one(out, check, env):
    """(name, worst error or None, problem)."""
    binary = os.path.join(out, check["binary"])
    scratch = binary + ".out.npy"
    worst = 0.0
    if check["kind"] == "checkpoint":
        _, ref = read_npy(os.path.join(out, check["reference"]))
        runs = [[binary, "--tokens", os.path.join(out, check["tokens"]), "--logits", scratch]
                + chunk for chunk in ([], ["--chunk", "1"], ["--chunk", "5"])]
        refs = [ref] * 3
    else:
        runs, refs = [], []
        for r in check["runs"]:
            runs.append([binary, "--input", os.path.join(out, r["input"]), "--output", scratch])
            values = array.array("d")
            with open(os.path.join(out, r["reference"]), "rb") as f:
                values.frombytes(f.read())
            refs.append(values)
    for command, ref in zip(runs, refs):
        result = subprocess.run(command, capture_output=True, text=True, env=env)
        if result.returncode:
            return check["name"], None, result.stderr.strip()
        _, y = read_npy(scratch)
        if len(y) != len(ref):
            return check["name"], None, f"{len(y)} values, expected {len(ref)}"
        worst = max(worst, relative_error(y, ref))
    return check["name"], worst, None


def device_name(env):
    result = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version",
                             "--format=csv,noheader"], capture_output=True, text=True, env=env) \
        if not env.get("MOEC_EMULATED") else None
    return result.stdout.strip() if result and result.returncode == 0 else "emulated"


def run(args):
    out = os.path.abspath(args.out)
    if not os.path.isdir(out):
        with tarfile.open(out + ".tar.xz") as tar:
            tar.extractall(os.path.dirname(out))
    plan = json.load(open(os.path.join(out, "checks.json")))
    env = dict(os.environ)
    if plan["emulated"]:
        if not args.emulated:
            sys.exit("error: these binaries emulate their kernels on the host: "
                     "run with --emulated and the tests' stand-in driver")
        env["LD_LIBRARY_PATH"] = args.fake_driver
        env["MOEC_EMULATED"] = "1"
    print(f"device: {device_name(env)}")
    print(f"| model | max abs error / max abs ref | tolerance | |")
    print(f"|---|---:|---:|---|")
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for name, error, problem in pool.map(lambda c: run_one(out, c, env), plan["checks"]):
            ok = problem is None and error <= TOLERANCE
            failed += not ok
            shown = f"{error:.2e}" if error is not None else "-"
            print(f"| {name} | {shown} | {TOLERANCE:g} | {'ok' if ok else 'FAILED: ' + (problem or 'error')} |")
    print(f"checks: {len(plan['checks'])}; passed: {len(plan['checks']) - failed}; failed: {failed}")
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("step", choices=["prepare", "run"])
    parser.add_argument("--out", default=os.path.join(ROOT, "build", "cuda-check"))
    parser.add_argument("--moec", default=os.path.join(ROOT, "build", "bin", "moec"))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--cases", help="with prepare: a comma-separated subset of the models")
    parser.add_argument("--emulated", action="store_true",
                        help="kernels emulated on the host (a check of this script)")
    parser.add_argument("--fake-driver", default=os.path.join(ROOT, "build", "test", "fake-cuda"),
                        help="with run --emulated: the stand-in libcuda.so.1's directory")
    args = parser.parse_args()
    return prepare(args) if args.step == "prepare" else run(args)


if __name__ == "__main__":
    sys.exit(main())
