//===- OnnxImporter.h - ONNX models to the onnx dialect ---------*- C++ -*-===//
//
// Reads an ONNX model (protobuf, with external data files) into a module of
// `onnx.node` ops: one op per node, inputs and outputs as the arguments and
// results of `func.func @main`. Initializers smaller than the inline limit
// become `arith.constant`s; larger ones become `moe.weight` references to
// their bytes, which stay in their file (external data) or in the weight
// store (data embedded in the protobuf), so importing never copies a
// large weight.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_FRONTEND_ONNXIMPORTER_H
#define MOEC_FRONTEND_ONNXIMPORTER_H

#include "moec/Support/WeightStore.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"

#include <string>

namespace moec {

/// The default-domain opsets the importer accepts.
constexpr int64_t kMinOnnxOpset = 13;
constexpr int64_t kMaxOnnxOpset = 21;

struct OnnxImportOptions {
  /// Shapes that replace the declared shapes of graph inputs, by name; they
  /// must agree with every static dimension the model declares.
  llvm::StringMap<llvm::SmallVector<int64_t>> inputShapes;
  /// Initializers of at least this many bytes become weight references.
  uint64_t inlineMaxBytes = kInlineWeightMaxBytes;
  /// Directory the IR will be written to: paths of external data files are
  /// written relative to it when they lie below it. Empty: the current one.
  std::string outputDir;
};

/// Imports the model at `path`. External data locations are resolved
/// against the model's directory and must stay inside it. Returns null after
/// emitting an error on the context when the model cannot be imported.
mlir::OwningOpRef<mlir::ModuleOp>
importOnnxModel(mlir::MLIRContext *context, llvm::StringRef path,
                const OnnxImportOptions &options);

/// Imports a model held in memory, as if read from `modelPath`.
mlir::OwningOpRef<mlir::ModuleOp>
importOnnxModelFromBytes(mlir::MLIRContext *context, llvm::StringRef bytes,
                         llvm::StringRef modelPath,
                         const OnnxImportOptions &options);

/// Parses "NAME=D0,D1,..." (as given to --input-shape) into `shapes`.
/// Returns an error message, or "" on success.
std::string
parseInputShape(llvm::StringRef text,
                llvm::StringMap<llvm::SmallVector<int64_t>> &shapes);

} // namespace moec

#endif // MOEC_FRONTEND_ONNXIMPORTER_H
