//===- DType.cpp - Tensor element types -----------------------------------===//

#include "runtime/formats/DType.h"

namespace moec::rt {

namespace {
struct DTypeInfo {
  DType dtype;
  std::string_view name;
  size_t size;
};
} // namespace

static constexpr DTypeInfo kDTypes[] = {
    {DType::Bool, "BOOL", 1},      {DType::U8, "U8", 1},
    {DType::I8, "I8", 1},          {DType::U16, "U16", 2},
    {DType::I16, "I16", 2},        {DType::U32, "U32", 4},
    {DType::I32, "I32", 4},        {DType::U64, "U64", 8},
    {DType::I64, "I64", 8},        {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},      {DType::F32, "F32", 4},
    {DType::F64, "F64", 8},        {DType::F8E4M3, "F8_E4M3", 1},
    {DType::F8E5M2, "F8_E5M2", 1}, {DType::F8E8M0, "F8_E8M0", 1},
};

static const DTypeInfo &info(DType dtype) {
  return kDTypes[static_cast<size_t>(dtype)];
}

std::string_view dtypeName(DType dtype) { return info(dtype).name; }

size_t dtypeSize(DType dtype) { return info(dtype).size; }

std::optional<DType> parseDType(std::string_view name) {
  for (const DTypeInfo &entry : kDTypes)
    if (entry.name == name)
      return entry.dtype;
  return std::nullopt;
}

} // namespace moec::rt
