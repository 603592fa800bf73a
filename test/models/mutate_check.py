#!/usr/bin/python3
"""Raising is sound on graphs near the ones it knows: mutants of the MoE
test models either stay unraised or, when raised, mean what ONNX Runtime
computes for the mutant.

usage: mutate_check.py --moec-import PATH --eval-raised PATH --ort-run PATH
                       [--mutants N] [--seed S] OUT_DIR CASE_DIR...

Each CASE_DIR is a test model written by moe_models.py or torch_moe.py. For
each, N mutants change one thing a different exporter or a bug could: an
integer constant (an expert id, an axis, k, a shape) or a float constant
(a fill value, alpha, a scale) by a small amount, an integer attribute, the
order of a non-commutative node's inputs, or an op type for a similar one
(Add/Sub/Mul, ReduceSum/ReduceMax, Sigmoid/Relu, ScatterND and
ScatterElements reductions). Then:

- ONNX Runtime runs the mutant (node ort_run.js); mutants it rejects are
  not counted further;
- moec-import --emit=moe must exit 0 or 1 (a clean error), never crash;
- a mutant that is raised must match ORT's output through eval_raised.py
  within 1e-5 of its largest magnitude (float32 ORT against float64).

Prints one line per mutant that fails and a summary; exits 1 on any
failure.
"""

import argparse
import copy
import json
import os
import random
import shutil
import subprocess
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

SWAPPABLE = {"Sub": (0, 1), "Div": (0, 1), "MatMul": (0, 1), "Where": (1, 2),
             "Gather": (0, 1)}
SIMILAR = [("Add", "Sub"), ("Add", "Mul"), ("Mul", "Div"),
           ("ReduceSum", "ReduceMax"), ("Sigmoid", "Relu"),
           ("Softmax", "Sigmoid")]
INT_ATTRS = ("axis", "keepdims", "largest", "transB", "batch_dims")


def small_int_tensors(model):
    """(kind, holder) for integer constants of at most 8 elements."""
    found = []
    for init in model.graph.initializer:
        if init.data_type in (onnx.TensorProto.INT64, onnx.TensorProto.INT32) and \
                np.prod(init.dims, dtype=np.int64) <= 8:
            found.append(("init", init))
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value" and attr.t.data_type in (
                        onnx.TensorProto.INT64, onnx.TensorProto.INT32) and \
                        np.prod(attr.t.dims, dtype=np.int64) <= 8:
                    found.append(("const", attr.t))
    return found


def small_float_tensors(model):
    found = []
    for init in model.graph.initializer:
        if init.data_type == onnx.TensorProto.FLOAT and \
                np.prod(init.dims, dtype=np.int64) <= 1:
            found.append(init)
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value" and attr.t.data_type == onnx.TensorProto.FLOAT \
                        and np.prod(attr.t.dims, dtype=np.int64) <= 1:
                    found.append(attr.t)
    return found


def replace_tensor(tensor, array):
    new = numpy_helper.from_array(array.astype(numpy_helper.to_array(tensor).dtype),
                                  tensor.name)
    tensor.CopyFrom(new)


def mutate(model, rng):
    """Applies one random mutation in place; returns its description or None."""
    kinds = ["int", "float", "attr", "swap", "op"]
    rng.shuffle(kinds)
    nodes = list(model.graph.node)
    for kind in kinds:
        if kind == "int":
            tensors = small_int_tensors(model)
            if not tensors:
                continue
            _, t = rng.choice(tensors)
            a = numpy_helper.to_array(t).copy()
            if a.size == 0:
                continue
            i = rng.randrange(a.size)
            flat = a.reshape(-1)
            flat[i] += rng.choice((-1, 1))
            replace_tensor(t, a)
            return f"int constant {t.name or '<node>'}[{i}] -> {flat[i]}"
        if kind == "float":
            tensors = small_float_tensors(model)
            if not tensors:
                continue
            t = rng.choice(tensors)
            a = numpy_helper.to_array(t).copy()
            new = rng.choice((a * 0.5, a - 1.0, -a, np.full_like(a, -np.inf)))
            replace_tensor(t, new)
            return f"float constant {t.name or '<node>'} -> {new.reshape(-1)[:1]}"
        if kind == "attr":
            cands = [(n, a) for n in nodes for a in n.attribute
                     if a.name in INT_ATTRS and a.type == onnx.AttributeProto.INT]
            cands += [(n, a) for n in nodes for a in n.attribute
                      if a.name == "perm" and len(a.ints) > 1]
            if not cands:
                continue
            n, a = rng.choice(cands)
            if a.name == "perm":
                perm = list(a.ints)
                i, j = rng.sample(range(len(perm)), 2)
                perm[i], perm[j] = perm[j], perm[i]
                del a.ints[:]
                a.ints.extend(perm)
                return f"{n.op_type} {n.name} perm -> {perm}"
            a.i = (1 - a.i) if a.name in ("keepdims", "largest", "transB") \
                else a.i + rng.choice((-1, 1))
            return f"{n.op_type} {n.name} {a.name} -> {a.i}"
        if kind == "swap":
            cands = [n for n in nodes if n.op_type in SWAPPABLE
                     and len(n.input) > max(SWAPPABLE[n.op_type])]
            if not cands:
                continue
            n = rng.choice(cands)
            i, j = SWAPPABLE[n.op_type]
            n.input[i], n.input[j] = n.input[j], n.input[i]
            return f"{n.op_type} {n.name} inputs {i}, {j} swapped"
        if kind == "op":
            pairs = {a: b for a, b in SIMILAR}
            pairs.update({b: a for a, b in SIMILAR})
            cands = [n for n in nodes if n.op_type in pairs]
            scatters = [n for n in nodes if n.op_type in ("ScatterND", "ScatterElements")]
            if scatters and rng.random() < 0.3:
                n = rng.choice(scatters)
                attrs = [a for a in n.attribute if a.name == "reduction"]
                now = attrs[0].s.decode() if attrs else "none"
                new = {"none": "add", "add": "mul", "mul": "none"}[now]
                for a in attrs:
                    n.attribute.remove(a)
                n.attribute.append(helper.make_attribute("reduction", new))
                return f"{n.op_type} {n.name} reduction -> {new}"
            if not cands:
                continue
            n = rng.choice(cands)
            old = n.op_type
            n.op_type = pairs[old]
            if old == "Softmax" or n.op_type == "Softmax" or \
                    {old, n.op_type} == {"ReduceSum", "ReduceMax"}:
                # ReduceMax takes axes as an attribute before opset 18.
                if n.op_type == "ReduceMax" and len(n.input) > 1:
                    n.op_type = old
                    continue
                for a in [a for a in n.attribute if a.name == "axis"]:
                    if n.op_type != "Softmax":
                        n.attribute.remove(a)
            return f"{n.name}: {old} -> {n.op_type}"
    return None


def ort_runs(ort_run, dirs):
    """The directories ONNX Runtime ran. A mutant may crash ORT itself:
    batches that die are rerun one directory at a time."""
    done = set()
    for start in range(0, len(dirs), 25):
        batch = dirs[start:start + 25]
        ran = subprocess.run(["node", ort_run] + batch, capture_output=True, text=True)
        seen = {line.split(" ", 1)[1].split(":")[0] for line in ran.stdout.splitlines()
                if line.startswith(("ran ", "failed "))}
        done |= {line.split(" ", 1)[1] for line in ran.stdout.splitlines()
                 if line.startswith("ran ")}
        if ran.returncode != 0:
            for d in batch:
                if d in seen:
                    continue
                one = subprocess.run(["node", ort_run, d], capture_output=True, text=True)
                if one.returncode == 0 and one.stdout.startswith("ran "):
                    done.add(d)
    return done


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moec-import", required=True)
    ap.add_argument("--eval-raised", required=True)
    ap.add_argument("--ort-run", required=True)
    ap.add_argument("--mutants", type=int, default=6)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("out")
    ap.add_argument("cases", nargs="+")
    args = ap.parse_args()

    mutants = []
    for case in args.cases:
        base = onnx.load(os.path.join(case, "model.onnx"))
        manifest = json.load(open(os.path.join(case, "manifest.json")))
        name = os.path.basename(os.path.normpath(case))
        for i in range(args.mutants):
            rng = random.Random(f"{args.seed}/{name}/{i}")
            model = copy.deepcopy(base)
            what = mutate(model, rng)
            if what is None:
                continue
            d = os.path.join(args.out, f"{name}.{i}")
            os.makedirs(d, exist_ok=True)
            onnx.save(model, os.path.join(d, "model.onnx"))
            for run in manifest["runs"]:
                shutil.copy(os.path.join(case, run["input"]), d)
            json.dump(dict(manifest, case=f"{name}.{i}"),
                      open(os.path.join(d, "manifest.json"), "w"))
            mutants.append((d, what, manifest))

    ort_ok = ort_runs(args.ort_run, [d for d, _, _ in mutants])

    counts = dict(mutants=len(mutants), ort=0, raised=0, unraised=0,
                  import_errors=0, skipped=0, failed=0)
    for d, what, manifest in mutants:
        if d not in ort_ok:
            continue
        counts["ort"] += 1
        imported = subprocess.run(
            [args.moec_import, "--emit=moe", "--moe-raise-report",
             os.path.join(d, "model.onnx"), "-o", os.path.join(d, "raised.mlir")],
            capture_output=True, text=True)
        if imported.returncode not in (0, 1):
            counts["failed"] += 1
            print(f"FAIL {d} ({what}): moec-import exited {imported.returncode}: "
                  f"{imported.stderr.strip()[-300:]}")
            continue
        if imported.returncode == 1:
            counts["import_errors"] += 1
            continue
        if ": raised (" not in imported.stderr:
            counts["unraised"] += 1
            continue
        counts["raised"] += 1
        # ORT's output is the reference now.
        runs = [dict(run, reference=f"ort_{run['tokens']}.bin")
                for run in manifest["runs"]]
        if any(json.load(open(os.path.join(d, f"ort_{run['tokens']}.shape")))
               != run["shape"] for run in runs):
            counts["skipped"] += 1  # eval_raised.py compares [T, H] outputs
            continue
        json.dump(dict(manifest, case=os.path.basename(d), runs=runs),
                  open(os.path.join(d, "manifest.json"), "w"))
        check = subprocess.run(["/usr/bin/python3", args.eval_raised,
                                os.path.join(d, "raised.mlir"), d, "--tolerance", "1e-5"],
                               capture_output=True, text=True)
        mismatch = [line for line in check.stdout.splitlines()
                    if line.startswith("FAIL")]
        if mismatch:
            counts["failed"] += 1
            print(f"FAIL {d} ({what}): raised, but differs from ONNX Runtime: "
                  f"{mismatch[0]}")
        elif check.returncode != 0:
            # eval_raised.py does not implement every op a mutant leaves.
            counts["skipped"] += 1
            last = (check.stdout + check.stderr).strip().splitlines()[-1:]
            print(f"note {d} ({what}): not evaluable: {' '.join(last)[:160]}")
    print("mutants: {mutants}; run by ORT: {ort}; raised: {raised} "
          "(not evaluable: {skipped}); unraised: {unraised}; import errors: "
          "{import_errors}; failed: {failed}".format(**counts))
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
