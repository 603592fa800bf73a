//===- CheckpointImporter.h - A checkpoint as a model function --*- C++ -*-===//
//
// Builds the forward pass of a Hugging Face checkpoint (Checkpoint.h) as
//
//   func.func @main(%tokens: tensor<?xi64>, %position: tensor<1xi64>,
//                   %k_cache.0, %v_cache.0, ...) -> (logits [T, V],
//                   position, caches...)
//
// the logits of the ids, which continue the sequence at `position`; the
// position and each layer's key and value caches [context, heads, dim] in
// f32, f16 or bf16 (with MLA compressed, one latent cache [context, 1,
// rope + latent]) are
// state (moec.state), which the binary keeps from call to call, so that a
// prompt may be fed whole or a few tokens at a time. It is built from
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

#include "moec/Frontend/DecoderConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace moec {

/// Whether `path` is a directory holding config.json.
bool isCheckpointDirectory(llvm::StringRef path);

/// How DeepSeek's multi-head latent attention is computed and cached.
enum class MlaForm {
  /// Compressed where its cache reads fewer bytes per position.
  Auto,
  /// One latent vector per position, kv_b_proj absorbed into the query and
  /// the output.
  Compressed,
  /// Every head's keys and values, as Hugging Face caches them.
  Decompressed,
};

/// The element type the KV cache holds.
enum class KvCacheType { F32, F16, BF16 };

/// Whether MLA's compressed cache ([rope | latent] per position) is smaller
/// than its decompressed keys and values for every head.
bool compressedMlaReadsFewerBytes(const AttentionConfig &attention);

struct CheckpointImportOptions {
  /// Positions the KV cache holds; 0: min(max_position_embeddings, 4096).
  int64_t contextSize = 0;
  /// Embed the checkpoint's tokenizer files, when it has tokenizer.json,
  /// so that the binary takes text.
  bool embedTokenizer = true;
  MlaForm mla = MlaForm::Auto;
  /// The KV cache's element type: f32, or f16 / bf16 (half the bytes per
  /// position; keys and values rounded as they are written).
  KvCacheType kvCache = KvCacheType::F32;
};

/// Imports the checkpoint in `directory`. Returns null after emitting an
/// error on the context when it cannot be read or built.
mlir::OwningOpRef<mlir::ModuleOp>
importCheckpoint(mlir::MLIRContext *context, llvm::StringRef directory,
                 const CheckpointImportOptions &options = {});

} // namespace moec

#endif // MOEC_FRONTEND_CHECKPOINTIMPORTER_H
