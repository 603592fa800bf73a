#!/usr/bin/env bash
#===- scripts/build.sh - Configure and build moec ---------------------------===#
#
# Usage: scripts/build.sh [BUILD_DIR] [extra cmake args...]
# Configures with Ninja, clang-22 and lld against the system LLVM/MLIR 22
# (once), then builds. ccache is used when installed.
#
#===-------------------------------------------------------------------------===#
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$root/build"}
shift || true

if [[ ! -f "$build/build.ninja" ]]; then
  cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DLLVM_USE_LINKER=lld \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir "$@"
fi
cmake --build "$build" -- -j"$(nproc)"
