//===- CudaOptions.cpp - The CUDA target's own flags ----------------------===//

#include "targets/cuda/CudaTarget.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

namespace cl = llvm::cl;

cl::OptionCategory &moec::cuda::getCudaOptionCategory() {
  static cl::OptionCategory category("CUDA target (--target=cuda)");
  return category;
}

/// Exits with status 2 unless every name of `list` is a chip CUDA 13's
/// ptxas assembles for: sm_75 or newer, an optional a/f suffix.
static void checkChips(const std::string &list) {
  llvm::SmallVector<llvm::StringRef> names;
  llvm::StringRef(list).split(names, ',', -1, /*KeepEmpty=*/false);
  for (llvm::StringRef name : names) {
    llvm::StringRef number = name.trim();
    unsigned value = 0;
    if (number.consume_front("sm_")) {
      number.consume_back("a") || number.consume_back("f");
      if (!number.getAsInteger(10, value) && value >= 75)
        continue;
    }
    llvm::errs() << "moec: error: --cuda-archs: '" << name
                 << "' is not an NVIDIA chip the toolkit assembles for "
                    "(sm_75 or newer, e.g. sm_80, sm_90, sm_90a)\n";
    std::exit(2);
  }
  if (names.empty()) {
    llvm::errs() << "moec: error: --cuda-archs names no chip\n";
    std::exit(2);
  }
}

static cl::opt<std::string> archs(
    "cuda-archs",
    cl::desc("NVIDIA chips to assemble the kernels for, comma-separated "
             "(default sm_80,sm_90); the fatbin also holds each chip's PTX, "
             "which the driver compiles for newer chips"),
    cl::value_desc("sm_XX,..."), cl::init("sm_80,sm_90"),
    cl::callback([](const std::string &list) { checkChips(list); }),
    cl::cat(moec::cuda::getCudaOptionCategory()));
static cl::opt<std::string> toolkit(
    "cuda-toolkit",
    cl::desc("CUDA toolkit with bin/ptxas, bin/fatbinary and "
             "nvvm/libdevice (default: $CUDA_PATH, else /usr/local/cuda)"),
    cl::value_desc("DIR"), cl::cat(moec::cuda::getCudaOptionCategory()));

static cl::opt<bool> emulateKernels(
    "cuda-emulate-kernels",
    cl::desc("Run the kernels as loops on the host, with the binary's device "
             "copies and host runtime unchanged: for tests without a GPU, "
             "with a driver that emulates device memory "
             "(test/targets/cuda/Inputs/fake_libcuda.c)"),
    cl::Hidden, cl::cat(moec::cuda::getCudaOptionCategory()));

moec::cuda::CudaOptions moec::cuda::getCudaOptions() {
  CudaOptions options;
  options.emulateKernels = emulateKernels;
  llvm::SmallVector<llvm::StringRef> names;
  llvm::StringRef(archs).split(names, ',', -1, /*KeepEmpty=*/false);
  for (llvm::StringRef name : names)
    options.chips.push_back(name.trim().str());
  options.toolkit = toolkit;
  if (options.toolkit.empty()) {
    const char *env = std::getenv("CUDA_PATH");
    options.toolkit = env && *env ? env : "/usr/local/cuda";
  }
  return options;
}
