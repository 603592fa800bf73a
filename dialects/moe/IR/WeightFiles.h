//===- WeightFiles.h - Connect moe.weight ops to the store ------*- C++ -*-===//
//
// A module names the files holding its weights in `moe.weight_files`;
// these helpers load them into the context's WeightStore and check the
// `moe.weight` ops against it.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_DIALECTS_MOE_IR_WEIGHTFILES_H
#define MOEC_DIALECTS_MOE_IR_WEIGHTFILES_H

#include "dialects/moe/IR/MoeOps.h"
#include "moec/Support/WeightStore.h"
#include "runtime/formats/DType.h"

#include "mlir/IR/BuiltinOps.h"

#include <optional>
#include <string>
#include <vector>

namespace moec::moe {

/// The store dtype of an MLIR element type, if the store can hold it.
std::optional<rt::DType> getDType(mlir::Type elementType);

/// The bytes of `weight` from the dialect's weight store, loading the
/// module's weight files and ranges first if the key is not there yet;
/// errors go on `user`.
mlir::FailureOr<WeightView> lookupWeight(WeightOp weight,
                                         mlir::Operation *user);

/// The little-endian bytes of a constant tensor (dense or dense resource),
/// one element after another; std::nullopt when the store cannot hold its
/// element type.
std::optional<std::vector<uint8_t>> getConstantBytes(mlir::Attribute value);

/// A copy of the bytes of `value` when it is known at compile time: a
/// moe.weight (errors reading it go on `user`) or a constant.
std::optional<std::vector<uint8_t>> getKnownBytes(mlir::Value value,
                                                  mlir::Operation *user);

/// The MLIR element type of a store dtype.
mlir::Type getElementType(mlir::MLIRContext *context, rt::DType dtype);

/// Resolves a path listed in `moe.weight_files`: relative paths are relative
/// to the directory of the file the module was parsed from (its location),
/// or to the current directory when it has none.
std::string resolveWeightPath(mlir::ModuleOp module, llvm::StringRef path);

/// Loads every file the module lists into its context's weight store.
/// Emits an error on the module for a missing or malformed file.
mlir::LogicalResult loadWeightFiles(mlir::ModuleOp module);

/// Registers the file range of every `moe.weight ... from FILE at OFFSET`
/// in the module with its context's weight store. Emits an error on the
/// first weight whose file is missing or too short.
mlir::LogicalResult loadWeightRanges(mlir::ModuleOp module);

/// Checks that the store holds `op`'s key with its element type and shape;
/// emits an error on `op` otherwise.
mlir::LogicalResult verifyWeightInStore(WeightOp op);

} // namespace moec::moe

#endif // MOEC_DIALECTS_MOE_IR_WEIGHTFILES_H
