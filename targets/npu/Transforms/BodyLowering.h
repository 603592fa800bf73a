//===- BodyLowering.h - One entry point's body, one bucket ------*- C++ -*-===//
//
// The walk of an entry point's body for one token bucket (ConvertToNpu.cpp
// runs one per bucket): every shape static, index arithmetic evaluated
// (or, for what only the run time knows, kept as RuntimeScalars), each
// tensor op lowered to a phase of commands. Its definitions: LowerBody.cpp
// (values, weights, the walk), LowerModelOps.cpp (dense, elementwise and
// routing ops), LowerExpertMatmuls.cpp (grouped matmuls),
// LowerDecoderOps.cpp (embedding, RMSNorm, RoPE, attention), LowerViews.cpp
// (reshapes, slices, the KV cache's updates, transposes).
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_TRANSFORMS_BODYLOWERING_H
#define MOEC_TARGETS_NPU_TRANSFORMS_BODYLOWERING_H

#include "Transforms/Lowering.h"
#include "Transforms/Packing.h"
#include "Transforms/RuntimeScalars.h"

#include "dialects/moe/IR/MoeOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "llvm/ADT/DenseSet.h"

namespace moec::npu {

/// Packed weights' facts that outlive one bucket's walk.
struct EntryWeights {
  /// Bits and signedness of the quantized weights packed so far.
  llvm::DenseMap<mlir::Value, std::pair<unsigned, bool>> quantizedForms;
  /// Int8 weights (lowerInt8Matmul) with a correction array.
  llvm::DenseSet<mlir::Value> int8Corrections;
};

/// One walk of an entry point's body for one bucket.
class BodyLowering {
public:
  BodyLowering(ProgramLowering &lowering, mlir::func::FuncOp func,
               EntryWeights &entry)
      : lowering(lowering), func(func), quantizedForms(entry.quantizedForms),
        int8Corrections(entry.int8Corrections) {}

  mlir::LogicalResult run();

private:
  mlir::LogicalResult lowerOp(mlir::Operation *op);
  /// The static shape of a tensor value of this bucket (views of rank 3
  /// included).
  mlir::FailureOr<llvm::SmallVector<int64_t>> shapeOf(mlir::Value value);
  mlir::FailureOr<int64_t> indexOf(mlir::Value value);
  /// The matrix of an operand that lives in global memory (an input or an
  /// op's result), or a weight placed as it is.
  mlir::FailureOr<GmMatrix> matrixOf(mlir::Value value);
  /// Global memory for `value`: an output segment when it is returned.
  mlir::FailureOr<GmMatrix> resultFor(mlir::Value value, int64_t rows,
                                      int64_t cols, ElemType elem);
  mlir::FailureOr<GmMatrix> placeWeight(mlir::Value value);
  /// The program's segment of packed weight `index`, added on first use.
  uint32_t weightSegment(unsigned index);
  mlir::FailureOr<QuantizedMatrix> quantizedWeight(mlir::Value value,
                                                   bool deinterleave);
  /// With `second` (an up projection of `value`'s shape), the two stacked
  /// per group: [groups, 2n, k].
  mlir::FailureOr<PackedMatrix> packedWeight(mlir::Value value, bool transposed,
                                             RowOrder order = {},
                                             bool split = false,
                                             mlir::Value second = {});

  mlir::LogicalResult lowerMatmul(mlir::linalg::MatmulOp op);
  mlir::LogicalResult lowerGeneric(mlir::linalg::GenericOp op);
  mlir::LogicalResult lowerContraction(mlir::linalg::GenericOp op);
  /// result = a * b (b [k, n], or [n, k] when `transposed`) on the cube.
  mlir::LogicalResult lowerDenseMatmul(mlir::Value a, mlir::Value b,
                                       bool transposed, mlir::Value result);
  /// A grouped matmul's bias [groups, n], its columns in `order`.
  mlir::FailureOr<GmMatrix> placeBias(mlir::Value bias, const RowOrder &order,
                                      int64_t groups, int64_t n);
  mlir::LogicalResult lowerRouter(moe::RouterOp op);
  mlir::LogicalResult lowerDispatch(moe::DispatchOp op);
  mlir::LogicalResult lowerGroupedMatmul(moe::GroupedMatmulOp op);
  /// --act=int8: int8 rows times int8 weights on the i8 cube.
  mlir::LogicalResult lowerInt8Matmul(moe::GroupedMatmulOp op);
  mlir::LogicalResult lowerActivation(moe::ActivationOp op);
  mlir::LogicalResult lowerCombine(moe::CombineOp op);

  // Whole models (LowerDecoderOps.cpp, LowerViews.cpp).
  mlir::LogicalResult lowerInput(mlir::BlockArgument arg);
  /// Index arithmetic, static and at run time.
  mlir::LogicalResult lowerIndexOp(mlir::Operation *op);
  mlir::LogicalResult lowerCheck(moe::CheckOp op);
  mlir::LogicalResult lowerEmbedding(mlir::Operation *op);
  mlir::LogicalResult lowerRmsNorm(mlir::Operation *op);
  mlir::LogicalResult lowerRope(mlir::Operation *op);
  mlir::LogicalResult lowerAttention(mlir::Operation *op);
  mlir::LogicalResult lowerReshape(mlir::Operation *op);
  mlir::LogicalResult lowerExtractSlice(mlir::Operation *op);
  mlir::LogicalResult lowerInsertSlice(mlir::Operation *op);
  mlir::LogicalResult lowerConcat(mlir::Operation *op);
  mlir::LogicalResult lowerTensorExtract(mlir::Operation *op);
  mlir::LogicalResult lowerTensorInsert(mlir::Operation *op);
  mlir::LogicalResult lowerFromElements(mlir::Operation *op);
  /// A linalg.generic that only permutes dimensions (a copy); false when
  /// `op` is not one.
  mlir::FailureOr<bool> lowerTranspose(mlir::linalg::GenericOp op);
  /// A generic that writes `base + index` (positions): recorded, no phase.
  bool recordPositions(mlir::linalg::GenericOp op);

  /// The run-time node of an index value: its own, or its constant.
  mlir::FailureOr<int64_t> scalarOf(mlir::Value value);
  /// A constant array the lowering makes (a RoPE table), placed once per
  /// entry under `key`.
  GmMatrix generatedWeight(llvm::StringRef key,
                           const std::function<std::vector<uint8_t>()> &bytes,
                           int64_t rows, int64_t cols, ElemType elem);
  /// The npu.program's host records.
  void writeHostRecords();

  ProgramLowering &lowering;
  mlir::func::FuncOp func;
  llvm::DenseMap<mlir::Value, GmMatrix> matrices;
  llvm::DenseMap<mlir::Value, int64_t> indices;
  llvm::DenseMap<mlir::Value, llvm::SmallVector<int64_t>> emptyShapes;
  llvm::DenseMap<unsigned, uint32_t> weightSegments;
  /// Results of matmuls whose gate/up columns were packed concatenated.
  llvm::DenseSet<mlir::Value> deinterleaved;
  /// Int8 weights (lowerInt8Matmul) with a correction array.
  llvm::DenseSet<mlir::Value> &int8Corrections;
  /// Activations computed in their matmul's epilogue.
  llvm::DenseSet<mlir::Operation *> fusedActivations;
  /// Bits and signedness of the quantized weights packed so far.
  llvm::DenseMap<mlir::Value, std::pair<unsigned, bool>> &quantizedForms;

  /// What only the run time knows: index values' nodes, the rows of a view
  /// whose length is one (a KV cache up to the current position), the
  /// base position of a positions tensor.
  RuntimeScalars scalars;
  llvm::DenseMap<mlir::Value, int64_t> runtimeIndices;
  llvm::DenseMap<mlir::Value, int64_t> runtimeRows;
  llvm::DenseMap<mlir::Value, int64_t> positionBase;
  /// Shapes of tensors of rank 3 (a GmMatrix is rows x the rest).
  llvm::DenseMap<mlir::Value, llvm::SmallVector<int64_t>> viewShapes;
  /// The segment of each input (input or state), the call segment, and the
  /// call's token count.
  llvm::DenseMap<unsigned, uint32_t> inputSegments;
  /// The call segment's slot of (argument << 8 | dimension).
  llvm::DenseMap<int64_t, int64_t> extentSlots;
  uint32_t callSegment = 0;
  int64_t tokensNode = -1;
  /// Whether the RoPE table's length is checked already.
  bool ropeChecked = false;
  /// The KV cache's context the program was compiled for (RoPE tables).
  int64_t context = 0;
  /// Host records: run-time checks, the node of each output's rows.
  llvm::SmallVector<mlir::Attribute> checks;
  llvm::SmallVector<int64_t> outputRows;
  /// Residual sums computed in the RMSNorm phase that reads them: the sum
  /// and its two terms.
  llvm::DenseMap<mlir::Value, std::pair<mlir::Value, mlir::Value>> residualSums;
  /// Values a phase wrote besides its op's results (a residual sum).
  llvm::SmallVector<mlir::Value> alsoWritten;
  /// A state's new scalar value (the position), written after every phase.
  llvm::SmallVector<std::pair<mlir::Value, int64_t>> stateStores;
};

/// The element type of a tensor's elements on the NPU.
ElemType elemTypeOf(mlir::Type type);
/// A constant or moe.weight tensor.
bool isWeight(mlir::Value value);
/// A linalg.generic that is a matmul into a zero accumulator.
bool isContraction(mlir::Operation *op);
/// Every use of `value` is as the rows of a float grouped matmul.
bool feedsCubeOnly(mlir::Value value);
/// `value` reaches a router's logits, directly or through elementwise ops.
bool feedsRouter(mlir::Value value);
/// An op whose phases may follow the phases before it without a barrier
/// when it reads nothing they wrote.
bool mayShareAPhase(mlir::Operation *op);
/// Every use of `value` (through reshapes) is as the rows of a dense
/// matmul on the cube, none a router's: it may be stored in the cube's
/// type.
bool feedsDenseCubeOnly(mlir::Value value);

} // namespace moec::npu

#endif // MOEC_TARGETS_NPU_TRANSFORMS_BODYLOWERING_H
