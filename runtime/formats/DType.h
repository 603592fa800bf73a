//===- DType.h - Tensor element types shared by compiler and runtime -*- C++ -*-===//
//
// Element types as the safetensors format spells them. The runtime has no
// MLIR dependency, so this enum, not mlir::Type, is what crosses the boundary
// between compiled artifacts and the binary that loads them.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_RUNTIME_FORMATS_DTYPE_H
#define MOEC_RUNTIME_FORMATS_DTYPE_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace moec::rt {

enum class DType : uint8_t {
  Bool,
  U8,
  I8,
  U16,
  I16,
  U32,
  I32,
  U64,
  I64,
  F16,
  BF16,
  F32,
  F64,
  F8E4M3,
  F8E5M2,
  F8E8M0,
};

/// The safetensors spelling: "F32", "BF16", "F8_E4M3", ...
std::string_view dtypeName(DType dtype);

/// Parses a safetensors dtype name; std::nullopt when unknown.
std::optional<DType> parseDType(std::string_view name);

/// Size of one element in bytes.
size_t dtypeSize(DType dtype);

} // namespace moec::rt

#endif // MOEC_RUNTIME_FORMATS_DTYPE_H
