//===- SaveWeights.cpp - Write pass-created blobs to a file ---------------===//

#include "dialects/moe/Transforms/Passes.h"

#include "dialects/moe/IR/WeightFiles.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/SetVector.h"

namespace moec::moe {
#define GEN_PASS_DEF_MOESAVEWEIGHTS
#include "dialects/moe/Transforms/Passes.h.inc"
} // namespace moec::moe

using namespace mlir;
using namespace moec;
using namespace moec::moe;

namespace {
struct SaveWeightsPass
    : public moec::moe::impl::MoeSaveWeightsBase<SaveWeightsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    WeightStore &store =
        getContext().getOrLoadDialect<MoeDialect>()->getWeightStore();
    llvm::SetVector<StringRef> unsaved;
    module.walk([&](WeightOp op) {
      if (store.isUnsavedBlob(op.getKey()))
        unsaved.insert(op.getKey());
    });
    if (unsaved.empty())
      return;
    if (path.empty()) {
      module.emitError("moe-save-weights needs a 'path' for the ")
          << unsaved.size() << " weight(s) that exist only in memory";
      return signalPassFailure();
    }
    auto existing =
        module->getAttrOfType<ArrayAttr>(MoeDialect::kWeightFilesAttrName);
    // Overwriting a listed file would drop the weights it already holds.
    if (existing && llvm::is_contained(existing.getAsValueRange<StringAttr>(),
                                       StringRef(path))) {
      module.emitError("moe-save-weights: '")
          << path << "' already holds weights of this module; choose a new file";
      return signalPassFailure();
    }
    std::vector<std::string> keys(unsaved.begin(), unsaved.end());
    if (llvm::Error error =
            store.saveBlobs(keys, resolveWeightPath(module, path))) {
      module.emitError("cannot save weights: ")
          << llvm::toString(std::move(error));
      return signalPassFailure();
    }
    Builder builder(&getContext());
    SmallVector<Attribute> files;
    if (existing)
      files.append(existing.begin(), existing.end());
    files.push_back(builder.getStringAttr(path));
    module->setAttr(MoeDialect::kWeightFilesAttrName,
                    builder.getArrayAttr(files));
  }
};
} // namespace
