#!/usr/bin/env bash
#===- scripts/fuzz.sh - Fuzz moec's readers ----------------------------------===#
#
# Usage: scripts/fuzz.sh [SECONDS] [BUILD_DIR] [FUZZER...]
# Builds moec with libFuzzer coverage and address/undefined-behaviour
# sanitizers over moec's own code, parsers included (MOEC_FUZZ_INSTRUMENT),
# in BUILD_DIR (default build-fuzz), then runs each FUZZER (default: all of
# onnx-import safetensors gguf npy profile policy checkpoint-config
# checkpoint-index tokenizer text-settings) for SECONDS (default 600), all
# at once, each from its committed corpus (test/fuzz/corpus for the ONNX
# importer, test/fuzz/corpus-NAME for the others). New interesting inputs go
# to BUILD_DIR/fuzz-corpus-NAME, crash reproducers to
# BUILD_DIR/fuzz-artifacts-NAME; the last lines report, per fuzzer,
# executions, coverage and reproducers. After fixing a crash, add its
# reproducer to the fuzzer's corpus, where the lit suite replays it.
#
#===-------------------------------------------------------------------------===#
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-600}
build=${2:-"$root/build-fuzz"}
shift $(($# < 2 ? $# : 2))
fuzzers=("$@")
((${#fuzzers[@]})) || fuzzers=(onnx-import safetensors gguf npy profile policy
  checkpoint-config checkpoint-index tokenizer text-settings)

bash "$root/scripts/build.sh" "$build" -DMOEC_FUZZ_INSTRUMENT=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

# LLVM's allocators poison memory in moec's instrumented code but not in the
# plain libMLIR that shares them: no user poisoning, or reports are false.
export ASAN_OPTIONS=${ASAN_OPTIONS:-allow_user_poisoning=0}

run() {
  local name=$1 corpus=$root/test/fuzz/corpus-$1 len=4096
  if [[ $name == onnx-import ]]; then
    corpus=$root/test/fuzz/corpus
    len=16384
  fi
  mkdir -p "$build/fuzz-corpus-$name" "$build/fuzz-artifacts-$name"
  # Fork mode keeps fuzzing past a crash, so one campaign collects them all.
  "$build/bin/moec-$name-fuzzer" "$build/fuzz-corpus-$name" "$corpus" \
    -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
    -max_total_time="$seconds" -max_len="$len" -timeout=20 -rss_limit_mb=4096 \
    -artifact_prefix="$build/fuzz-artifacts-$name/" \
    >"$build/fuzz-$name.log" 2>&1 || true
}
for name in "${fuzzers[@]}"; do
  run "$name" &
done
wait
for name in "${fuzzers[@]}"; do
  last=$(grep -E '^#[0-9]+: cov' "$build/fuzz-$name.log" | tail -1)
  crashes=$(find "$build/fuzz-artifacts-$name" -type f | wc -l)
  echo "fuzz $name: ${last:-no progress line (see $build/fuzz-$name.log)}; reproducers: $crashes"
done
