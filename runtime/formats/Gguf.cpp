//===- Gguf.cpp - Read GGUF files -----------------------------------------===//

#include "runtime/formats/Gguf.h"

#include <algorithm>
#include <limits>
#include <unordered_set>

namespace moec::rt {
namespace {

/// ggml's types (ggml.h's enum ggml_type and the block structs of
/// ggml-common.h). The numbers ggml removed (4, 5, 31-33, 36-38) are absent.
constexpr GgmlTypeInfo kGgmlTypes[] = {
    {0, "F32", 1, 4},         {1, "F16", 1, 2},
    {2, "Q4_0", 32, 18},      {3, "Q4_1", 32, 20},
    {6, "Q5_0", 32, 22},      {7, "Q5_1", 32, 24},
    {8, "Q8_0", 32, 34},      {9, "Q8_1", 32, 36},
    {10, "Q2_K", 256, 84},    {11, "Q3_K", 256, 110},
    {12, "Q4_K", 256, 144},   {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210},   {15, "Q8_K", 256, 292},
    {16, "IQ2_XXS", 256, 66}, {17, "IQ2_XS", 256, 74},
    {18, "IQ3_XXS", 256, 98}, {19, "IQ1_S", 256, 50},
    {20, "IQ4_NL", 32, 18},   {21, "IQ3_S", 256, 110},
    {22, "IQ2_S", 256, 82},   {23, "IQ4_XS", 256, 136},
    {24, "I8", 1, 1},         {25, "I16", 1, 2},
    {26, "I32", 1, 4},        {27, "I64", 1, 8},
    {28, "F64", 1, 8},        {29, "IQ1_M", 256, 56},
    {30, "BF16", 1, 2},       {34, "TQ1_0", 256, 54},
    {35, "TQ2_0", 256, 66},   {39, "MXFP4", 32, 17},
};

/// GGUF's limit on dims per tensor (GGML_MAX_DIMS).
constexpr uint32_t kMaxDims = 4;
/// The smallest encodings, to bound counts by the bytes left: a key-value
/// pair (8-byte length, 1-byte key, type, 1-byte value) and a tensor info
/// (8-byte length, 1-byte name, dim count, one dim, type, offset).
constexpr uint64_t kMinKeyValueBytes = 8 + 1 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 8 + 4 + 8;
/// Entries reserved ahead of reading them: beyond this, lists grow with
/// what the file really holds.
constexpr uint64_t kReserveLimit = 1 << 12;

/// Bytes of one element of a scalar value type; 0 for String and Array.
uint64_t scalarBytes(GgufValueType type) {
  switch (type) {
  case GgufValueType::UInt8:
  case GgufValueType::Int8:
  case GgufValueType::Bool:
    return 1;
  case GgufValueType::UInt16:
  case GgufValueType::Int16:
    return 2;
  case GgufValueType::UInt32:
  case GgufValueType::Int32:
  case GgufValueType::Float32:
    return 4;
  case GgufValueType::UInt64:
  case GgufValueType::Int64:
  case GgufValueType::Float64:
    return 8;
  case GgufValueType::String:
  case GgufValueType::Array:
    return 0;
  }
  return 0;
}

bool isValueType(uint32_t type) { return type <= 12; }

template <typename T> T readLittle(const uint8_t *at) {
  T value;
  std::memcpy(&value, at, sizeof(T)); // GGUF and every target: little-endian
  return value;
}

/// Decodes one scalar of `type` at `at` into `value`, type included.
void decodeScalar(GgufValueType type, const uint8_t *at, GgufValue &value) {
  value.type = type;
  switch (type) {
  case GgufValueType::UInt8:
    value.unsignedValue = at[0];
    break;
  case GgufValueType::Bool:
    value.unsignedValue = at[0] != 0;
    break;
  case GgufValueType::Int8:
    value.signedValue = int8_t(at[0]);
    break;
  case GgufValueType::UInt16:
    value.unsignedValue = readLittle<uint16_t>(at);
    break;
  case GgufValueType::Int16:
    value.signedValue = readLittle<int16_t>(at);
    break;
  case GgufValueType::UInt32:
    value.unsignedValue = readLittle<uint32_t>(at);
    break;
  case GgufValueType::Int32:
    value.signedValue = readLittle<int32_t>(at);
    break;
  case GgufValueType::Float32:
    value.floatValue = readLittle<float>(at);
    break;
  case GgufValueType::UInt64:
    value.unsignedValue = readLittle<uint64_t>(at);
    break;
  case GgufValueType::Int64:
    value.signedValue = readLittle<int64_t>(at);
    break;
  case GgufValueType::Float64:
    value.floatValue = readLittle<double>(at);
    break;
  case GgufValueType::String:
  case GgufValueType::Array:
    break;
  }
}

/// A cursor over the image that refuses to read past its end.
class Reader {
public:
  Reader(const uint8_t *data, size_t size) : data(data), size(size) {}

  uint64_t position() const { return at; }
  uint64_t left() const { return size - at; }

  bool bytes(uint64_t count, const uint8_t *&out) {
    if (count > left())
      return false;
    out = data + at;
    at += count;
    return true;
  }
  template <typename T> bool number(T &out) {
    const uint8_t *p;
    if (!bytes(sizeof(T), p))
      return false;
    out = readLittle<T>(p);
    return true;
  }
  bool string(std::string_view &out) {
    uint64_t length;
    const uint8_t *p;
    if (!number(length) || !bytes(length, p))
      return false;
    out = std::string_view(reinterpret_cast<const char *>(p), length);
    return true;
  }

private:
  const uint8_t *data;
  uint64_t size, at = 0;
};

std::string quoted(std::string_view text) {
  constexpr size_t kShown = 80;
  std::string shown(text.substr(0, kShown));
  for (char &c : shown)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      c = '?';
  return "'" + shown + (text.size() > kShown ? "...'" : "'");
}

/// Reads the value of key `key` (its type already read as `type`).
bool readValue(Reader &in, std::string_view key, uint32_t type,
               GgufValue &value, std::string &error) {
  auto truncated = [&] {
    error = "the value of " + quoted(key) + " runs past the end of the file";
    return false;
  };
  if (!isValueType(type)) {
    error = "key " + quoted(key) + " has value type " + std::to_string(type) +
            ", which GGUF does not define";
    return false;
  }
  value.type = GgufValueType(type);
  if (value.type == GgufValueType::String)
    return in.string(value.string) || truncated();
  if (value.type != GgufValueType::Array) {
    const uint8_t *p;
    if (!in.bytes(scalarBytes(value.type), p))
      return truncated();
    decodeScalar(value.type, p, value);
    return true;
  }
  uint32_t elementType;
  if (!in.number(elementType) || !in.number(value.count))
    return truncated();
  if (!isValueType(elementType)) {
    error = "array " + quoted(key) + " has element type " +
            std::to_string(elementType) + ", which GGUF does not define";
    return false;
  }
  value.elementType = GgufValueType(elementType);
  if (value.elementType == GgufValueType::Array) {
    error = "array " + quoted(key) + " holds arrays, which moec does not read";
    return false;
  }
  if (value.elementType == GgufValueType::String) {
    // Each string takes at least its 8-byte length; the views grow with
    // the strings read, not with the count the file claims.
    if (value.count > in.left() / 8)
      return truncated();
    value.strings.reserve(std::min<uint64_t>(value.count, kReserveLimit));
    for (uint64_t i = 0; i < value.count; ++i) {
      std::string_view s;
      if (!in.string(s))
        return truncated();
      value.strings.push_back(s);
    }
    return true;
  }
  uint64_t elementBytes = scalarBytes(value.elementType);
  if (value.count > in.left() / elementBytes)
    return truncated();
  return in.bytes(value.count * elementBytes, value.elements) || truncated();
}

bool readTensorInfo(Reader &in, GgufTensor &tensor, std::string &error) {
  auto truncated = [&] {
    error = "the info of tensor " + quoted(tensor.name) +
            " runs past the end of the file";
    return false;
  };
  if (!in.string(tensor.name)) {
    error = "a tensor name runs past the end of the file";
    return false;
  }
  if (tensor.name.empty()) {
    error = "a tensor has an empty name";
    return false;
  }
  uint32_t dimCount;
  if (!in.number(dimCount))
    return truncated();
  if (dimCount == 0 || dimCount > kMaxDims) {
    error = "tensor " + quoted(tensor.name) + " has " +
            std::to_string(dimCount) + " dims (GGUF allows 1 to 4)";
    return false;
  }
  tensor.dims.resize(dimCount);
  tensor.elements = 1;
  constexpr uint64_t kMaxElements = std::numeric_limits<int64_t>::max();
  for (uint64_t &dim : tensor.dims) {
    if (!in.number(dim))
      return truncated();
    if (dim > kMaxElements ||
        (dim != 0 && tensor.elements > kMaxElements / dim)) {
      error = "tensor " + quoted(tensor.name) +
              "'s dims overflow a 64-bit element count";
      return false;
    }
    tensor.elements *= dim;
  }
  if (!in.number(tensor.type) || !in.number(tensor.offset))
    return truncated();
  const GgmlTypeInfo *type = ggmlType(tensor.type);
  if (!type) {
    error = "tensor " + quoted(tensor.name) + " has ggml type " +
            std::to_string(tensor.type) + ", which ggml does not define";
    return false;
  }
  if (tensor.dims[0] % type->blockElements != 0) {
    error = "tensor " + quoted(tensor.name) + " of type " + type->name +
            " has " + std::to_string(tensor.dims[0]) +
            " elements per row, not a multiple of its " +
            std::to_string(type->blockElements) + "-element blocks";
    return false;
  }
  // elements / blockElements blocks of blockBytes each: below 2^63 * 9.
  uint64_t blocks = tensor.elements / type->blockElements;
  if (blocks > std::numeric_limits<uint64_t>::max() / type->blockBytes) {
    error = "tensor " + quoted(tensor.name) + "'s size overflows 64 bits";
    return false;
  }
  tensor.size = blocks * type->blockBytes;
  return true;
}

} // namespace

std::optional<uint64_t> GgufValue::asUnsigned() const {
  switch (type) {
  case GgufValueType::UInt8:
  case GgufValueType::UInt16:
  case GgufValueType::UInt32:
  case GgufValueType::UInt64:
    return unsignedValue;
  case GgufValueType::Int8:
  case GgufValueType::Int16:
  case GgufValueType::Int32:
  case GgufValueType::Int64:
    if (signedValue >= 0)
      return uint64_t(signedValue);
    return std::nullopt;
  default:
    return std::nullopt;
  }
}

std::optional<double> GgufValue::asFloat() const {
  if (type == GgufValueType::Float32 || type == GgufValueType::Float64)
    return floatValue;
  if (type == GgufValueType::Int8 || type == GgufValueType::Int16 ||
      type == GgufValueType::Int32 || type == GgufValueType::Int64)
    return double(signedValue);
  if (std::optional<uint64_t> u = asUnsigned())
    return double(*u);
  return std::nullopt;
}

double GgufValue::floatElement(uint64_t i) const {
  GgufValue element;
  decodeScalar(elementType, elements + i * scalarBytes(elementType), element);
  return element.asFloat().value_or(0.0);
}

const GgmlTypeInfo *ggmlType(uint32_t id) {
  for (const GgmlTypeInfo &type : kGgmlTypes)
    if (type.id == id)
      return &type;
  return nullptr;
}

const GgufValue *GgufImage::find(std::string_view key) const {
  for (const GgufKeyValue &entry : metadata)
    if (entry.key == key)
      return &entry.value;
  return nullptr;
}

const GgufTensor *GgufImage::findTensor(std::string_view name) const {
  for (const GgufTensor &tensor : tensors)
    if (tensor.name == name)
      return &tensor;
  return nullptr;
}

bool parseGguf(const uint8_t *data, size_t size, GgufImage &image,
               std::string &error) {
  image = GgufImage();
  Reader in(data, size);
  const uint8_t *magic;
  if (!in.bytes(4, magic) || std::memcmp(magic, "GGUF", 4) != 0) {
    error = "not a GGUF file (no 'GGUF' magic)";
    return false;
  }
  uint64_t tensorCount, keyCount;
  if (!in.number(image.version) || !in.number(tensorCount) ||
      !in.number(keyCount)) {
    error = "the header runs past the end of the file";
    return false;
  }
  if (image.version != 2 && image.version != 3) {
    // A big-endian file's version 3 reads as 0x03000000 here.
    error = (image.version & 0xffff) == 0 && image.version != 0
                ? std::string("a big-endian GGUF file (moec reads "
                              "little-endian ones)")
                : "GGUF version " + std::to_string(image.version) +
                      " (moec reads versions 2 and 3)";
    return false;
  }
  if (keyCount > in.left() / kMinKeyValueBytes) {
    error = "the header counts " + std::to_string(keyCount) +
            " key-value pairs, more than the file can hold";
    return false;
  }
  std::unordered_set<std::string_view> keys;
  image.metadata.reserve(std::min(keyCount, kReserveLimit));
  for (uint64_t i = 0; i < keyCount; ++i) {
    GgufKeyValue entry;
    uint32_t type;
    if (!in.string(entry.key) || !in.number(type)) {
      error = "key-value pair " + std::to_string(i) +
              " runs past the end of the file";
      return false;
    }
    if (entry.key.empty()) {
      error = "key-value pair " + std::to_string(i) + " has an empty key";
      return false;
    }
    if (!keys.insert(entry.key).second) {
      error = "key " + quoted(entry.key) + " appears twice";
      return false;
    }
    if (!readValue(in, entry.key, type, entry.value, error))
      return false;
    image.metadata.push_back(std::move(entry));
  }
  if (const GgufValue *alignment = image.find("general.alignment")) {
    uint64_t value = alignment->unsignedValue;
    if (alignment->type != GgufValueType::UInt32 || value == 0 ||
        (value & (value - 1)) != 0) {
      error = "general.alignment must be a uint32 power of two";
      return false;
    }
    image.alignment = value;
  }
  if (tensorCount > in.left() / kMinTensorInfoBytes) {
    error = "the header counts " + std::to_string(tensorCount) +
            " tensors, more than the file can hold";
    return false;
  }
  std::unordered_set<std::string_view> names;
  image.tensors.reserve(std::min(tensorCount, kReserveLimit));
  for (uint64_t i = 0; i < tensorCount; ++i) {
    GgufTensor tensor;
    if (!readTensorInfo(in, tensor, error))
      return false;
    if (!names.insert(tensor.name).second) {
      error = "tensor " + quoted(tensor.name) + " appears twice";
      return false;
    }
    image.tensors.push_back(std::move(tensor));
  }
  // The data section starts at the next multiple of the alignment (which
  // is at most 2^31, so this cannot overflow).
  uint64_t end = in.position();
  image.dataOffset =
      (end + image.alignment - 1) / image.alignment * image.alignment;
  if (!image.tensors.empty() && image.dataOffset > size) {
    error = "the data section (at byte " + std::to_string(image.dataOffset) +
            ", the tensor infos' end padded to the alignment) starts past "
            "the end of the file";
    return false;
  }
  uint64_t dataBytes = image.dataOffset <= size ? size - image.dataOffset : 0;
  std::vector<const GgufTensor *> byOffset;
  for (GgufTensor &tensor : image.tensors) {
    if (tensor.offset % image.alignment != 0) {
      error = "tensor " + quoted(tensor.name) + " starts at offset " +
              std::to_string(tensor.offset) + ", not a multiple of the " +
              std::to_string(image.alignment) + "-byte alignment";
      return false;
    }
    if (tensor.offset > dataBytes || tensor.size > dataBytes - tensor.offset) {
      error = "tensor " + quoted(tensor.name) + " (" +
              std::to_string(tensor.size) + " bytes at data offset " +
              std::to_string(tensor.offset) + ") lies past the end of the file";
      return false;
    }
    tensor.offset += image.dataOffset;
    byOffset.push_back(&tensor);
  }
  std::sort(byOffset.begin(), byOffset.end(),
            [](const GgufTensor *a, const GgufTensor *b) {
              return a->offset < b->offset;
            });
  for (size_t i = 1; i < byOffset.size(); ++i)
    if (byOffset[i - 1]->offset + byOffset[i - 1]->size > byOffset[i]->offset) {
      error = "tensors " + quoted(byOffset[i - 1]->name) + " and " +
              quoted(byOffset[i]->name) + " overlap";
      return false;
    }
  return true;
}

std::unique_ptr<GgufFile> GgufFile::open(const std::string &path,
                                         std::string &error) {
  std::unique_ptr<MappedFile> file = MappedFile::open(path, error);
  if (!file)
    return nullptr;
  auto result = std::unique_ptr<GgufFile>(new GgufFile());
  if (!parseGguf(file->data(), file->size(), result->parsed, error)) {
    error = "'" + path + "' is not a valid GGUF file: " + error;
    return nullptr;
  }
  result->file = std::move(file);
  return result;
}

} // namespace moec::rt
