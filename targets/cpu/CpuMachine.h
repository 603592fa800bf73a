//===- CpuMachine.h - The machine the CPU target generates code for -*- C++
//-*-===//
//
// --triple, --cpu, --mattr and --vector-bits name the machine: this
// computer by default, or an x86-64, aarch64, riscv64 or loongarch64 Linux
// system (docs/cross.md). From its LLVM target machine follow the kernels'
// vector ISA (lanes, register tile, integer dot product) and the vector
// length a binary checks for when it starts.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_CPU_CPUMACHINE_H
#define MOEC_TARGETS_CPU_CPUMACHINE_H

#include "moec/Target/TargetBackend.h"

#include "llvm/TargetParser/Triple.h"

#include <memory>
#include <string>

namespace llvm {
class TargetMachine;
} // namespace llvm

namespace moec::cpu {

/// The kernels' view of the target's vector unit.
struct VectorIsa {
  /// f32 lanes of the vectors of register tiles and attention kernels; 0
  /// keeps every kernel on the reference scalar loops.
  int64_t lanes = 0;
  /// Vectors side by side in one register tile row (rows x panels of the
  /// register file).
  int64_t panels = 0;
  /// The integer dot product of int8 activations by packed codes
  /// (cpu-lower-moe's int8-dot): vpdpbusd, vpmaddubsw, sdot, generic or
  /// empty for none.
  std::string int8Dot;
  /// Whether bf16 prefill may use vdpbf16ps (AVX512-BF16).
  bool bf16Dots = false;
};

/// The scalable vector extension a binary's code uses and the vector
/// length it was compiled for; the binary refuses to start on a CPU
/// without them.
struct VectorRequirement {
  /// "SVE" or "V" (RVV); empty when the code runs on any CPU of the triple.
  std::string extension;
  /// Bits every vector register must have (0: any length).
  unsigned minBits = 0;
};

/// Why the cpu target cannot build for `triple`; empty when it can.
std::string checkTriple(const llvm::Triple &triple);

/// The triple the options name (the host's without --triple).
llvm::Triple getTargetTriple();

/// The Debian triple of another architecture's binaries (its cross
/// toolchain's and moec's runtime's), e.g. "aarch64-linux-gnu"; empty for
/// this machine's.
std::string getCrossTriple();

/// The LLVM target machine of --triple, --cpu and --mattr at -O`optLevel`,
/// with the triple's Linux ABI (lp64d on riscv64 and loongarch64); null
/// with `error` set when they name no machine.
std::unique_ptr<llvm::TargetMachine> createTargetMachine(unsigned optLevel,
                                                         std::string &error);

/// The kernels' ISA on the machine the options name (all zero when they
/// name none: serializeToObject reports that).
VectorIsa getVectorIsa(const TargetOptions &options);

/// The half-precision conversions the CPU has no instruction for, which
/// cpu-soft-half-conversions expands (riscv64 without Zfhmin / Zfbfmin,
/// loongarch64).
struct SoftConversions {
  bool f16 = false;
  bool bf16 = false;
};
SoftConversions getSoftConversions(const TargetOptions &options);

/// What a binary for `machine` needs of the CPU it runs on (--vector-bits).
VectorRequirement getVectorRequirement(const llvm::TargetMachine &machine);

} // namespace moec::cpu

#endif // MOEC_TARGETS_CPU_CPUMACHINE_H
