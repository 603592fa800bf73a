//===- CheckpointImporter.h - A checkpoint as a model function --*- C++ -*-===//
//
// Builds the forward pass of a Hugging Face checkpoint (Checkpoint.h) as
//
//   func.func @main(%tokens: tensor<?xi64>) -> tensor<?xVxf32>
//
// the logits of the ids run as one causal prompt from position 0, from
// decoder ops (embedding, rms_norm, rope, attention), linalg matmuls, and
// moe.router + moe.experts for the MoE layers. Weights are moe.weight ops
// naming the checkpoint's tensors, which stay in its files; the routed
// experts' per-expert tensors are stacked into one [E, N, K] weight each
// (a blob in the weight store, in the checkpoint's dtype). docs/models.md
// describes the families and what is read from config.json.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_FRONTEND_CHECKPOINTIMPORTER_H
#define MOEC_FRONTEND_CHECKPOINTIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace moec {

/// Whether `path` is a directory holding config.json.
bool isCheckpointDirectory(llvm::StringRef path);

/// Imports the checkpoint in `directory`. Returns null after emitting an
/// error on the context when it cannot be read or built.
mlir::OwningOpRef<mlir::ModuleOp> importCheckpoint(mlir::MLIRContext *context,
                                                   llvm::StringRef directory);

} // namespace moec

#endif // MOEC_FRONTEND_CHECKPOINTIMPORTER_H
