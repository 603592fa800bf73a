//===- NodeLowering.h - Lowering one onnx.node ------------------*- C++ -*-===//
//
// Each supported ONNX op has a lowering function that reads the node through
// NodeLowering (its inputs with their real types, its attributes) and
// builds upstream ops for it. The helpers here are what the lowerings
// share: broadcasting element-wise generics, reductions, signedness and
// casts, and constant folding of small integer tensors.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_PASSES_CONVERSION_ONNXTOLINALG_NODELOWERING_H
#define MOEC_PASSES_CONVERSION_ONNXTOLINALG_NODELOWERING_H

#include "dialects/onnx/IR/OnnxOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringMap.h"

#include <functional>
#include <optional>

namespace moec::onnx_lowering {

class NodeLowering {
public:
  NodeLowering(mlir::OpBuilder &builder, onnx::NodeOp node)
      : b(builder), loc(node.getLoc()), node(node) {}

  mlir::OpBuilder &b;
  mlir::Location loc;
  onnx::NodeOp node;

  int64_t opset() { return node.getOpset(); }
  unsigned numInputs() { return node.getInputs().size(); }
  unsigned numOutputs() { return node.getNumResults(); }
  /// Input `i`, or null when it is absent or `onnx.none`.
  mlir::Value input(unsigned i);
  /// Input `i` as a ranked tensor; emits an error when it is missing or
  /// unranked.
  mlir::FailureOr<mlir::Value> rankedInput(unsigned i);
  /// Every input, for variadic ops (Concat, Max): at least one, each
  /// present and ranked; emits an error otherwise.
  mlir::FailureOr<llvm::SmallVector<mlir::Value>> variadicInputs();
  bool hasAttr(llvm::StringRef name) { return node->hasAttr(name); }
  int64_t intAttr(llvm::StringRef name, int64_t fallback);
  double floatAttr(llvm::StringRef name, double fallback);
  llvm::StringRef stringAttr(llvm::StringRef name, llvm::StringRef fallback);
  std::optional<llvm::SmallVector<int64_t>> intsAttr(llvm::StringRef name);

  /// An error prefixed with the node's name, op type, domain and opset.
  mlir::InFlightDiagnostic error();
  /// That prefix: "node 'NAME' (op type 'T', domain 'D', opset N)".
  std::string describe();
  /// Requires `condition` (an i1) to hold: nothing when it folds to true,
  /// a compile-time error when it folds to false, otherwise a cf.assert
  /// that stops the program with `message` after the node's description.
  /// For extents known only at run time; compile-time checks that can name
  /// both extents come first.
  mlir::LogicalResult requireAtRunTime(mlir::Value condition,
                                       const llvm::Twine &message);
  /// A cf.assert of `condition` built with `builder` (inside a loop body),
  /// its message prefixed like requireAtRunTime's.
  void assertAt(mlir::OpBuilder &builder, mlir::Location at,
                mlir::Value condition, const llvm::Twine &message);
  /// An index from the integer `element`, negative values wrapped by `dim`,
  /// checked at run time to lie in [0, dim) (dimension `dataDim` of the
  /// data), so that a bad index stops the program instead of reading or
  /// writing out of bounds.
  mlir::Value checkedIndex(mlir::OpBuilder &builder, mlir::Location at,
                           mlir::Value element, mlir::Value dim,
                           int64_t dataDim);
  /// Requires extent `aDim` of `a` (named `aName`) to be equal to (`eq`) or
  /// at most (`ule`) extent `bDim` of `b`: a compile-time error naming both
  /// extents where they are static, a run-time check otherwise.
  mlir::LogicalResult requireExtent(mlir::arith::CmpIPredicate predicate,
                                    mlir::Value a, int64_t aDim,
                                    llvm::StringRef aName, mlir::Value b,
                                    int64_t bDim, llvm::StringRef bName);
  /// Normalises every axis of `axes` against `rank` and sorts them.
  mlir::LogicalResult normalizeAxes(llvm::SmallVectorImpl<int64_t> &axes,
                                    int64_t rank);
  /// Input `i` as a 1-D integer vector of static length (a shape, axes,
  /// starts): returns its length, or emits an error when it is missing, not
  /// an integer vector, or longer than kMaxRank.
  mlir::FailureOr<int64_t> vectorInput(unsigned i, llvm::StringRef what);
  /// The element type the importer gave output `i` (from an attribute such
  /// as Cast's `to`); emits an error when it could not tell one.
  mlir::FailureOr<mlir::Type> outputElementType(unsigned i);
  /// Emits an error unless every value has element type `type`.
  mlir::LogicalResult requireElementType(mlir::ValueRange values,
                                         mlir::Type type);
  /// Normalises a possibly negative axis against `rank`, or fails with an
  /// error naming `what`.
  mlir::FailureOr<int64_t> normalizeAxis(int64_t axis, int64_t rank,
                                         llvm::StringRef what = "axis");
};

/// The largest rank a shape vector may ask for; real models stay far below.
constexpr int64_t kMaxRank = 64;

/// The result of a lowering with one output.
inline llvm::SmallVector<mlir::Value> single(mlir::Value v) { return {v}; }

using LoweringFn =
    std::function<mlir::FailureOr<llvm::SmallVector<mlir::Value>>(
        NodeLowering &)>;
/// Lowerings keyed by "domain::OpType" ("" for the default domain).
using LoweringTable = llvm::StringMap<LoweringFn>;

std::string loweringKey(llvm::StringRef domain, llvm::StringRef opType);

void addElementwiseLowerings(LoweringTable &table);
void addContractionLowerings(LoweringTable &table);
void addShapeLowerings(LoweringTable &table);
void addSliceLowerings(LoweringTable &table);
void addReplicateLowerings(LoweringTable &table);
void addScatterLowerings(LoweringTable &table);
void addIndexingLowerings(LoweringTable &table);
void addNormalizationLowerings(LoweringTable &table);
void addQuantizationLowerings(LoweringTable &table);

//===----------------------------------------------------------------------===//
// Types, signedness and scalars
//===----------------------------------------------------------------------===//

mlir::Type getElementType(mlir::Value tensor);
bool isUnsignedInteger(mlir::Type elementType);
/// The signless integer type of the same width, or the type itself.
mlir::Type toSignlessType(mlir::Type elementType);
/// Reinterprets an unsigned-integer tensor as signless (a no-op otherwise):
/// arith only computes on signless integers; signedness travels in the
/// tensor types between nodes.
mlir::Value toSignless(mlir::OpBuilder &b, mlir::Location loc,
                       mlir::Value tensor);
/// Reinterprets a signless tensor as one of element type `elementType`.
mlir::Value fromSignless(mlir::OpBuilder &b, mlir::Location loc,
                         mlir::Value tensor, mlir::Type elementType);

/// A scalar constant of a signless or float type.
mlir::Value scalarConstant(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::Type type, double value);
mlir::Value indexConstant(mlir::OpBuilder &b, mlir::Location loc,
                          int64_t value);
/// Converts a scalar between element types with ONNX Cast semantics
/// (`fromUnsigned`/`toUnsigned` give integer signedness).
mlir::Value convertScalar(mlir::OpBuilder &b, mlir::Location loc,
                          mlir::Value value, mlir::Type to, bool fromUnsigned,
                          bool toUnsigned);
/// A scalar index from an integer scalar (sign-extended).
mlir::Value toIndex(mlir::OpBuilder &b, mlir::Location loc, mlir::Value value);

//===----------------------------------------------------------------------===//
// Shapes
//===----------------------------------------------------------------------===//

llvm::SmallVector<mlir::OpFoldResult>
getSizes(mlir::OpBuilder &b, mlir::Location loc, mlir::Value tensor);
mlir::Value getDim(mlir::OpBuilder &b, mlir::Location loc, mlir::Value tensor,
                   int64_t dim);
mlir::Value emptyTensor(mlir::OpBuilder &b, mlir::Location loc,
                        llvm::ArrayRef<mlir::OpFoldResult> sizes,
                        mlir::Type elementType);
/// A tensor of `sizes` filled with `value`.
mlir::Value filledTensor(mlir::OpBuilder &b, mlir::Location loc,
                         llvm::ArrayRef<mlir::OpFoldResult> sizes,
                         mlir::Value value);

/// The integer contents of a constant tensor, if it is one (and small
/// enough to be shape arithmetic: at most 65536 elements).
std::optional<llvm::SmallVector<int64_t>> getConstantInts(mlir::Value value);
/// A constant integer tensor of the given shape and element type.
mlir::Value intTensorConstant(mlir::OpBuilder &b, mlir::Location loc,
                              llvm::ArrayRef<int64_t> shape,
                              mlir::Type elementType,
                              llvm::ArrayRef<int64_t> values);

//===----------------------------------------------------------------------===//
// Shape vectors, indices and run-time checks (DynamicShapes.cpp)
//===----------------------------------------------------------------------===//

/// The elements of a small integer tensor (a shape vector or a scalar from
/// shape arithmetic) where they can be seen one by one: a constant, or a
/// tensor.from_elements of scalars. Known elements are IntegerAttrs, the
/// others the scalar values. Lets a shape that mixes run-time and
/// compile-time extents (Shape of a tensor<?x32xf32>) keep its static
/// entries through Gather, Concat, Unsqueeze and Reshape.
std::optional<llvm::SmallVector<mlir::OpFoldResult>>
getVectorElements(mlir::Value value);
/// A tensor of `type` holding `elements` (as getVectorElements returns
/// them): a constant when all are known, else a tensor.from_elements.
mlir::Value buildVector(mlir::OpBuilder &b, mlir::Location loc,
                        mlir::RankedTensorType type,
                        llvm::ArrayRef<mlir::OpFoldResult> elements);
/// Every element of the 1-D integer tensor `vector` (of static length
/// `length`) as an index: constants where known, else extracted at run time.
llvm::SmallVector<mlir::OpFoldResult> getIndexEntries(mlir::OpBuilder &b,
                                                      mlir::Location loc,
                                                      mlir::Value vector,
                                                      int64_t length);
/// Extent `dim` of `tensor`, looking through the ops that state it
/// (tensor.empty, expand_shape, casts, the init of a destination-style op)
/// so that extents derived from one tensor.dim are one value.
mlir::OpFoldResult getResolvedSize(mlir::OpBuilder &b, mlir::Location loc,
                                   mlir::Value tensor, int64_t dim);
/// Whether an extent is provably >= 0: a constant, a tensor.dim, or a
/// select, min, max, sum, product or quotient of such (extents do not
/// overflow).
bool isKnownNonNegative(mlir::OpFoldResult size);
/// `a <pred> b` on index values, folded where both are constants (and
/// `x >= 0` where isKnownNonNegative(x)).
mlir::Value compareIndex(mlir::OpBuilder &b, mlir::Location loc,
                         mlir::arith::CmpIPredicate predicate,
                         mlir::OpFoldResult lhs, mlir::OpFoldResult rhs);
/// An index from an integer element, wrapping negative values by `dim`.
mlir::Value wrapIndex(mlir::OpBuilder &b, mlir::Location loc,
                      mlir::Value element, mlir::Value dim);
/// Whether `v` holds int32 or int64 indices.
bool isIndexTensor(mlir::Value v);
/// Run-time check that an index `value` lies in [0, size).
mlir::Value indexInRange(mlir::OpBuilder &b, mlir::Location loc,
                         mlir::Value value, mlir::Value size);

/// Reshapes `tensor` to `sizes` (constants or index values) with
/// tensor.reshape; a no-op when the type already matches.
mlir::Value reshapeTo(mlir::OpBuilder &b, mlir::Location loc,
                      mlir::Value tensor,
                      llvm::ArrayRef<mlir::OpFoldResult> sizes);

//===----------------------------------------------------------------------===//
// Generic builders
//===----------------------------------------------------------------------===//

using ScalarBody = std::function<mlir::Value(mlir::OpBuilder &, mlir::Location,
                                             mlir::ValueRange)>;

/// Applies `body` element-wise over `inputs` with ONNX (numpy) broadcasting.
/// Inputs must be ranked; unsigned inputs are seen as signless by `body`.
/// Fails with an error when static dimensions cannot broadcast.
mlir::FailureOr<mlir::Value> buildElementwise(NodeLowering &node,
                                              mlir::ValueRange inputs,
                                              mlir::Type resultElementType,
                                              const ScalarBody &body);

/// A linalg.generic that writes every element of `init` (identity map, all
/// loops parallel), reading `inputs` through `inputMaps`; `body` yields the
/// element (it may use linalg.index and tensor.extract).
mlir::Value
buildParallelGeneric(mlir::OpBuilder &b, mlir::Location loc, mlir::Value init,
                     mlir::ValueRange inputs,
                     llvm::ArrayRef<mlir::AffineMap> inputMaps,
                     llvm::function_ref<void(mlir::OpBuilder &, mlir::Location,
                                             mlir::ValueRange)>
                         body);

/// The contraction `init += lhs * rhs` over `maps` (lhs, rhs, init), the
/// last loop a reduction and the others parallel.
mlir::Value buildContraction(mlir::OpBuilder &b, mlir::Location loc,
                             mlir::Value lhs, mlir::Value rhs, mlir::Value init,
                             llvm::ArrayRef<mlir::AffineMap> maps);

/// Reduces `input` over `axes` (normalised, sorted) starting from `init`;
/// `body(element, accumulator)` combines. keepDims leaves size-1 axes.
mlir::Value buildReduction(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::Value input, llvm::ArrayRef<int64_t> axes,
                           bool keepDims, mlir::Value init,
                           const ScalarBody &body);

/// Re-inserts size-1 dimensions at `axes` (sorted, of the result).
mlir::Value expandReducedDims(mlir::OpBuilder &b, mlir::Location loc,
                              mlir::Value reduced, llvm::ArrayRef<int64_t> axes,
                              int64_t resultRank);

/// Transposes `input` by `perm` (result dim i = input dim perm[i]).
mlir::Value buildTranspose(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::Value input, llvm::ArrayRef<int64_t> perm);

} // namespace moec::onnx_lowering

#endif // MOEC_PASSES_CONVERSION_ONNXTOLINALG_NODELOWERING_H
