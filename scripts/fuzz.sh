#!/usr/bin/env bash
#===- scripts/fuzz.sh - Fuzz the ONNX importer ------------------------------===#
#
# Usage: scripts/fuzz.sh [SECONDS] [BUILD_DIR]
# Builds moec with libFuzzer coverage and address/undefined-behaviour
# sanitizers (MOEC_FUZZ_INSTRUMENT) in BUILD_DIR (default build-fuzz), then
# fuzzes the importer and convert-onnx-to-linalg for SECONDS (default 600),
# starting from the committed corpus (test/fuzz/corpus). New interesting
# inputs go to BUILD_DIR/fuzz-corpus, crash reproducers to
# BUILD_DIR/fuzz-artifacts; the last lines report executions and crashes.
# After fixing a crash, add its reproducer to test/fuzz/corpus, where the
# lit suite replays it.
#
#===-------------------------------------------------------------------------===#
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-600}
build=${2:-"$root/build-fuzz"}

bash "$root/scripts/build.sh" "$build" -DMOEC_FUZZ_INSTRUMENT=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOEC_BUILD_TESTS=ON >/dev/null
mkdir -p "$build/fuzz-corpus" "$build/fuzz-artifacts"
# Fork mode keeps fuzzing past a crash, so one campaign collects them all.
set +e
"$build/bin/moec-onnx-import-fuzzer" "$build/fuzz-corpus" "$root/test/fuzz/corpus" \
  -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
  -max_total_time="$seconds" -max_len=16384 -timeout=20 -rss_limit_mb=4096 \
  -artifact_prefix="$build/fuzz-artifacts/" > "$build/fuzz.log" 2>&1
status=$?
set -e
grep -E '^#[0-9]+: cov' "$build/fuzz.log" | tail -1
crashes=$(find "$build/fuzz-artifacts" -type f | wc -l)
echo "fuzz: libFuzzer exit status $status; reproducers in $build/fuzz-artifacts: $crashes"
