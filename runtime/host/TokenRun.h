//===- TokenRun.h - Running a decoder model on token ids --------*- C++ -*-===//
//
// A model with inputs `tokens` (int64 [T]) and `logit_rows` (int64 [1]:
// the last rows to compute logits for; 0 for all) and one output `logits`
// (float32 [rows, V]), whose position and KV caches are state, as moec
// builds from a checkpoint: --tokens ids.npy runs the ids as one prompt, --chunk N
// feeds them N at a time through the caches, --logits writes the rows (all,
// or the last one with --last-logits).
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_RUNTIME_HOST_TOKENRUN_H
#define MOEC_RUNTIME_HOST_TOKENRUN_H

#include "runtime/host/EntryCall.h"

#include <string>

namespace moec::rt {

/// Whether entry `entry` takes token ids and returns logits.
bool isTokenEntry(const EntrySpec &entry);
/// The index among a token entry's outputs of its logits, and the
/// vocabulary (the logits' second dimension).
size_t logitsOutput(const EntrySpec &entry);
int64_t logitsVocabulary(const EntrySpec &entry);

struct TokenRunOptions {
  std::string tokensFile;
  /// Empty: print a summary.
  std::string logitsFile;
  /// Tokens per call; 0: all at once.
  int64_t chunk = 0;
  bool lastOnly = false;
};

/// Reads the ids (int32 or int64, shape [T]), runs them through entry
/// `entry` chunk by chunk and writes the logits; exits with a message on
/// bad input.
void runTokens(const Model &model, size_t entry, const TokenRunOptions &options,
               std::vector<Descriptor> &weights, StateBuffers &state,
               const std::vector<std::pair<const void *, size_t>> &owned);

} // namespace moec::rt

#endif // MOEC_RUNTIME_HOST_TOKENRUN_H
