#!/usr/bin/env bash
#===- scripts/run-layer-example.sh - One MoE layer from ONNX ----------------===#
#
# Compiles the built-in small MoE model for this CPU and runs it: an
# OLMoE-style MoE layer (16 experts, top-4, softmax routing, hidden size 32)
# exported to ONNX the way torch exports write it (TopK indices Gather-ing
# stacked expert weights), written by test/models/moe_models.py with a
# float64 reference.
# `moec` raises it to moe ops, compiles it to a standalone executable, and
# the executable runs on 40 tokens (result summary, error against the
# reference) and times itself at 1 and 40 tokens. Output lands in
# BUILD_DIR/examples/.
#
#===-------------------------------------------------------------------------===#
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$root/build"}
out="$build/examples"
python=/usr/bin/python3
mkdir -p "$out"
cd "$out"

"$python" "$root/test/models/moe_models.py" "$out" gather-olmoe > /dev/null
model="$out/gather-olmoe"
"$python" - "$model" <<'PY'
import sys, numpy as np
d = sys.argv[1]
for n in (1, 40):
    np.save(f"{d}/x_{n}.npy", np.fromfile(f"{d}/x_{n}.bin", np.float32).reshape(n, -1))
PY

echo "== moec: compile $model/model.onnx for this CPU"
"$build/bin/moec" "$model/model.onnx" -o "$out/olmoe-layer"
echo "== ldd olmoe-layer (no compiler, MLIR or OpenMP needed to run it)"
ldd "$out/olmoe-layer"

echo "== run on 40 tokens"
"$out/olmoe-layer" --input "x=$model/x_40.npy"
"$out/olmoe-layer" --input "x=$model/x_40.npy" --output "$out/y_40.npy"
"$python" - "$model" "$out/y_40.npy" <<'PY'
import sys, numpy as np
y = np.load(sys.argv[2])
ref = np.fromfile(f"{sys.argv[1]}/y_40.bin", np.float64).reshape(y.shape)
print(f"max |y - ref| / max |ref| = {np.abs(y - ref).max() / np.abs(ref).max():.2e}"
      " (float64 numpy reference; tolerance 1e-5)")
PY

echo "== speed"
"$out/olmoe-layer" --input "x=$model/x_1.npy" --bench --iterations 200
"$out/olmoe-layer" --input "x=$model/x_40.npy" --bench --iterations 200
