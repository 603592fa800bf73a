//===- CudaOptions.cpp - The CUDA target's own flags ----------------------===//

#include "targets/cuda/CudaTarget.h"

#include "llvm/ADT/StringExtras.h"

#include <cstdlib>

namespace cl = llvm::cl;

cl::OptionCategory &moec::cuda::getCudaOptionCategory() {
  static cl::OptionCategory category("CUDA target (--target=cuda)");
  return category;
}

static cl::opt<std::string> archs(
    "cuda-archs",
    cl::desc("NVIDIA chips to assemble the kernels for, comma-separated "
             "(default sm_80,sm_90); the fatbin also holds each chip's PTX, "
             "which the driver compiles for newer chips"),
    cl::value_desc("sm_XX,..."), cl::init("sm_80,sm_90"),
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
