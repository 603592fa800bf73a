#!/usr/bin/env bash
#===- scripts/install-deps.sh - Install moec's build and test dependencies -===#
#
# Installs every Debian package moec needs to build and test. Idempotent: a
# package already present is skipped, and apt is not touched when nothing is
# missing. Node.js and npm come from NodeSource on the CI machines; they are
# only checked here, because Debian's npm conflicts with them.
#
#===------------------------------------------------------------------------===#
set -euo pipefail

packages=(
  # Build tools.
  cmake ninja-build ccache pkg-config
  # LLVM/MLIR 22 (shared libLLVM/libMLIR, lit, FileCheck, clang, lld).
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools clang-22 lld-22
  # libFuzzer for the importer fuzzer.
  libclang-rt-22-dev
  # Unit tests.
  libgtest-dev
  # ONNX frontend and its conformance data.
  libprotobuf-dev protobuf-compiler libonnx-dev libonnx-testdata
  # Test-model generators and references (run with /usr/bin/python3).
  python3-onnx python3-numpy
  # torch.onnx.export of MoE blocks written as the Hugging Face modeling
  # files write them (test/models/torch_moe.py).
  python3-torch
  # The benchmarks' plots (bench/).
  python3-matplotlib
  # The c target's default C compiler (examples/target-plugin).
  gcc libc6-dev
  # Memcheck of the compiled binaries (test/e2e/memcheck.test).
  valgrind
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
else
  echo "install-deps: all ${#packages[@]} Debian packages present"
fi

# Node.js and npm are used only by benchmarks and the ONNX Runtime oracle
# (onnxruntime-node, pinned in package.json, installed into node_modules/;
# --ignore-scripts: its prebuilt CPU runtime ships in the package).
root=$(cd "$(dirname "$0")/.." && pwd)
if command -v npm >/dev/null 2>&1; then
  echo "install-deps: node $(node --version), npm $(npm --version)"
  if [[ ! -d "$root/node_modules/onnxruntime-node" ]]; then
    (cd "$root" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) ||
      echo "install-deps: warning: npm could not install onnxruntime-node; the ONNX Runtime cross-checks will be skipped" >&2
  fi
else
  echo "install-deps: warning: npm not found (needed only for ONNX Runtime cross-checks and benchmarks)" >&2
fi
