//===- CpuOptions.cpp - The CPU target's own flags ------------------------===//

#include "targets/cpu/CpuOptions.h"

#include "targets/cpu/CpuMachine.h"

#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

namespace cl = llvm::cl;

cl::OptionCategory &moec::cpu::getCpuOptionCategory() {
  static cl::OptionCategory category("CPU target (--target=cpu)");
  return category;
}

static cl::opt<std::string> triple(
    "triple",
    cl::desc("Linux system to generate code for (default: this machine's): "
             "x86_64-linux-gnu, aarch64-linux-gnu, riscv64-linux-gnu or "
             "loongarch64-linux-gnu (docs/cross.md)"),
    cl::value_desc("triple"), cl::callback([](const std::string &name) {
      std::string error =
          moec::cpu::checkTriple(llvm::Triple(llvm::Triple::normalize(name)));
      if (!error.empty()) {
        llvm::errs() << "moec: error: --triple: " << error << "\n";
        std::exit(2);
      }
    }),
    cl::cat(moec::cpu::getCpuOptionCategory()));
static cl::opt<std::string> cpuName(
    "cpu",
    cl::desc("CPU to generate code for (default: this machine's, or the "
             "triple's baseline: x86-64, generic (aarch64, NEON), "
             "generic-rv64 (RV64GC), generic-la64); e.g. x86-64-v3 (AVX2), "
             "x86-64-v4 (AVX-512), znver4, neoverse-v1 (SVE), la464 (LASX)"),
    cl::cat(moec::cpu::getCpuOptionCategory()));
static cl::opt<std::string>
    features("mattr",
             cl::desc("CPU features, e.g. +avx2,-avx512f; +dotprod, +sve; "
                      "+v; +lsx, +lasx"),
             cl::cat(moec::cpu::getCpuOptionCategory()));
static cl::opt<unsigned> vectorBits(
    "vector-bits",
    cl::desc("With SVE or RVV: the vector length in bits the code may "
             "assume (128 to 2048, a power of two); the binary refuses to "
             "start on a CPU with shorter vectors (default: the "
             "extension's minimum, 128)"),
    cl::value_desc("N"), cl::init(0),
    cl::cat(moec::cpu::getCpuOptionCategory()));
static cl::opt<unsigned> tileDepth(
    "tile-depth",
    cl::desc("k extent of one pass over a matmul's register tile (0: 512; "
             "for tuning and tests)"),
    cl::init(0), cl::cat(moec::cpu::getCpuOptionCategory()));

static cl::opt<unsigned> bf16DotRows(
    "bf16-dot-rows",
    cl::desc("On a CPU with AVX512-BF16, bf16 weights multiply calls of at "
             "least N tokens (an expert: N rows) by the activations rounded "
             "to bf16 with vdpbf16ps, as prefill; shorter ones, and every "
             "call with 0, keep exact f32 products (default 16)"),
    cl::value_desc("N"), cl::init(16),
    cl::cat(moec::cpu::getCpuOptionCategory()));

static cl::opt<std::string> sysroot(
    "sysroot",
    cl::desc("With --triple: the target system's root directory (its "
             "crt1.o, libc, libgcc and libstdc++) for the link, where its "
             "cross toolchain is not installed as Debian installs one "
             "(/usr/TRIPLE, /usr/lib/gcc-cross/TRIPLE)"),
    cl::value_desc("DIR"), cl::cat(moec::cpu::getCpuOptionCategory()));

moec::cpu::CpuOptions moec::cpu::getCpuOptions() {
  return {triple,      cpuName,    features, tileDepth,
          bf16DotRows, vectorBits, sysroot};
}
