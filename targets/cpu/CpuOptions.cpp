//===- CpuOptions.cpp - The CPU target's own flags ------------------------===//

#include "targets/cpu/CpuOptions.h"

namespace cl = llvm::cl;

cl::OptionCategory &moec::cpu::getCpuOptionCategory() {
  static cl::OptionCategory category("CPU target (--target=cpu)");
  return category;
}

static cl::opt<std::string>
    cpuName("cpu",
            cl::desc("CPU to generate code for (default: this machine's; "
                     "x86-64, x86-64-v3 (AVX2), x86-64-v4 (AVX-512), znver4)"),
            cl::cat(moec::cpu::getCpuOptionCategory()));
static cl::opt<std::string>
    features("mattr", cl::desc("CPU features, e.g. +avx2,-avx512f"),
             cl::cat(moec::cpu::getCpuOptionCategory()));
static cl::opt<unsigned> tileDepth(
    "tile-depth",
    cl::desc("k extent of one pass over a matmul's register tile (0: 512; "
             "for tuning and tests)"),
    cl::init(0), cl::cat(moec::cpu::getCpuOptionCategory()));

moec::cpu::CpuOptions moec::cpu::getCpuOptions() {
  return {cpuName, features, tileDepth};
}
