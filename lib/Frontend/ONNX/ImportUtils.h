//===- ImportUtils.h - Helpers of the ONNX importer -------------*- C++ -*-===//
//
// Element types, tensor data and external-data locations: the parts of
// reading an ONNX model that do not depend on the graph.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_LIB_FRONTEND_ONNX_IMPORTUTILS_H
#define MOEC_LIB_FRONTEND_ONNX_IMPORTUTILS_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <onnx/onnx_pb.h>

#include <string>

namespace moec::onnx_import {

/// The MLIR element type of an ONNX TensorProto.DataType, or null for types
/// moec does not import (strings, complex numbers).
mlir::Type getElementType(mlir::MLIRContext *context, int32_t dataType);

/// A readable name of an ONNX data type, for messages.
std::string dataTypeName(int32_t dataType);

/// Bytes that `numElements` elements of `elementType` take packed as ONNX
/// raw data (4-bit types hold two elements per byte).
uint64_t rawDataSize(mlir::Type elementType, uint64_t numElements);

/// Builds a dense attribute from little-endian ONNX raw bytes; `bytes` must
/// hold exactly rawDataSize(type) bytes.
mlir::DenseElementsAttr denseFromRawData(mlir::RankedTensorType type,
                                         llvm::ArrayRef<char> bytes);

/// Builds a dense attribute from a TensorProto's typed fields (float_data,
/// int32_data, ...), or fails with a message naming what does not match.
llvm::Expected<mlir::DenseElementsAttr>
denseFromTypedFields(mlir::RankedTensorType type, int32_t dataType,
                     const ::onnx::TensorProto &tensor);

/// Resolves an external-data `location` against the model's directory. It
/// must be relative, contain no `..`, and (after following symlinks) stay
/// inside the directory; the file must exist.
llvm::Expected<std::string> resolveExternalLocation(llvm::StringRef modelDir,
                                                    llvm::StringRef location);

} // namespace moec::onnx_import

#endif // MOEC_LIB_FRONTEND_ONNX_IMPORTUTILS_H
