//===- WeightStore.h - Weights referenced by key, not embedded --*- C++ -*-===//
//
// A model's weights never become MLIR attributes beyond a small size: IR names
// a weight by key (`moe.weight "key"`), and a WeightStore maps keys to bytes.
// Bytes come from mapped files (safetensors) or from blobs that passes create
// (pruning, merging, quantization). Storage is never copied: file-backed
// weights are views into a read-only mapping, so compile time and memory do
// not grow with model size.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_SUPPORT_WEIGHTSTORE_H
#define MOEC_SUPPORT_WEIGHTSTORE_H

#include "runtime/formats/DType.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace moec {

/// Constants smaller than this may stay inline in IR as dense attributes;
/// anything at least this large lives in a WeightStore.
constexpr uint64_t kInlineWeightMaxBytes = uint64_t(1) << 20;

/// A read-only view of one weight. Valid as long as its store.
struct WeightView {
  rt::DType dtype;
  llvm::ArrayRef<int64_t> shape;
  llvm::ArrayRef<uint8_t> bytes;
  /// The file holding the bytes, or empty for a blob not yet saved.
  llvm::StringRef file;
};

/// A weight's bytes in pieces (see WeightStore::lookupPieces).
struct WeightPieces {
  rt::DType dtype;
  llvm::ArrayRef<int64_t> shape;
  std::vector<WeightView> pieces;
  uint64_t size = 0;
};

class WeightStore {
public:
  WeightStore();
  ~WeightStore();
  WeightStore(const WeightStore &) = delete;
  WeightStore &operator=(const WeightStore &) = delete;

  /// Maps a safetensors file and makes each of its tensors a weight keyed by
  /// the tensor's name. Adding a file that is already mapped does nothing.
  /// Fails, adding nothing, when the file is missing or malformed or when one
  /// of its keys is already provided by another source.
  llvm::Error addSafeTensorsFile(llvm::StringRef path);

  /// Serves `key` from bytes [offset, offset + size of `shape`) of a raw
  /// file (an ONNX external-data file), mapped once however many weights
  /// it holds. Adding the same range again does nothing. Fails, adding
  /// nothing, when the file is missing, the range runs past its end, or
  /// `key` already names other bytes.
  llvm::Error addFileRange(llvm::StringRef key, llvm::StringRef path,
                           uint64_t offset, rt::DType dtype,
                           llvm::ArrayRef<int64_t> shape);

  /// Takes ownership of bytes a pass created and returns the new weight's
  /// key: `keyHint` itself when free, else `keyHint` with a numeric suffix.
  /// `bytes` must hold exactly the elements of `shape`.
  std::string addBlob(llvm::StringRef keyHint, rt::DType dtype,
                      llvm::ArrayRef<int64_t> shape,
                      std::vector<uint8_t> bytes);

  /// A weight whose bytes are those of the weights `parts` (one dtype and
  /// shape S) one after another, of shape [parts.size(), S...]: stacked
  /// experts. Nothing is copied until lookup() needs the bytes in one
  /// piece; lookupPieces() never copies. Fails naming a missing or
  /// mismatched part.
  llvm::Expected<std::string> addStack(llvm::StringRef keyHint,
                                       llvm::ArrayRef<std::string> parts);

  /// The weight named `key`, or an error naming the key. A stack is joined
  /// into memory on its first lookup.
  llvm::Expected<WeightView> lookup(llvm::StringRef key) const;
  /// The weight's bytes as pieces in order, never copied: one piece, or a
  /// stack's parts. Each piece names the file it maps (empty for memory).
  llvm::Expected<WeightPieces> lookupPieces(llvm::StringRef key) const;
  bool contains(llvm::StringRef key) const;
  /// True for a blob held in memory that no file contains yet.
  bool isUnsavedBlob(llvm::StringRef key) const;

  /// Writes the unsaved blobs `keys` to a new safetensors file at `path`
  /// (atomically), then serves them from that file and frees their memory.
  llvm::Error saveBlobs(llvm::ArrayRef<std::string> keys, llvm::StringRef path);

  /// Number of weights the store can serve.
  size_t size() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl;
};

} // namespace moec

#endif // MOEC_SUPPORT_WEIGHTSTORE_H
