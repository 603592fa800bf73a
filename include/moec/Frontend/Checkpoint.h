//===- Checkpoint.h - A Hugging Face checkpoint directory -------*- C++ -*-===//
//
// A checkpoint directory holds config.json and the weights in
// model.safetensors or in the shards model.safetensors.index.json names.
// Opening one parses the config (DecoderConfig.h), maps every shard into
// the weight store (no copy: the tensors stay in the user's files) and
// checks, before any IR is built, that every tensor the model reads is
// there with the shape the config implies and a dtype moec reads (F32,
// BF16, F16), naming the first that is not.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_FRONTEND_CHECKPOINT_H
#define MOEC_FRONTEND_CHECKPOINT_H

#include "moec/Frontend/DecoderConfig.h"

#include "llvm/ADT/SmallVector.h"

namespace moec {

class WeightStore;

/// One tensor a decoder reads: its checkpoint name and shape.
struct CheckpointTensor {
  std::string name;
  llvm::SmallVector<int64_t, 3> shape;
};

/// Every tensor a decoder of `config` reads, with the Hugging Face names of
/// its family, in model order.
std::vector<CheckpointTensor> getDecoderTensors(const DecoderConfig &config);

struct Checkpoint {
  std::string directory;
  DecoderConfig config;
  /// The safetensors files, in the order they were mapped.
  std::vector<std::string> files;
};

/// Opens the checkpoint in `directory` and registers its tensors in
/// `store`; the error names the file, key or tensor at fault.
llvm::Expected<Checkpoint> openCheckpoint(llvm::StringRef directory,
                                          WeightStore &store);

} // namespace moec

#endif // MOEC_FRONTEND_CHECKPOINT_H
