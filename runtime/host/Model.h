//===- Model.h - What a compiled model needs at run time --------*- C++ -*-===//
//
// The compiler embeds a JSON manifest in every binary (symbol
// moec_manifest) describing the model's entry points (their inputs and
// outputs), its persistent state and its weights, and an aligned
// blob of the small weights (moec_weights). Large weights live in a
// safetensors file beside the executable, checked against the manifest's
// checksum when mapped. docs/cpu-target.md has the manifest's fields.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_RUNTIME_HOST_MODEL_H
#define MOEC_RUNTIME_HOST_MODEL_H

#include "runtime/formats/DType.h"
#include "runtime/formats/SafeTensors.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace moec::rt {

struct TensorSpec {
  std::string name;
  DType dtype;
  /// -1 for a dynamic dimension.
  std::vector<int64_t> shape;
  /// For an entry's input or output: the state it reads or updates, or
  /// empty for a value the user passes or receives.
  std::string state;
};

/// One entry point: moec_entries[i] for the manifest's i-th entry.
struct EntrySpec {
  std::string name;
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  /// Indices into Model::weights, in argument order.
  std::vector<size_t> weights;
};

struct WeightSpec {
  TensorSpec tensor;
  uint64_t bytes = 0;
  /// Offset in the embedded blob, or -1 when the weight is in the file.
  int64_t embeddedOffset = -1;
  /// Share of the weight one token reads (top_k / E for expert stacks).
  double routedFraction = 1.0;
  const uint8_t *data = nullptr;
};

struct Model {
  std::string name;
  int64_t maxTokens = 0;
  /// The default of --ctx-size, when some state's first dimension is the
  /// context (a KV cache); 0 otherwise.
  int64_t context = 0;
  /// MoE layers that record a routing profile (moec --profile-routing).
  int64_t profiledLayers = 0;
  std::vector<EntrySpec> entries;
  /// Buffers that persist across calls (static shapes).
  std::vector<TensorSpec> state;
  std::vector<WeightSpec> weights;
  /// Files the compiler embedded beside the weights (the checkpoint's
  /// tokenizer.json and the other files of its text side): name, offset
  /// in the blob, bytes; `contents` once bound.
  struct EmbeddedFile {
    std::string name;
    uint64_t offset = 0, bytes = 0;
    std::string_view contents;
  };
  std::vector<EmbeddedFile> files;
  std::string weightsFile;
  std::string weightsChecksum;
  /// Keeps the weights file mapped.
  std::unique_ptr<SafeTensorsFile> mapped;
};

/// Parses the embedded manifest; checks every index and state name.
bool parseManifest(const std::string &text, Model &model, std::string &error);
/// Points every embedded file at its bytes in the blob.
bool bindEmbeddedFiles(Model &model, const uint8_t *blob, size_t blobSize,
                       std::string &error);
/// Points every weight at its bytes: the embedded blob, or the weights file
/// in `directory` (mapped; checksum, names, dtypes and shapes verified,
/// chunks hashed on the thread pool).
bool bindWeights(Model &model, const uint8_t *blob, size_t blobSize,
                 const std::string &directory, std::string &error);

} // namespace moec::rt

namespace moec::rt {
/// Gives the state's context-sized first dimension (-1 in the manifest)
/// `context` positions, in the state and in the entries that read or write
/// it.
void resolveContext(Model &model, int64_t context);
} // namespace moec::rt

#endif // MOEC_RUNTIME_HOST_MODEL_H
