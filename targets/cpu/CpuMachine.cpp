//===- CpuMachine.cpp - The machine the CPU target generates code for -----===//

#include "targets/cpu/CpuMachine.h"

#include "targets/cpu/CpuOptions.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <mutex>

using namespace moec;

namespace {
/// What moec assumes of a Linux system of one architecture when the
/// command line names no CPU: the CPU, the features its Debian ABI needs,
/// the ABI, and CPUs to suggest.
struct Baseline {
  const char *cpu;
  const char *features;
  const char *abi;
  const char *examples;
};
} // namespace

static std::optional<Baseline> baselineOf(const llvm::Triple &triple) {
  switch (triple.getArch()) {
  case llvm::Triple::x86_64:
    return Baseline{"x86-64", "", "",
                    "x86-64, x86-64-v3, x86-64-v4, znver4 or native"};
  case llvm::Triple::aarch64:
    return Baseline{"generic", "", "",
                    "generic, cortex-a72, neoverse-n1, neoverse-v1, a64fx"};
  case llvm::Triple::riscv64:
    return Baseline{"generic-rv64", "+m,+a,+f,+d,+c", "lp64d",
                    "generic-rv64, sifive-x280, spacemit-x60"};
  case llvm::Triple::loongarch64:
    return Baseline{"generic-la64", "+f,+d", "lp64d",
                    "generic-la64, la464, la664"};
  default:
    return std::nullopt;
  }
}

std::string cpu::checkTriple(const llvm::Triple &triple) {
  if (baselineOf(triple) && triple.isOSLinux() &&
      (triple.isGNUEnvironment() ||
       triple.getEnvironment() == llvm::Triple::UnknownEnvironment))
    return "";
  return "cannot generate code for '" + triple.str() +
         "': the cpu target builds Linux binaries for x86_64, aarch64, "
         "riscv64 and loongarch64 with glibc (e.g. "
         "--triple=aarch64-linux-gnu)";
}

llvm::Triple cpu::getTargetTriple() {
  std::string name = getCpuOptions().triple;
  return llvm::Triple(name.empty() ? llvm::sys::getDefaultTargetTriple()
                                   : llvm::Triple::normalize(name));
}

std::string cpu::getCrossTriple() {
  llvm::Triple triple = getTargetTriple();
  if (triple.getArch() == llvm::Triple(llvm::sys::getProcessTriple()).getArch())
    return "";
  return triple.getArchName().str() + "-linux-gnu";
}

/// This machine's features in -mattr syntax.
static std::string hostFeatures() {
  std::string features;
  for (const auto &feature : llvm::sys::getHostCPUFeatures()) {
    if (!features.empty())
      features += ',';
    features += (feature.second ? "+" : "-") + feature.first().str();
  }
  return features;
}

/// The largest `zvl<N>b` (RVV's guaranteed vector length) among the
/// subtarget's features; 0 without one.
static unsigned guaranteedRvvBits(const llvm::MCSubtargetInfo &subtarget) {
  for (unsigned bits = 65536; bits >= 32; bits /= 2)
    if (subtarget.checkFeatures("+zvl" + std::to_string(bits) + "b"))
      return bits;
  return 0;
}

std::unique_ptr<llvm::TargetMachine>
cpu::createTargetMachine(unsigned optLevel, std::string &error) {
  static std::once_flag initialized;
  std::call_once(initialized, [] {
    llvm::InitializeAllTargetInfos();
    llvm::InitializeAllTargets();
    llvm::InitializeAllTargetMCs();
    llvm::InitializeAllAsmPrinters();
    llvm::InitializeAllAsmParsers(); // inline assembly (VNNI, SDOT)
  });
  CpuOptions flags = getCpuOptions();
  llvm::Triple triple = getTargetTriple();
  error = checkTriple(triple);
  if (!error.empty())
    return nullptr;
  std::optional<Baseline> baseline = baselineOf(triple);
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target) {
    error = "no LLVM target for " + triple.str() + ": " + error;
    return nullptr;
  }
  // This machine's CPU and features by default, and for --cpu=native; the
  // triple's baseline for another architecture.
  bool host =
      triple.getArch() == llvm::Triple(llvm::sys::getProcessTriple()).getArch();
  std::string cpuName = flags.cpu;
  std::string features = baseline->features;
  if (host && (cpuName.empty() || cpuName == "native")) {
    if (cpuName == "native" || flags.features.empty())
      features = hostFeatures();
    cpuName = llvm::sys::getHostCPUName().str();
  } else if (cpuName.empty()) {
    cpuName = baseline->cpu;
  }
  if (!flags.features.empty())
    features += (features.empty() ? "" : ",") + flags.features;
  if (flags.vectorBits) {
    if (flags.vectorBits < 128 || flags.vectorBits > 2048 ||
        !llvm::isPowerOf2_32(flags.vectorBits)) {
      error = "--vector-bits must be a power of two from 128 to 2048";
      return nullptr;
    }
    // RVV states the length as a feature; SVE's is the functions'
    // vscale_range (serializeToObject).
    if (triple.getArch() == llvm::Triple::riscv64)
      features += ",+zvl" + std::to_string(flags.vectorBits) + "b";
  }

  static const llvm::CodeGenOptLevel levels[] = {
      llvm::CodeGenOptLevel::None, llvm::CodeGenOptLevel::Less,
      llvm::CodeGenOptLevel::Default, llvm::CodeGenOptLevel::Aggressive};
  llvm::TargetOptions targetOptions;
  targetOptions.MCOptions.ABIName = baseline->abi;
  targetOptions.UseInitArray = true; // constructors that glibc runs
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, cpuName, features, targetOptions, llvm::Reloc::PIC_, std::nullopt,
      levels[std::min(optLevel, 3u)]));
  if (!machine) {
    error = "cannot create an LLVM target machine for CPU '" + cpuName + "'";
    return nullptr;
  }
  const llvm::MCSubtargetInfo &subtarget = *machine->getMCSubtargetInfo();
  if (!subtarget.isCPUStringValid(cpuName)) {
    error = "unknown " + triple.getArchName().str() + " CPU '" + cpuName +
            "' (try " + baseline->examples + ")";
    return nullptr;
  }
  if (flags.vectorBits) {
    bool sve = triple.getArch() == llvm::Triple::aarch64 &&
               subtarget.checkFeatures("+sve");
    bool rvv = triple.getArch() == llvm::Triple::riscv64 &&
               subtarget.checkFeatures("+zve32f");
    if (!sve && !rvv) {
      error = "--vector-bits applies to SVE (aarch64, +sve) and RVV "
              "(riscv64, +v); CPU '" +
              cpuName + "' with these features has neither";
      return nullptr;
    }
  }
  return machine;
}

cpu::VectorIsa cpu::getVectorIsa(const TargetOptions &options) {
  std::string error;
  std::unique_ptr<llvm::TargetMachine> machine =
      createTargetMachine(options.optLevel, error);
  VectorIsa isa;
  if (!machine)
    return isa;
  const llvm::MCSubtargetInfo &subtarget = *machine->getMCSubtargetInfo();
  auto has = [&](llvm::StringRef features) {
    return subtarget.checkFeatures(features);
  };
  unsigned vectorBits = getCpuOptions().vectorBits;
  switch (machine->getTargetTriple().getArch()) {
  case llvm::Triple::x86_64:
    // 6 rows x 64 columns of accumulators with AVX-512 (24 of 32
    // registers), 6 x 16 with AVX2 (12 of 16).
    if (has("+avx512f,+fma"))
      isa = {16, 4, "", has("+avx512bw,+avx512bf16")};
    else if (has("+avx2,+fma"))
      isa = {8, 2, "", false};
    else
      return isa;
    isa.int8Dot = has("+avx512f,+avx512bw,+avx512vnni") ? "vpdpbusd"
                  : has("+avx2")                        ? "vpmaddubsw"
                                                        : "";
    return isa;
  case llvm::Triple::aarch64:
    // 32 registers of 128 bits (NEON), or of --vector-bits (SVE): 6 x 4
    // accumulators of up to 16 lanes.
    if (!has("+neon"))
      return isa;
    isa = {4, 4, has("+dotprod") ? "sdot" : "generic", false};
    if (vectorBits >= 256 && has("+sve"))
      isa.lanes = std::min(vectorBits, 512u) / 32;
    return isa;
  case llvm::Triple::riscv64:
    // 32 vector registers of at least VLEN bits, used at LMUL 1.
    if (!has("+zve32f"))
      return isa;
    isa = {
        std::min<int64_t>(std::max(guaranteedRvvBits(subtarget), 128u), 512) /
            32,
        4, "generic", false};
    return isa;
  case llvm::Triple::loongarch64:
    // 32 registers of 128 (LSX) or 256 (LASX) bits.
    if (has("+lasx"))
      return {8, 4, "generic", false};
    if (has("+lsx"))
      return {4, 4, "generic", false};
    return isa;
  default:
    return isa;
  }
}

cpu::SoftConversions cpu::getSoftConversions(const TargetOptions &options) {
  std::string error;
  std::unique_ptr<llvm::TargetMachine> machine =
      createTargetMachine(options.optLevel, error);
  if (!machine)
    return {};
  const llvm::MCSubtargetInfo &subtarget = *machine->getMCSubtargetInfo();
  switch (machine->getTargetTriple().getArch()) {
  case llvm::Triple::riscv64:
    return {!subtarget.checkFeatures("+zfhmin"),
            !subtarget.checkFeatures("+zfbfmin")};
  case llvm::Triple::loongarch64:
    return {true, true};
  default:
    return {};
  }
}

cpu::VectorRequirement
cpu::getVectorRequirement(const llvm::TargetMachine &machine) {
  const llvm::MCSubtargetInfo &subtarget = *machine.getMCSubtargetInfo();
  switch (machine.getTargetTriple().getArch()) {
  case llvm::Triple::aarch64:
    if (subtarget.checkFeatures("+sve"))
      return {"SVE", getCpuOptions().vectorBits};
    return {};
  case llvm::Triple::riscv64:
    if (subtarget.checkFeatures("+zve32f"))
      return {"V", std::max(guaranteedRvvBits(subtarget), 128u)};
    return {};
  default:
    return {};
  }
}
