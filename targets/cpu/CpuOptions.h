//===- CpuOptions.h - The CPU target's own flags ----------------*- C++ -*-===//
//
// `moec --target=cpu` takes --triple, --cpu, --mattr, --vector-bits,
// --sysroot, --tile-depth and --bf16-dot-rows; they are the target's, not the
// driver's, and `moec --help` lists them under the target's option category.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_CPU_CPUOPTIONS_H
#define MOEC_TARGETS_CPU_CPUOPTIONS_H

#include "llvm/Support/CommandLine.h"

#include <string>

namespace moec::cpu {

struct CpuOptions {
  /// Target triple (LLVM syntax); empty: the host's.
  std::string triple;
  /// Processor to generate code for; empty: the host's, or the triple's
  /// baseline for another architecture.
  std::string cpu;
  /// Extra features (LLVM -mattr syntax, e.g. "+avx2,-avx512f").
  std::string features;
  /// k extent of one pass over a matmul's register tile; 0: 512.
  unsigned tileDepth = 0;
  /// bf16 weights: calls of at least this many rows on vdpbf16ps, with the
  /// activations rounded to bf16 (AVX512-BF16 only); 0: never.
  unsigned bf16DotRows = 16;
  /// SVE / RVV: bits of a vector register the code may assume (the binary
  /// checks when it starts); 0: the extension's minimum.
  unsigned vectorBits = 0;
  /// Cross binaries: the target system's root for the link; empty: the
  /// Debian cross toolchain's layout.
  std::string sysroot;
};

/// The flags as the command line set them (their defaults in a tool that
/// parsed none).
CpuOptions getCpuOptions();

/// Where the flags are declared, for the driver's --help.
llvm::cl::OptionCategory &getCpuOptionCategory();

} // namespace moec::cpu

#endif // MOEC_TARGETS_CPU_CPUOPTIONS_H
