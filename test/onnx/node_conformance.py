#!/usr/bin/python3
"""Import-only conformance over the ONNX backend node tests.

For every node test (libonnx-testdata) whose ops moec claims
(`moec-import --list-ops`), import the model with moec-import and require
success (the tool verifies the lowered IR). Models older than opset 13 are
first upgraded to opset 13 with onnx.version_converter, since moec accepts
opsets 13 to 21. Prints one line per failure and a summary; exits non-zero
if any claimed test fails. With --table, writes the per-test results as a
markdown table.
"""

import argparse
import concurrent.futures
import os
import shlex
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnx.version_converter
from onnx import numpy_helper

MIN_OPSET = 13

# Numeric comparison (--run): the ONNX backend tests' relative tolerance,
# with an absolute floor for results that should be near zero.
RTOL = 1e-3
ATOL = 1e-6

# Inputs moec requires to be constants (they fix ranks or split counts): in
# real exports they are initializers, but the node tests feed them as graph
# inputs. They are frozen to the test's own input data before import.
CONSTANT_INPUTS = {
    "ReduceSum": [1], "ReduceMean": [1], "ReduceMax": [1], "ReduceMin": [1],
    "ReduceProd": [1], "Squeeze": [1], "Unsqueeze": [1], "Slice": [3, 4],
    "Split": [1], "CumSum": [1],
}


def freeze_constant_inputs(model, test_dir):
    """Turns graph inputs used as CONSTANT_INPUTS into initializers."""
    names = [i.name for i in model.graph.input]
    frozen = set()
    for node in model.graph.node:
        for index in CONSTANT_INPUTS.get(op_name(node), []):
            if index < len(node.input) and node.input[index] in names:
                frozen.add(node.input[index])
    for name in frozen:
        position = names.index(name)
        tensor = onnx.TensorProto()
        path = os.path.join(test_dir, "test_data_set_0",
                            f"input_{position}.pb")
        with open(path, "rb") as f:
            tensor.ParseFromString(f.read())
        tensor.name = name
        model.graph.initializer.append(tensor)
    kept = [i for i in model.graph.input if i.name not in frozen]
    del model.graph.input[:]
    model.graph.input.extend(kept)
    return sorted(frozen)


def op_name(node):
    if node.domain in ("", "ai.onnx"):
        return node.op_type
    return node.domain + "." + node.op_type


def default_opset(model):
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx"):
            return opset.version
    return None


def unsupported_value(model):
    """A graph input or output moec does not import: strings, sequences,
    optionals, maps."""
    for value in list(model.graph.input) + list(model.graph.output):
        if not value.type.HasField("tensor_type"):
            return value.name
        if value.type.tensor_type.elem_type == onnx.TensorProto.STRING:
            return value.name
    return None


def check(test_dir, tool, claimed, scratch, moec=None):
    name = os.path.basename(test_dir)
    model = onnx.load(os.path.join(test_dir, "model.onnx"))
    ops = sorted({op_name(n) for n in model.graph.node})
    unclaimed = [op for op in ops if op not in claimed]
    if unclaimed:
        return name, "unclaimed", ", ".join(unclaimed)
    value = unsupported_value(model)
    if value:
        return name, "unclaimed", f"'{value}' is not a numeric tensor"
    path = os.path.join(test_dir, "model.onnx")
    frozen = freeze_constant_inputs(model, test_dir)
    opset = default_opset(model)
    if opset is not None and opset < MIN_OPSET:
        try:
            model = onnx.version_converter.convert_version(model, MIN_OPSET)
        except Exception as error:  # the converter lacks some adapters
            return name, "not-converted", str(error).splitlines()[0][:100]
    if frozen or (opset is not None and opset < MIN_OPSET):
        path = os.path.join(scratch, name + ".onnx")
        onnx.save(model, path)
    out = os.path.join(scratch, name + ".mlir")
    run = subprocess.run([tool, path, "-o", out], capture_output=True,
                         text=True)
    if run.returncode != 0:
        message = (run.stderr.strip().splitlines() or ["(no message)"])[-1]
        return name, "failed", message
    if not moec:
        return name, "imported", ", ".join(ops)
    return run_numerically(name, model, path, test_dir, moec, scratch, ops)


def read_tensor(path):
    tensor = onnx.TensorProto()
    with open(path, "rb") as f:
        tensor.ParseFromString(f.read())
    return numpy_helper.to_array(tensor)


def close_enough(actual, expected):
    """Floats: |y - ref| <= ATOL + RTOL * |ref|, NaNs where the reference
    has them; everything else exactly."""
    if actual.shape != expected.shape:
        return f"shape {actual.shape}, expected {expected.shape}"
    if expected.dtype.kind == "f":
        a = actual.astype(np.float64)
        e = expected.astype(np.float64)
        nan = np.isnan(e)
        if not np.array_equal(nan, np.isnan(a)):
            return "NaNs differ"
        ok = np.isclose(a[~nan], e[~nan], rtol=RTOL, atol=ATOL)
        if not ok.all():
            worst = np.abs(a[~nan] - e[~nan]).max()
            return f"max abs error {worst:.3g}"
        return None
    if not np.array_equal(actual, expected):
        return "values differ"
    return None


def run_numerically(name, model, path, test_dir, moec, scratch, ops):
    """Compiles the (converted, frozen) model with moec, runs the binary on
    test_data_set_0 and compares every output."""
    binary = os.path.join(scratch, name)
    build = subprocess.run(shlex.split(moec) + ["-q", path, "-o", binary,
                            "--max-tokens", "1000000"],
                           capture_output=True, text=True)
    if build.returncode != 0:
        message = (build.stderr.strip().splitlines() or ["(no message)"])[-1]
        return name, "compile-failed", message
    # NumPy, hence .npy, has no bfloat16: such tests cannot be fed.
    for value in list(model.graph.input) + list(model.graph.output):
        if value.type.tensor_type.elem_type == onnx.TensorProto.BFLOAT16:
            return name, "no-npy-type", "bfloat16 input or output"
    original = [i.name for i in onnx.load(
        os.path.join(test_dir, "model.onnx")).graph.input]
    data = os.path.join(test_dir, "test_data_set_0")
    args = [binary]
    for value in model.graph.input:
        array = read_tensor(os.path.join(
            data, f"input_{original.index(value.name)}.pb"))
        file = os.path.join(scratch, f"{name}.in.{len(args)}.npy")
        np.save(file, array)
        args += ["--input", f"{value.name}={file}"]
    expected = []
    for i, value in enumerate(model.graph.output):
        file = os.path.join(scratch, f"{name}.out.{i}.npy")
        args += ["--output", f"{value.name}={file}"]
        expected.append((file, read_tensor(os.path.join(data, f"output_{i}.pb"))))
    run = subprocess.run(args, capture_output=True, text=True)
    if run.returncode != 0:
        message = (run.stderr.strip().splitlines() or ["(no message)"])[-1]
        return name, "run-failed", message
    for file, reference in expected:
        problem = close_enough(np.load(file), reference)
        if problem:
            return name, "mismatch", problem
    return name, "passed", ", ".join(ops)


def write_table(path, results, numeric):
    """Per-test results of the claimed tests, then the ops moec does not
    claim (as unsupported) with the number of tests each keeps out."""
    unclaimed = {}
    with open(path, "w") as table:
        table.write("| test | result | ops or reason |\n|---|---|---|\n")
        for name, status, detail in results:
            if status == "unclaimed":
                for op in detail.split(", "):
                    if not op.startswith("'"):
                        unclaimed[op] = unclaimed.get(op, 0) + 1
            else:
                table.write(f"| {name} | {status} | {detail} |\n")
        if numeric:
            table.write("\nUnsupported (unclaimed) ops, with the number of "
                        "node tests that use them:\n\n")
            table.write(", ".join(f"{op} ({n})"
                                  for op, n in sorted(unclaimed.items())))
            table.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tool", required=True, help="moec-import binary")
    parser.add_argument("--data",
                        default="/usr/share/libonnx-testdata/data/node")
    parser.add_argument("--table", help="write a markdown table here")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--run", metavar="MOEC",
                        help="also compile each imported test with this moec "
                        "command (it may carry flags, e.g. a --target), run it "
                        "and compare its outputs")
    args = parser.parse_args()

    claimed = set(subprocess.run([args.tool, "--list-ops"], check=True,
                                 capture_output=True,
                                 text=True).stdout.split())
    tests = sorted(os.path.join(args.data, d) for d in os.listdir(args.data))
    with tempfile.TemporaryDirectory() as scratch:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            results = list(pool.map(
                lambda t: check(t, args.tool, claimed, scratch, args.run), tests))

    counts = {}
    for name, status, detail in results:
        counts[status] = counts.get(status, 0) + 1
        if status not in ("imported", "passed", "unclaimed", "no-npy-type"):
            print(f"{status.upper()}: {name}: {detail}")
    if args.table:
        write_table(args.table, results, bool(args.run))
    claimed_tests = len(results) - counts.get("unclaimed", 0)
    if args.run:
        wrong = sum(counts.get(s, 0) for s in
                    ("failed", "compile-failed", "run-failed", "mismatch"))
        print(f"node tests: {len(results)}; using only claimed ops: "
              f"{claimed_tests}; passed numerically: "
              f"{counts.get('passed', 0)}; import failed: "
              f"{counts.get('failed', 0)}; compile failed: "
              f"{counts.get('compile-failed', 0)}; run failed: "
              f"{counts.get('run-failed', 0)}; mismatch: "
              f"{counts.get('mismatch', 0)}; bfloat16 I/O (not run): "
              f"{counts.get('no-npy-type', 0)}")
        return 1 if wrong else 0
    print(f"node tests: {len(results)}; using only claimed ops: "
          f"{claimed_tests}; imported: {counts.get('imported', 0)}; "
          f"failed: {counts.get('failed', 0)}; not convertible to opset "
          f"{MIN_OPSET}: {counts.get('not-converted', 0)}")
    return 1 if counts.get("failed", 0) else 0


if __name__ == "__main__":
    sys.exit(main())
