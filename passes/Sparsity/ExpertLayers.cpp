//===- ExpertLayers.cpp - The MoE layers the sparsity passes edit ---------===//

#include "passes/Sparsity/ExpertLayers.h"

#include "passes/Sparsity/ExpertWeights.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace moec;

SmallVector<MoeLayer> moec::collectMoeLayers(ModuleOp module) {
  SmallVector<MoeLayer> layers;
  module.walk([&](moe::ExpertsOp experts) {
    Value weights = experts.getRoutingWeights(), ids = experts.getExpertIds();
    bool direct = true;
    while (Operation *edit = ids.getDefiningOp()) {
      if (!isa<moe::SkipExpertsOp, moe::RemapExpertsOp>(edit) ||
          weights.getDefiningOp() != edit)
        break;
      weights = edit->getOperand(0);
      ids = edit->getOperand(1);
      direct = false;
    }
    auto router = ids.getDefiningOp<moe::RouterOp>();
    if (router && weights != router.getWeights())
      router = nullptr;
    layers.push_back(
        {int64_t(layers.size()), experts, router, router && direct});
  });
  return layers;
}

FailureOr<rt::RoutingProfile>
moec::loadRoutingProfile(StringRef path, ModuleOp module,
                         ArrayRef<MoeLayer> layers) {
  rt::RoutingProfile profile;
  std::string error;
  if (!rt::readRoutingProfile(path.str(), profile, error))
    return module.emitError("routing profile: ") << error;
  if (profile.layers.size() != layers.size())
    return module.emitError("routing profile '")
           << path << "' has " << profile.layers.size()
           << " MoE layers, the model has " << layers.size();
  for (MoeLayer layer : layers) {
    const rt::LayerProfile &measured = profile.layers[layer.index];
    int64_t hidden = layer.experts.getInput().getType().getDimSize(1);
    if (measured.experts != layer.experts.getNumExperts() ||
        measured.hidden != hidden)
      return layer.experts.emitOpError("routing profile '")
             << path << "' layer " << layer.index << " has " << measured.experts
             << " experts of hidden size " << measured.hidden << ", this layer "
             << layer.experts.getNumExperts() << " of " << hidden
             << " (was the profile measured on another model, or on this "
                "one before pruning or merging?)";
  }
  return profile;
}

/// The weight and bias operands: everything after input, routing weights
/// and expert ids.
static SmallVector<OpOperand *> expertStacks(moe::ExpertsOp experts) {
  SmallVector<OpOperand *> stacks;
  for (OpOperand &operand : experts->getOpOperands().drop_front(3))
    stacks.push_back(&operand);
  return stacks;
}

int64_t moec::expertBytes(moe::ExpertsOp experts) {
  int64_t bytes = 0;
  for (OpOperand *operand : expertStacks(experts))
    bytes += weightBytes(operand->get());
  return bytes;
}

LogicalResult
moec::rebuildExpertStacks(moe::ExpertsOp experts,
                          llvm::function_ref<FailureOr<Value>(Value)> rebuild) {
  for (OpOperand *operand : expertStacks(experts)) {
    FailureOr<Value> rebuilt = rebuild(operand->get());
    if (failed(rebuilt))
      return failure();
    operand->set(*rebuilt);
  }
  return success();
}

/// The fill value of `init` = linalg.fill(value, tensor.empty).
static Value fillValue(Value init) {
  auto fill = init.getDefiningOp<linalg::FillOp>();
  if (!fill || !fill.getOutputs()[0].getDefiningOp<tensor::EmptyOp>())
    return Value();
  return fill.getInputs()[0];
}

/// An empty [T, columns] tensor of `like`'s row count and element type; a
/// dynamic T is read off `rows`.
static Value emptyRows(OpBuilder &b, Location loc, Value rows, Value like,
                       size_t columns) {
  auto type = cast<RankedTensorType>(like.getType());
  auto newType = RankedTensorType::get({type.getDimSize(0), int64_t(columns)},
                                       type.getElementType());
  SmallVector<Value> sizes;
  if (newType.isDynamicDim(0))
    sizes.push_back(tensor::DimOp::create(b, loc, rows, 0));
  return tensor::EmptyOp::create(b, loc, newType, sizes);
}

/// logits = x @ W (+ nothing else) with W [H, E] known at compile time:
/// the same matmul on W's columns `keep`; null when the logits come from
/// anything else.
static FailureOr<Value> sliceRouterMatmul(OpBuilder &b, Value logits,
                                          ArrayRef<int64_t> keep,
                                          Operation *user) {
  while (auto cast = logits.getDefiningOp<tensor::CastOp>())
    logits = cast.getSource();
  auto matmul = logits.getDefiningOp<linalg::MatmulOp>();
  if (!matmul || matmul.hasUserDefinedMaps() || !matmul->hasOneUse())
    return Value();
  Value weight = matmul.getInputs()[1];
  Value fill = fillValue(matmul.getOutputs()[0]);
  if (!fill || !(weight.getDefiningOp<arith::ConstantOp>() ||
                 weight.getDefiningOp<moe::WeightOp>()))
    return Value();
  FailureOr<Value> sliced = gatherWeight(b, weight, 1, keep, user);
  if (failed(sliced))
    return failure();
  Location loc = matmul.getLoc();
  Value input = matmul.getInputs()[0];
  Value empty = emptyRows(b, loc, input, matmul.getResult(0), keep.size());
  Value init =
      linalg::FillOp::create(b, loc, ValueRange{fill}, ValueRange{empty})
          .getResult(0);
  return linalg::MatmulOp::create(b, loc, TypeRange{empty.getType()},
                                  ValueRange{input, *sliced}, ValueRange{init})
      .getResult(0);
}

/// out[t, j] = logits[t, keep[j]].
static Value gatherColumns(OpBuilder &b, Location loc, Value logits,
                           ArrayRef<int64_t> keep) {
  Value empty = emptyRows(b, loc, logits, logits, keep.size());
  Type outType = empty.getType();
  Value columns = arith::ConstantOp::create(
      b, loc,
      DenseIntElementsAttr::get(
          RankedTensorType::get({int64_t(keep.size())}, b.getIndexType()),
          keep));
  AffineMap identity = b.getMultiDimIdentityMap(2);
  auto gather = linalg::GenericOp::create(
      b, loc, TypeRange{outType}, ValueRange{}, ValueRange{empty},
      ArrayRef<AffineMap>{identity},
      ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                    utils::IteratorType::parallel},
      [&](OpBuilder &nested, Location nestedLoc, ValueRange) {
        Value t = linalg::IndexOp::create(nested, nestedLoc, 0);
        Value j = linalg::IndexOp::create(nested, nestedLoc, 1);
        Value e = tensor::ExtractOp::create(nested, nestedLoc, columns, j);
        Value value =
            tensor::ExtractOp::create(nested, nestedLoc, logits, {t, e});
        linalg::YieldOp::create(nested, nestedLoc, value);
      });
  return gather.getResult(0);
}

LogicalResult moec::restrictRouter(moe::RouterOp router,
                                   ArrayRef<int64_t> keep) {
  OpBuilder b(router);
  FailureOr<Value> logits =
      sliceRouterMatmul(b, router.getLogits(), keep, router);
  if (failed(logits))
    return failure();
  if (!*logits)
    *logits = gatherColumns(b, router.getLoc(), router.getLogits(), keep);
  router.getLogitsMutable().assign(*logits);
  if (Value bias = router.getSelectionBias()) {
    FailureOr<Value> sliced = gatherWeight(b, bias, 0, keep, router);
    if (failed(sliced))
      return failure();
    router.getSelectionBiasMutable().assign(*sliced);
  }
  return success();
}

void moec::reportLine(StringRef pass, const Twine &text) {
  llvm::errs() << pass << ": " << text << "\n";
}

std::string moec::formatBytes(int64_t bytes) {
  std::string text;
  llvm::raw_string_ostream os(text);
  if (bytes < 1024)
    os << bytes << " B";
  else if (bytes < (int64_t(1) << 20))
    os << llvm::format("%.1f KiB", bytes / 1024.0);
  else
    os << llvm::format("%.1f MiB", bytes / double(1 << 20));
  return text;
}
