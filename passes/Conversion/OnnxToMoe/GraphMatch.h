//===- GraphMatch.h - Matching helpers over onnx.node graphs ----*- C++ -*-===//
//
// Small queries the MoE raising uses to walk an imported ONNX graph: the node
// defining a value, constant operands, attributes with ONNX defaults, and
// builders for the few onnx.node ops the raising inserts.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_PASSES_CONVERSION_ONNXTOMOE_GRAPHMATCH_H
#define MOEC_PASSES_CONVERSION_ONNXTOMOE_GRAPHMATCH_H

#include "dialects/onnx/IR/OnnxOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

#include <optional>

namespace moec::raise {

/// The default-domain node of type `opType` that defines `value`, or null.
onnx::NodeOp nodeOf(mlir::Value value, llvm::StringRef opType);
/// The same for a node of the com.microsoft domain.
onnx::NodeOp contribNodeOf(mlir::Value value, llvm::StringRef opType);
/// Whether `op` is a default-domain node of type `opType`.
bool isNode(mlir::Operation *op, llvm::StringRef opType);

/// Input `i` of `node`, or null when it is missing or `onnx.none`.
mlir::Value input(onnx::NodeOp node, unsigned i);

/// ONNX attributes, with the operator's default when absent.
int64_t intAttr(onnx::NodeOp node, llvm::StringRef name, int64_t fallback);
double floatAttr(onnx::NodeOp node, llvm::StringRef name, double fallback);
std::optional<double> optionalFloatAttr(onnx::NodeOp node,
                                        llvm::StringRef name);
std::optional<llvm::SmallVector<int64_t>> intsAttr(onnx::NodeOp node,
                                                   llvm::StringRef name);
llvm::StringRef stringAttr(onnx::NodeOp node, llvm::StringRef name,
                           llvm::StringRef fallback);

/// The elements of a constant (an arith.constant), or null.
mlir::DenseElementsAttr constantOf(mlir::Value value);
/// All elements of an integer constant.
std::optional<llvm::SmallVector<int64_t>> constantInts(mlir::Value value);
/// The value of a one-element integer constant (any shape).
std::optional<int64_t> constantInt(mlir::Value value);
/// The value of a float constant that is a splat or has one element.
std::optional<double> constantFloat(mlir::Value value);

/// Whether `value` is a weight: an initializer (constant or moe.weight)
/// with a static shape. Returns its type, or null.
mlir::RankedTensorType weightType(mlir::Value value);

/// Whether `value` is all ones (`one`) or all zeros: a splat constant or a
/// ConstantOfShape, through Casts; booleans count as 0 and 1.
bool isFilledWith(mlir::Value value, bool one);
/// Whether `value` is all zeros.
bool isZeros(mlir::Value value);

/// The value before any Identity nodes and Casts to the same element type.
mlir::Value skipCasts(mlir::Value value);
/// The value before any Cast and Identity nodes: for masks, indices and
/// shapes, whose values every numeric type holds exactly.
mlir::Value skipAnyCasts(mlir::Value value);

/// Whether `axes` (a constant) is exactly the one axis `axis` of a tensor of
/// rank `rank` (negative axes count from the end).
bool isSingleAxis(mlir::Value axes, int64_t axis, int64_t rank);
/// The same for an `axis` attribute (default `fallback`).
bool isAxisAttr(onnx::NodeOp node, int64_t axis, int64_t rank,
                int64_t fallback);

/// For a commutative binary node, the operand that is not `one`, or null
/// when `one` is not an operand.
mlir::Value otherOperand(onnx::NodeOp node, mlir::Value one);

/// The users of `value` that are default-domain nodes of type `opType`.
llvm::SmallVector<onnx::NodeOp> usersOf(mlir::Value value,
                                        llvm::StringRef opType);

/// A display name for a node: its name, else its op type.
std::string describe(onnx::NodeOp node);

/// Builds a default-domain onnx.node (opset 17) with one result.
mlir::Value createNode(mlir::OpBuilder &b, mlir::Location loc,
                       llvm::StringRef opType, mlir::ValueRange inputs,
                       mlir::Type resultType,
                       llvm::ArrayRef<mlir::NamedAttribute> attrs = {});

/// An i64 vector constant.
mlir::Value i64Constant(mlir::OpBuilder &b, mlir::Location loc,
                        llvm::ArrayRef<int64_t> values);

/// The [tokens, n] type moe ops take: a dynamic token count.
mlir::RankedTensorType tokensType(int64_t n, mlir::Type element);

/// `value` with type `type`, through a tensor.cast when it differs.
mlir::Value castTo(mlir::OpBuilder &b, mlir::Location loc, mlir::Value value,
                   mlir::Type type);

/// Verifies ops the raising built. On failure erases them (users first) and
/// sets `reason` to the verifier's message.
mlir::LogicalResult verifyOrErase(llvm::ArrayRef<mlir::Operation *> built,
                                  std::string &reason);

} // namespace moec::raise

#endif // MOEC_PASSES_CONVERSION_ONNXTOMOE_GRAPHMATCH_H
