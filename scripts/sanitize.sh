#!/usr/bin/env bash
#===- scripts/sanitize.sh - The test suite under ASan and UBSan --------------===#
#
# Usage: scripts/sanitize.sh [BUILD_DIR]
# Builds moec with address and undefined-behaviour sanitizers over moec's own
# code (MOEC_FUZZ_INSTRUMENT, the fuzzing build; LLVM/MLIR and the runtime
# that compiled models link stay plain) in BUILD_DIR (default build-fuzz),
# then runs the whole lit suite with it. A sanitizer report fails the test
# that triggered it (halt_on_error); leaks are not checked (MLIR's contexts
# keep their uniqued storage until exit).
#
#===-------------------------------------------------------------------------===#
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$root/build-fuzz"}
bash "$root/scripts/build.sh" "$build" -DMOEC_FUZZ_INSTRUMENT=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# allow_user_poisoning=0: LLVM's allocators poison their slabs in moec's
# instrumented code but not in the plain libMLIR that shares them, which
# would report false use-after-poison.
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1:allow_user_poisoning=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
cmake --build "$build" --target check-moec
