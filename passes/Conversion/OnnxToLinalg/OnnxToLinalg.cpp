//===- OnnxToLinalg.cpp - Lower onnx.node ops to upstream dialects --------===//

#include "passes/Conversion/Passes.h"

#include "passes/Conversion/OnnxToLinalg/NodeLowering.h"
#include "passes/Conversion/OnnxToLinalg/OnnxToLinalg.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace moec {
#define GEN_PASS_DEF_CONVERTONNXTOLINALG
#include "passes/Conversion/Passes.h.inc"
} // namespace moec

using namespace mlir;
using namespace moec;
using namespace moec::onnx_lowering;

static const LoweringTable &getLoweringTable() {
  static const LoweringTable table = [] {
    LoweringTable t;
    addElementwiseLowerings(t);
    addContractionLowerings(t);
    addShapeLowerings(t);
    addSliceLowerings(t);
    addReplicateLowerings(t);
    addIndexingLowerings(t);
    addScatterLowerings(t);
    addNormalizationLowerings(t);
    addQuantizationLowerings(t);
    return t;
  }();
  return table;
}

std::vector<std::string> moec::getLowerableOnnxOps() {
  std::vector<std::string> ops;
  for (const auto &entry : getLoweringTable()) {
    auto [domain, opType] = entry.getKey().split("::");
    ops.push_back(domain.empty() ? opType.str()
                                 : (domain + "." + opType).str());
  }
  llvm::sort(ops);
  return ops;
}

/// Whether `actual` can stand where the model declared `declared`: same
/// element type and no static dimension that disagrees.
static bool isCompatible(Type declared, Type actual) {
  auto declaredShaped = dyn_cast<ShapedType>(declared);
  auto actualShaped = dyn_cast<ShapedType>(actual);
  if (!declaredShaped || !actualShaped)
    return isa<NoneType>(declared);
  if (declaredShaped.getElementType() != actualShaped.getElementType())
    return false;
  if (!declaredShaped.hasRank())
    return true;
  return succeeded(verifyCompatibleShape(declaredShaped, actualShaped));
}

static LogicalResult lowerNode(OpBuilder &b, onnx::NodeOp node) {
  NodeLowering lowering(b, node);
  const LoweringTable &table = getLoweringTable();
  auto it = table.find(loweringKey(node.getDomain(), node.getOpType()));
  if (it == table.end())
    return lowering.error() << "unsupported op (moec imports the ops listed "
                               "in docs/onnx-import.md)";
  if (node.getNumResults() == 0)
    return lowering.error() << "has no outputs";
  // Every lowering needs ranks; checking here keeps them free of the
  // unranked case.
  for (unsigned i = 0; i < lowering.numInputs(); ++i)
    if (Value input = lowering.input(i);
        input && failed(lowering.rankedInput(i)))
      return failure();
  b.setInsertionPoint(node);
  FailureOr<SmallVector<Value>> results = it->second(lowering);
  if (failed(results))
    return failure();
  for (auto [i, result] : llvm::enumerate(node.getResults())) {
    Value lowered = i < results->size() ? (*results)[i] : Value();
    if (!lowered) {
      if (!result.use_empty())
        return lowering.error() << "output " << i << " is not supported";
      continue;
    }
    Type declared = result.getType();
    if (!isCompatible(declared, lowered.getType()))
      return lowering.error() << "output " << i << " is " << lowered.getType()
                              << " but the model declares " << declared;
    // Keep what the model declares when it knows more than we derived.
    if (auto ranked = dyn_cast<RankedTensorType>(declared)) {
      auto loweredType = cast<RankedTensorType>(lowered.getType());
      SmallVector<int64_t> shape(loweredType.getShape());
      for (auto [dim, declaredDim] : llvm::zip(shape, ranked.getShape()))
        if (ShapedType::isDynamic(dim))
          dim = declaredDim;
      if (ArrayRef<int64_t>(shape) != loweredType.getShape())
        lowered = tensor::CastOp::create(b, node.getLoc(),
                                         loweredType.clone(shape), lowered);
    }
    result.replaceAllUsesWith(lowered);
  }
  node.erase();
  return success();
}

namespace {
struct ConvertOnnxToLinalgPass
    : public moec::impl::ConvertOnnxToLinalgBase<ConvertOnnxToLinalgPass> {
  void runOnOperation() override {
    OpBuilder b(&getContext());
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      SmallVector<onnx::NodeOp> nodes;
      func.walk([&](onnx::NodeOp node) { nodes.push_back(node); });
      for (onnx::NodeOp node : nodes)
        if (failed(lowerNode(b, node)))
          return signalPassFailure();
      func.walk([](onnx::NoneOp none) {
        if (none.use_empty())
          none.erase();
      });
      if (func.isExternal())
        continue;
      auto ret = cast<func::ReturnOp>(func.getBody().back().getTerminator());
      func.setFunctionType(FunctionType::get(
          &getContext(), func.getArgumentTypes(), ret.getOperandTypes()));
    }
  }
};
} // namespace
