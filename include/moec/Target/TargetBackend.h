//===- TargetBackend.h - The interface of every moec target ----*- C++ -*-===//
//
// A target turns the target-independent program (moe + upstream dialects,
// after moe-sparse-dispatch) into a standalone binary through a few small
// hooks: register what it needs (dialects, passes, its own flags), add
// passes before sparse dispatch, build its lowering pipeline, serialize the
// lowered module, link the artifact. The driver owns everything else
// (import, target-independent passes, flags, progress, errors), so a target
// is only the code that is specific to its hardware.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGET_TARGETBACKEND_H
#define MOEC_TARGET_TARGETBACKEND_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/CommandLine.h"

#include <cstdint>
#include <string>

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace moec {

/// What the driver asks a target for; each target documents which fields
/// it reads.
struct TargetOptions {
  /// 0..3, as -O0..-O3.
  unsigned optLevel = 2;
  /// Largest value a dynamic input dimension (the token count) may take.
  int64_t maxTokens = 512;
  /// Weights smaller than this are embedded in the binary; larger ones go
  /// to a weights file beside it.
  uint64_t embedMaxBytes = uint64_t(1) << 20;
  /// The file to produce (executable, object or IR).
  std::string outputPath;
  /// A short name for the model, used in the binary's messages.
  std::string modelName;
};

/// A lowered module translated to the target's own form.
struct SerializedModule {
  /// Human-readable target IR (LLVM IR, PTX, ...) for --emit=llvm.
  std::string targetIR;
  /// A relocatable object file for --emit=obj and for linking.
  std::string object;
};

class TargetBackend {
public:
  virtual ~TargetBackend();

  /// The name --target= selects.
  virtual llvm::StringRef getName() const = 0;
  /// One line for `moec --list-targets`.
  virtual llvm::StringRef getDescription() const = 0;

  /// Dialects the lowering pipeline creates.
  virtual void registerDialects(mlir::DialectRegistry &registry) const {}
  /// Makes the target's passes available by name (moec-opt, pipelines).
  virtual void registerPasses() const {}
  /// The category of the target's own command-line flags (cl::opt objects
  /// the target defines with cl::cat), which `moec --help` lists; null when
  /// it has none. Generic options stay in TargetOptions.
  virtual llvm::cl::OptionCategory *getOptionCategory() const {
    return nullptr;
  }

  /// Appends passes that run on the moe ops before moe-sparse-dispatch
  /// (after quantization), e.g. to fix shapes a static-shape accelerator
  /// needs there. Default: none.
  virtual void buildPreDispatchPipeline(mlir::OpPassManager &pm,
                                        const TargetOptions &options) const {}

  /// Appends the lowering from target-independent IR to the form
  /// `serialize` accepts.
  virtual void buildLoweringPipeline(mlir::OpPassManager &pm,
                                     const TargetOptions &options) const = 0;
  /// Translates the lowered module; emits an error on the module and fails
  /// when something cannot be translated.
  virtual mlir::LogicalResult serialize(mlir::ModuleOp module,
                                        const TargetOptions &options,
                                        SerializedModule &result) const = 0;
  /// Links the serialized module, the target's runtime and the weights into
  /// the standalone binary at options.outputPath. Writes nothing there on
  /// failure.
  virtual mlir::LogicalResult link(mlir::ModuleOp module,
                                   const SerializedModule &serialized,
                                   const TargetOptions &options) const = 0;
};

} // namespace moec

#endif // MOEC_TARGET_TARGETBACKEND_H
