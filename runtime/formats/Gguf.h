//===- Gguf.h - Read GGUF files -------------------------------*- C++ -*-===//
//
// The GGUF container (ggml's docs/gguf.md, versions 2 and 3, little-endian):
// "GGUF", a version, the tensor and key-value counts, the key-value pairs
// (typed scalars, strings and arrays), the tensor infos (name, dims with
// ne0 the contiguous axis, ggml type, offset into the data section), then
// the data section at the file's alignment (`general.alignment`, default
// 32). Reading maps the file; keys, strings, arrays and tensors are views
// into the mapping. Every count, length, offset and size is checked against
// the bytes there are before anything is read or allocated.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_RUNTIME_FORMATS_GGUF_H
#define MOEC_RUNTIME_FORMATS_GGUF_H

#include "runtime/formats/MappedFile.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moec::rt {

/// The types of GGUF metadata values, by their numbers in the file.
enum class GgufValueType : uint32_t {
  UInt8 = 0,
  Int8 = 1,
  UInt16 = 2,
  Int16 = 3,
  UInt32 = 4,
  Int32 = 5,
  Float32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  UInt64 = 10,
  Int64 = 11,
  Float64 = 12,
};

/// A metadata value. Scalars are widened into the field of their kind;
/// a string and the elements of an array are views into the file.
struct GgufValue {
  GgufValueType type = GgufValueType::UInt8;
  uint64_t unsignedValue = 0; ///< UInt*, Bool
  int64_t signedValue = 0;    ///< Int*
  double floatValue = 0.0;    ///< Float*
  std::string_view string;    ///< String
  /// Array: the element type, the count, and the elements: raw
  /// little-endian bytes for numbers and bools, views for strings.
  GgufValueType elementType = GgufValueType::UInt8;
  uint64_t count = 0;
  const uint8_t *elements = nullptr;
  std::vector<std::string_view> strings;

  /// The value as an unsigned integer: an unsigned or a non-negative
  /// signed scalar; nullopt otherwise.
  std::optional<uint64_t> asUnsigned() const;
  /// The value as a float: any numeric scalar.
  std::optional<double> asFloat() const;
  /// Element i of a numeric array, as a float (i < count).
  double floatElement(uint64_t i) const;
};

struct GgufKeyValue {
  std::string_view key;
  GgufValue value;
};

/// ggml's tensor types that GGUF files name by number.
struct GgmlTypeInfo {
  uint32_t id;
  const char *name;
  /// Elements per block and the bytes of one block (1 and the element
  /// size for the plain types).
  uint32_t blockElements, blockBytes;
};

/// The ggml type numbered `id`; null for a number ggml does not define
/// (or no longer does).
const GgmlTypeInfo *ggmlType(uint32_t id);

struct GgufTensor {
  std::string_view name;
  uint32_t type = 0;
  /// ne0 first: ne0 is the contiguous axis, so a row-major [out, in]
  /// matrix has dims {in, out}.
  std::vector<uint64_t> dims;
  uint64_t elements = 0;
  /// Byte offset of the data from the start of the file, and its size.
  uint64_t offset = 0, size = 0;
};

struct GgufImage {
  uint32_t version = 0;
  uint64_t alignment = 32;
  /// Where the data section starts.
  uint64_t dataOffset = 0;
  std::vector<GgufKeyValue> metadata;
  std::vector<GgufTensor> tensors;

  const GgufValue *find(std::string_view key) const;
  const GgufTensor *findTensor(std::string_view name) const;
};

/// Parses and validates a complete GGUF image: the header, every key-value
/// pair and tensor info within the bytes, known value and tensor types,
/// dims whose element count fits and whose ne0 is a whole number of the
/// type's blocks, distinct keys and tensor names, aligned tensors inside
/// the data section that do not overlap. Returns false with a message in
/// `error` for any malformed input. The views in `image` point into
/// `data`.
bool parseGguf(const uint8_t *data, size_t size, GgufImage &image,
               std::string &error);

class GgufFile {
public:
  /// Maps and validates `path`; null with `error` set on failure.
  static std::unique_ptr<GgufFile> open(const std::string &path,
                                        std::string &error);

  const std::string &path() const { return file->path(); }
  const GgufImage &image() const { return parsed; }
  const uint8_t *data(const GgufTensor &tensor) const {
    return file->data() + tensor.offset;
  }

private:
  std::unique_ptr<MappedFile> file;
  GgufImage parsed;
};

} // namespace moec::rt

#endif // MOEC_RUNTIME_FORMATS_GGUF_H
