//===- CpuOptions.h - The CPU target's own flags ----------------*- C++ -*-===//
//
// `moec --target=cpu` takes --cpu, --mattr and --tile-depth; they are the
// target's, not the driver's, and `moec --help` lists them under the
// target's option category.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_CPU_CPUOPTIONS_H
#define MOEC_TARGETS_CPU_CPUOPTIONS_H

#include "llvm/Support/CommandLine.h"

#include <string>

namespace moec::cpu {

struct CpuOptions {
  /// Processor to generate code for; empty: the host's.
  std::string cpu;
  /// Extra features (LLVM -mattr syntax, e.g. "+avx2,-avx512f").
  std::string features;
  /// k extent of one pass over a matmul's register tile; 0: 512.
  unsigned tileDepth = 0;
};

/// The flags as the command line set them (their defaults in a tool that
/// parsed none).
CpuOptions getCpuOptions();

/// Where the flags are declared, for the driver's --help.
llvm::cl::OptionCategory &getCpuOptionCategory();

} // namespace moec::cpu

#endif // MOEC_TARGETS_CPU_CPUOPTIONS_H
