//===- BundleFatbin.cpp - One fatbin per kernel module --------------------===//
//
// gpu-module-to-binary{format=isa} leaves one PTX object per chip in each
// gpu.binary, and the upstream embedding (#gpu.select_object) would keep
// only the first. Here ptxas assembles each chip's PTX and the toolkit's
// fatbinary bundles the cubins with the PTX into one image, which the
// driver searches for the device's chip when it loads the module.
//
//===----------------------------------------------------------------------===//

#include "targets/cuda/Passes.h"

#include "moec/Target/LinkSupport.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

namespace moec::cuda {
#define GEN_PASS_DEF_CUDABUNDLEFATBIN
#include "targets/cuda/Passes.h.inc"
} // namespace moec::cuda

using namespace mlir;
using namespace moec;

namespace {
struct CudaBundleFatbinPass
    : public cuda::impl::CudaBundleFatbinBase<CudaBundleFatbinPass> {
  using CudaBundleFatbinBase::CudaBundleFatbinBase;

  std::string tool(StringRef name) const {
    llvm::SmallString<128> path(toolkit);
    llvm::sys::path::append(path, "bin", name);
    return path.str().str();
  }

  LogicalResult bundle(gpu::BinaryOp binary) {
    ScratchDirectory scratch;
    if (failed(scratch.create(binary, "moec-cuda")))
      return failure();
    std::vector<std::string> fatbinArgs = {"-64", "--compress-all"};
    SmallVector<Attribute> sources;
    Attribute firstTarget;
    for (auto [i, attr] : llvm::enumerate(binary.getObjects())) {
      auto object = cast<gpu::ObjectAttr>(attr);
      auto target = dyn_cast<NVVM::NVVMTargetAttr>(object.getTarget());
      if (!target || object.getFormat() != gpu::CompilationTarget::Assembly)
        return binary.emitError("expected the PTX of an #nvvm.target, from "
                                "gpu-module-to-binary{format=isa}");
      StringRef chip = target.getChip();
      if (!chip.consume_front("sm_"))
        return binary.emitError("not an NVIDIA chip name: ")
               << target.getChip();
      if (!firstTarget)
        firstTarget = target;
      sources.push_back(object.getObject());
      std::string stem = binary.getSymName().str() + "_" + std::to_string(i);
      std::string ptx = scratch.path(stem + ".ptx");
      std::string cubin = scratch.path(stem + ".cubin");
      if (failed(writeFile(binary, ptx, object.getObject().getValue())) ||
          failed(runTool(binary, tool("ptxas"),
                         {"-arch=sm_" + chip.str(), "-O3", ptx, "-o", cubin},
                         scratch.path(stem + ".log"))))
        return failure();
      fatbinArgs.push_back("--image3=kind=elf,sm=" + chip.str() +
                           ",file=" + cubin);
      fatbinArgs.push_back("--image3=kind=ptx,sm=" + chip.str() +
                           ",file=" + ptx);
    }
    if (!firstTarget)
      return binary.emitError("the kernel module has no chip to compile for");
    std::string fatbin = scratch.path("kernels.fatbin");
    fatbinArgs.push_back("--create=" + fatbin);
    if (failed(runTool(binary, tool("fatbinary"), fatbinArgs,
                       scratch.path("fatbinary.log"))))
      return failure();
    auto bytes = llvm::MemoryBuffer::getFile(fatbin, /*IsText=*/false);
    if (!bytes)
      return binary.emitError("cannot read the fatbin ") << fatbin;
    MLIRContext *context = &getContext();
    auto object = gpu::ObjectAttr::get(
        context, firstTarget, gpu::CompilationTarget::Fatbin,
        StringAttr::get(context, (*bytes)->getBuffer()), nullptr, nullptr);
    binary.setObjectsAttr(ArrayAttr::get(context, {object}));
    // Kept for --emit=llvm, which shows the kernels' PTX.
    binary->setAttr("moec.ptx", ArrayAttr::get(context, sources));
    return success();
  }

  void runOnOperation() override {
    for (auto binary : llvm::to_vector(getOperation().getOps<gpu::BinaryOp>()))
      if (failed(bundle(binary)))
        return signalPassFailure();
  }
};
} // namespace
