//===- EntryCall.h - Calling an entry point of the model --------*- C++ -*-===//
//
// One call of moec_entries[i] as include/moec/Runtime/BinaryAbi.h defines
// it: memref descriptors for the user's inputs, the model's state buffers
// and the weights in the entry's argument order, result descriptors read
// back, and state results copied into the state buffers, which persist
// from one call to the next.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_RUNTIME_HOST_ENTRYCALL_H
#define MOEC_RUNTIME_HOST_ENTRYCALL_H

#include "runtime/host/Model.h"

#include <cstdint>
#include <utility>
#include <vector>

namespace moec::rt {

/// An MLIR memref descriptor of any rank: allocated and aligned pointers,
/// offset, then rank sizes and rank strides (all 64-bit).
struct Descriptor {
  std::vector<int64_t> words;
  /// A contiguous, row-major view of `data`.
  static Descriptor make(const void *data, const std::vector<int64_t> &shape);
};

/// An output of one call, in memory the model allocated (or an input, a
/// weight or a state buffer it returned as it is).
struct Result {
  DType dtype;
  std::vector<int64_t> shape;
  const uint8_t *data;
  void *allocated;
  size_t bytes;
};

/// The model's state: one zeroed, 64-byte aligned buffer per manifest
/// state, alive as long as this object.
class StateBuffers {
public:
  explicit StateBuffers(const Model &model);
  ~StateBuffers();
  StateBuffers(const StateBuffers &) = delete;
  StateBuffers &operator=(const StateBuffers &) = delete;

  /// Zeroes every buffer: the state a model starts from.
  void clear();
  /// The buffer of the state named `name` (which the manifest lists).
  uint8_t *data(const std::string &name) const;
  /// [begin, size) of every buffer, for telling borrowed results apart.
  std::vector<std::pair<const void *, size_t>> ranges() const;

private:
  const Model &model;
  std::vector<uint8_t *> buffers;
};

/// Calls entry `entry` with `inputs` (one descriptor per input the user
/// passes, in order), the state and `weights` (one descriptor per model
/// weight). Copies each state result into its buffer. Returns every
/// output, state ones included; release them with releaseResults.
std::vector<Result> callEntry(const Model &model, size_t entry,
                              std::vector<Descriptor> &inputs,
                              std::vector<Descriptor> &weights,
                              StateBuffers &state);

/// Frees what the model allocated for `results`; memory inside `owned`
/// (inputs, weights, state) was not allocated by the model.
void releaseResults(std::vector<Result> &results,
                    const std::vector<std::pair<const void *, size_t>> &owned);

} // namespace moec::rt

#endif // MOEC_RUNTIME_HOST_ENTRYCALL_H
