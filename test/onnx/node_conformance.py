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
import subprocess
import sys
import tempfile

import onnx
import onnx.version_converter

MIN_OPSET = 13

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


def check(test_dir, tool, claimed, scratch):
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
    return name, "imported", ", ".join(ops)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tool", required=True, help="moec-import binary")
    parser.add_argument("--data",
                        default="/usr/share/libonnx-testdata/data/node")
    parser.add_argument("--table", help="write a markdown table here")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()

    claimed = set(subprocess.run([args.tool, "--list-ops"], check=True,
                                 capture_output=True,
                                 text=True).stdout.split())
    tests = sorted(os.path.join(args.data, d) for d in os.listdir(args.data))
    with tempfile.TemporaryDirectory() as scratch:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            results = list(pool.map(
                lambda t: check(t, args.tool, claimed, scratch), tests))

    counts = {}
    for name, status, detail in results:
        counts[status] = counts.get(status, 0) + 1
        if status in ("failed", "not-converted"):
            print(f"{status.upper()}: {name}: {detail}")
    if args.table:
        with open(args.table, "w") as table:
            table.write("| test | result | ops or reason |\n|---|---|---|\n")
            for name, status, detail in results:
                if status != "unclaimed":
                    table.write(f"| {name} | {status} | {detail} |\n")
    claimed_tests = len(results) - counts.get("unclaimed", 0)
    print(f"node tests: {len(results)}; using only claimed ops: "
          f"{claimed_tests}; imported: {counts.get('imported', 0)}; "
          f"failed: {counts.get('failed', 0)}; not convertible to opset "
          f"{MIN_OPSET}: {counts.get('not-converted', 0)}")
    return 1 if counts.get("failed", 0) else 0


if __name__ == "__main__":
    sys.exit(main())
