#!/usr/bin/env bash
#===- scripts/run-example.sh - moec's main job on the built-in example ------===#
#
# Compiles the built-in Mixtral-style block (examples/mixtral-block.mlir):
# large weights leave the IR for a safetensors store, the result is
# canonicalized, and a fresh moec-opt reloads it and verifies every weight
# reference. Output lands in BUILD_DIR/examples/.
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
