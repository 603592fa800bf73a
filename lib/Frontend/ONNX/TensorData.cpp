//===- TensorData.cpp - ONNX element types and tensor contents ------------===//

#include "ImportUtils.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/SmallVector.h"

#include <cstring>

using namespace mlir;
using namespace moec;

namespace {
/// ONNX TensorProto.DataType values (onnx.proto); 21 and later postdate
/// Debian's libonnx 1.12, so they are spelled out here.
enum OnnxDataType : int32_t {
  kFloat = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kDouble = 11,
  kUInt32 = 12,
  kUInt64 = 13,
  kComplex64 = 14,
  kComplex128 = 15,
  kBFloat16 = 16,
  kFloat8E4M3FN = 17,
  kFloat8E4M3FNUZ = 18,
  kFloat8E5M2 = 19,
  kFloat8E5M2FNUZ = 20,
  kUInt4 = 21,
  kInt4 = 22,
  kFloat4E2M1 = 23,
};
} // namespace

Type onnx_import::getElementType(MLIRContext *context, int32_t dataType) {
  Builder b(context);
  auto unsignedType = [&](unsigned width) {
    return IntegerType::get(context, width, IntegerType::Unsigned);
  };
  switch (dataType) {
  case kFloat:
    return b.getF32Type();
  case kUInt8:
    return unsignedType(8);
  case kInt8:
    return b.getI8Type();
  case kUInt16:
    return unsignedType(16);
  case kInt16:
    return b.getI16Type();
  case kInt32:
    return b.getI32Type();
  case kInt64:
    return b.getI64Type();
  case kBool:
    return b.getI1Type();
  case kFloat16:
    return b.getF16Type();
  case kDouble:
    return b.getF64Type();
  case kUInt32:
    return unsignedType(32);
  case kUInt64:
    return unsignedType(64);
  case kBFloat16:
    return b.getBF16Type();
  case kFloat8E4M3FN:
    return Float8E4M3FNType::get(context);
  case kFloat8E4M3FNUZ:
    return Float8E4M3FNUZType::get(context);
  case kFloat8E5M2:
    return Float8E5M2Type::get(context);
  case kFloat8E5M2FNUZ:
    return Float8E5M2FNUZType::get(context);
  case kUInt4:
    return unsignedType(4);
  case kInt4:
    return b.getIntegerType(4);
  case kFloat4E2M1:
    return Float4E2M1FNType::get(context);
  default:
    return nullptr;
  }
}

std::string onnx_import::dataTypeName(int32_t dataType) {
  static const char *const names[] = {
      "UNDEFINED",      "FLOAT",        "UINT8",          "INT8",
      "UINT16",         "INT16",        "INT32",          "INT64",
      "STRING",         "BOOL",         "FLOAT16",        "DOUBLE",
      "UINT32",         "UINT64",       "COMPLEX64",      "COMPLEX128",
      "BFLOAT16",       "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2",
      "FLOAT8E5M2FNUZ", "UINT4",        "INT4",           "FLOAT4E2M1"};
  if (dataType >= 0 && dataType < static_cast<int32_t>(std::size(names)))
    return names[dataType];
  return "data type " + std::to_string(dataType);
}

uint64_t onnx_import::rawDataSize(Type elementType, uint64_t numElements) {
  unsigned width = elementType.getIntOrFloatBitWidth();
  if (width == 4)
    return (numElements + 1) / 2;
  if (width == 1)
    return numElements;
  return numElements * (width / 8);
}

/// Unpacks ONNX 4-bit data: element 2i in the low nibble of byte i, 2i+1 in
/// the high nibble.
static DenseElementsAttr denseFrom4Bit(RankedTensorType type,
                                       ArrayRef<uint8_t> bytes) {
  int64_t count = type.getNumElements();
  Type elementType = type.getElementType();
  auto nibble = [&](int64_t i) {
    uint8_t byte = bytes[i / 2];
    return static_cast<uint64_t>(i % 2 ? byte >> 4 : byte & 0xF);
  };
  if (auto floatType = dyn_cast<FloatType>(elementType)) {
    SmallVector<APFloat> values;
    for (int64_t i = 0; i < count; ++i)
      values.emplace_back(floatType.getFloatSemantics(), APInt(4, nibble(i)));
    return DenseElementsAttr::get(type, values);
  }
  SmallVector<APInt> values;
  for (int64_t i = 0; i < count; ++i)
    values.emplace_back(4, nibble(i));
  return DenseElementsAttr::get(type, values);
}

DenseElementsAttr onnx_import::denseFromRawData(RankedTensorType type,
                                                ArrayRef<char> bytes) {
  Type elementType = type.getElementType();
  unsigned width = elementType.getIntOrFloatBitWidth();
  if (width == 4)
    return denseFrom4Bit(
        type, ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(bytes.data()),
                                bytes.size()));
  if (width == 1) {
    SmallVector<bool> values;
    for (char byte : bytes)
      values.push_back(byte != 0);
    return DenseElementsAttr::get(type, values);
  }
  return DenseElementsAttr::getFromRawBuffer(type, bytes);
}

/// Appends the low `width` bits of `value` little-endian.
static void appendBits(std::vector<char> &out, uint64_t value, unsigned width) {
  for (unsigned byte = 0; byte < width / 8; ++byte)
    out.push_back(static_cast<char>((value >> (8 * byte)) & 0xFF));
}

llvm::Expected<DenseElementsAttr>
onnx_import::denseFromTypedFields(RankedTensorType type, int32_t dataType,
                                  const ::onnx::TensorProto &tensor) {
  Type elementType = type.getElementType();
  unsigned width = elementType.getIntOrFloatBitWidth();
  uint64_t count = type.getNumElements();
  std::vector<char> raw;
  auto expectCount = [&](const char *field, uint64_t have,
                         uint64_t want) -> llvm::Error {
    if (have == want)
      return llvm::Error::success();
    return llvm::createStringError(
        "%s holds %llu values but the dims need %llu", field,
        (unsigned long long)have, (unsigned long long)want);
  };
  switch (dataType) {
  case kFloat: {
    if (auto err = expectCount("float_data", tensor.float_data_size(), count))
      return std::move(err);
    for (float value : tensor.float_data()) {
      uint32_t bits;
      std::memcpy(&bits, &value, sizeof(bits));
      appendBits(raw, bits, 32);
    }
    break;
  }
  case kDouble: {
    if (auto err = expectCount("double_data", tensor.double_data_size(), count))
      return std::move(err);
    for (double value : tensor.double_data()) {
      uint64_t bits;
      std::memcpy(&bits, &value, sizeof(bits));
      appendBits(raw, bits, 64);
    }
    break;
  }
  case kInt64: {
    if (auto err = expectCount("int64_data", tensor.int64_data_size(), count))
      return std::move(err);
    for (int64_t value : tensor.int64_data())
      appendBits(raw, static_cast<uint64_t>(value), 64);
    break;
  }
  case kUInt32:
  case kUInt64: {
    if (auto err = expectCount("uint64_data", tensor.uint64_data_size(), count))
      return std::move(err);
    for (uint64_t value : tensor.uint64_data())
      appendBits(raw, value, width);
    break;
  }
  case kUInt4:
  case kInt4:
  case kFloat4E2M1: {
    // Two 4-bit values per int32_data entry, packed as in raw data.
    uint64_t entries = (count + 1) / 2;
    if (auto err = expectCount("int32_data", tensor.int32_data_size(), entries))
      return std::move(err);
    std::vector<uint8_t> packed;
    for (int32_t value : tensor.int32_data())
      packed.push_back(static_cast<uint8_t>(value));
    return denseFrom4Bit(type, packed);
  }
  case kString:
  case kComplex64:
  case kComplex128:
    return llvm::createStringError("%s tensors are not supported",
                                   dataTypeName(dataType).c_str());
  default: {
    // Every other type stores one value (or its bit pattern) per int32.
    if (auto err = expectCount("int32_data", tensor.int32_data_size(), count))
      return std::move(err);
    if (width == 1) {
      SmallVector<bool> values;
      for (int32_t value : tensor.int32_data())
        values.push_back(value != 0);
      return DenseElementsAttr::get(type, values);
    }
    for (int32_t value : tensor.int32_data())
      appendBits(raw, static_cast<uint32_t>(value), width);
    break;
  }
  }
  return DenseElementsAttr::getFromRawBuffer(type, raw);
}
