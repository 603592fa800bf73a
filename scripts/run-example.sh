#!/usr/bin/env bash
#===- scripts/run-example.sh - moec's main job on the built-in example ------===#
#
# Compiles the built-in Mixtral-style block (examples/mixtral-block.mlir):
# large weights leave the IR for a safetensors store, the result is
# canonicalized, and a fresh moec-opt reloads it and verifies every weight
# reference; then imports the same router as an ONNX model with external
# data. Output lands in BUILD_DIR/examples/.
#
#===-------------------------------------------------------------------------===#
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$root/build"}
out="$build/examples"
mkdir -p "$out"
cp "$root/examples/mixtral-block.mlir" "$out/"
rm -f "$out/mixtral-block.weights.safetensors"

"$build/bin/moec-opt" "$out/mixtral-block.mlir" \
  --moe-externalize-constants \
  --moe-save-weights=path=mixtral-block.weights.safetensors \
  --canonicalize -o "$out/mixtral-block.out.mlir"
"$build/bin/moec-opt" "$out/mixtral-block.out.mlir" --moe-verify-weights \
  -o /dev/null

cat "$out/mixtral-block.out.mlir"
echo "moec: weights stored by reference in $out/mixtral-block.weights.safetensors" \
  "($(stat -c %s "$out/mixtral-block.weights.safetensors") bytes);" \
  "IR: $(stat -c %s "$out/mixtral-block.out.mlir") bytes"

# The same router as an ONNX model with its 2 MiB weight in an external
# data file: moec-import references the weight by byte range.
/usr/bin/python3 "$root/test/onnx/Inputs/make_model.py" router "$out/router-onnx"
"$build/bin/moec-import" "$out/router-onnx/model.onnx" -o "$out/router-onnx/router.mlir"
"$build/bin/moec-opt" "$out/router-onnx/router.mlir" --moe-verify-weights -o /dev/null
echo "moec-import: $out/router-onnx/model.onnx -> router.mlir" \
  "($(stat -c %s "$out/router-onnx/router.mlir") bytes of IR," \
  "$(grep -c 'moe.weight' "$out/router-onnx/router.mlir") weight by reference," \
  "$(stat -c %s "$out/router-onnx/model.onnx.data") bytes left in model.onnx.data)"

# An MoE block in an ONNX export form (TopK indices Gather-ing stacked expert
# weights): moec-import raises it to moe.router + moe.experts.
/usr/bin/python3 "$root/test/models/moe_models.py" "$out/moe-onnx" gather-mixtral
"$build/bin/moec-import" --moe-raise-report "$out/moe-onnx/gather-mixtral/model.onnx" \
  -o "$out/moe-onnx/gather-mixtral.mlir"
grep -E 'moe\.(router|experts) ' "$out/moe-onnx/gather-mixtral.mlir" | sed -E 's/ : .*//'
