//===- Packager.h - Manifest and weights of every binary -------*- C++ -*-===//
//
// Every compiled model carries, beside its code, a JSON manifest (entry
// points with their inputs and outputs, persistent state, weights;
// runtime/host/Model.cpp reads it) and its weights: those
// under the embed threshold in one 64-byte aligned blob, the rest in
// OUT.weights.safetensors beside the binary, guarded by the checksum the
// manifest records. A target's `link` asks the packager for both and only
// decides how to place them in its artifact.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGET_PACKAGER_H
#define MOEC_TARGET_PACKAGER_H

#include "moec/Target/TargetBackend.h"
#include "runtime/formats/SafeTensors.h"

#include <string>
#include <vector>

namespace moec {

struct PackagedModel {
  /// The manifest, JSON.
  std::string manifest;
  /// The embedded weights, each at the 64-byte aligned offset the manifest
  /// gives.
  std::string embedded;
  /// The weights file's tensors (bytes owned by the context's weight
  /// store), and its checksum; empty when every weight is embedded.
  std::vector<rt::TensorToWrite> fileTensors;
  uint64_t checksum = 0;
  /// The weights file's name, beside the binary at options.outputPath.
  std::string weightsFileName;
};

/// Packages the lowered module (`moec.entries` and `moec.weights`, as
/// moe-weights-to-arguments records them; the state is collected from the
/// entries' values marked `state`); emits an error on the module when a
/// weight, a value type or a state cannot be packaged.
mlir::LogicalResult packageModel(mlir::ModuleOp module,
                                 const TargetOptions &options,
                                 PackagedModel &result);

/// Writes the weights file beside options.outputPath, when there is one.
mlir::LogicalResult writeWeightsFile(mlir::ModuleOp module,
                                     const TargetOptions &options,
                                     const PackagedModel &package);

} // namespace moec

#endif // MOEC_TARGET_PACKAGER_H
