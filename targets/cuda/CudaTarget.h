//===- CudaTarget.h - The CUDA target's serialization and link --*- C++ -*-===//

#ifndef MOEC_TARGETS_CUDA_CUDATARGET_H
#define MOEC_TARGETS_CUDA_CUDATARGET_H

#include "moec/Target/TargetBackend.h"

#include "llvm/Support/CommandLine.h"

#include <string>
#include <vector>

namespace moec::cuda {

/// The target's own flags (`moec --help`, "CUDA target").
llvm::cl::OptionCategory &getCudaOptionCategory();

struct CudaOptions {
  /// Chips to assemble kernels for (--cuda-archs), e.g. sm_80, sm_90.
  std::vector<std::string> chips;
  /// The toolkit holding ptxas, fatbinary and libdevice (--cuda-toolkit).
  std::string toolkit;
  /// Kernels as host loops, for tests without a GPU (--cuda-emulate-kernels).
  bool emulateKernels = false;
};
CudaOptions getCudaOptions();

/// The host code (with the kernels' fatbin embedded) as an x86-64 object,
/// its LLVM IR and the kernels' PTX as target IR.
mlir::LogicalResult serializeHost(mlir::ModuleOp module,
                                  const TargetOptions &options,
                                  SerializedModule &result);

} // namespace moec::cuda

#endif // MOEC_TARGETS_CUDA_CUDATARGET_H
