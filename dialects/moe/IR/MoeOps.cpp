//===- MoeOps.cpp - moe dialect operations --------------------------------===//

#include "dialects/moe/IR/MoeOps.h"

#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

#include <functional>

using namespace mlir;
using namespace moec::moe;

//===----------------------------------------------------------------------===//
// Shape helpers
//===----------------------------------------------------------------------===//

RankedTensorType moec::moe::getLogicalType(Type type) {
  if (auto packed = dyn_cast<PackedType>(type))
    return packed.getTensorType();
  return cast<RankedTensorType>(type);
}

static bool dimsCompatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

/// Product of two dimensions, dynamic when either is.
static int64_t mulDims(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b)
             ? ShapedType::kDynamic
             : a * b;
}

static std::string dimString(int64_t dim) {
  return ShapedType::isDynamic(dim) ? "?" : std::to_string(dim);
}

/// Checks that `value` has rank `rank`; `what` names it in the message.
static LogicalResult verifyRank(Operation *op, Value value, int64_t rank,
                                StringRef what) {
  int64_t actual = getLogicalType(value.getType()).getRank();
  if (actual == rank)
    return success();
  return op->emitOpError() << "expects " << what << " of rank " << rank
                           << ", got rank " << actual;
}

/// Checks one dimension against an expected extent (dynamic matches all).
static LogicalResult verifyDim(Operation *op, Value value, unsigned index,
                               int64_t expected, StringRef what,
                               StringRef expectedName) {
  int64_t actual = getLogicalType(value.getType()).getDimSize(index);
  if (dimsCompatible(actual, expected))
    return success();
  return op->emitOpError() << what << " dimension " << index << " is "
                           << dimString(actual) << " but " << expectedName
                           << " is " << dimString(expected);
}

static bool isZeroConstant(Value value) {
  return value && matchPattern(value, m_AnyZeroFloat());
}

/// The `activation` custom directive: an ActivationAttr in inline form.
static ParseResult parseActivation(OpAsmParser &parser,
                                   ActivationAttr &activation) {
  activation = ActivationAttr::parseInline(parser);
  return success(static_cast<bool>(activation));
}

static void printActivation(OpAsmPrinter &printer, Operation *,
                            ActivationAttr activation) {
  activation.printInline(printer);
}

/// The `EnumKeyword` custom directive: an enum attribute as a bare keyword
/// (`softmax`), where the default format would print a second space.
template <typename EnumAttrT>
static ParseResult parseEnumKeyword(OpAsmParser &parser, EnumAttrT &attr) {
  using EnumT = decltype(std::declval<EnumAttrT>().getValue());
  SMLoc loc = parser.getCurrentLocation();
  StringRef keyword;
  if (parser.parseKeyword(&keyword))
    return failure();
  std::optional<EnumT> value = symbolizeEnum<EnumT>(keyword);
  if (!value)
    return parser.emitError(loc, "unknown keyword '") << keyword << "'";
  attr = EnumAttrT::get(parser.getContext(), *value);
  return success();
}

template <typename EnumAttrT>
static void printEnumKeyword(OpAsmPrinter &printer, Operation *,
                             EnumAttrT attr) {
  printer << stringifyEnum(attr.getValue());
}

//===----------------------------------------------------------------------===//
// WeightOp
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  if (getKey().empty())
    return emitOpError("expects a non-empty weight key");
  if (getFile().has_value() != getOffset().has_value())
    return emitOpError("expects both a file and an offset, or neither");
  if (getFile() && getFile()->empty())
    return emitOpError("expects a non-empty file name");
  if (getOffsetAttr() && getOffsetAttr().getInt() < 0)
    return emitOpError("expects a non-negative offset, got ")
           << getOffsetAttr().getInt();
  return success();
}

//===----------------------------------------------------------------------===//
// PackedWeightOp
//===----------------------------------------------------------------------===//

LogicalResult PackedWeightOp::verify() {
  PackedType type = getResult().getType();
  PackingAttr packing = type.getPacking();
  SmallVector<int64_t> packedShape = type.getPackedShape();
  SmallVector<int64_t> scaleShape = type.getScaleShape();
  auto shapeString = [](ArrayRef<int64_t> shape) {
    std::string text;
    llvm::raw_string_ostream os(text);
    os << '[';
    llvm::interleaveComma(shape, os);
    os << ']';
    return text;
  };
  if (getData().getType().getShape() != ArrayRef<int64_t>(packedShape))
    return emitOpError() << "expects packed data of shape "
                         << shapeString(packedShape) << " for "
                         << type.getTensorType() << " at " << packing.getBits()
                         << " bits, got "
                         << shapeString(getData().getType().getShape());
  if (getScales().getType().getShape() != ArrayRef<int64_t>(scaleShape))
    return emitOpError() << "expects scales of shape "
                         << shapeString(scaleShape) << " (one per block), got "
                         << shapeString(getScales().getType().getShape());
  if (getScales().getType().getElementType() != packing.getScale())
    return emitOpError() << "scale element type "
                         << getScales().getType().getElementType()
                         << " does not match the packing's "
                         << packing.getScale();
  if (!getZeroPoints()) {
    if (packing.getZeroPoint())
      return emitOpError() << "packing declares zero points of type "
                           << packing.getZeroPoint() << " but none are given";
    return success();
  }
  auto zeroPointType = getZeroPoints().getType();
  if (!packing.getZeroPoint())
    return emitOpError("zero points are given but the packing declares none");
  if (zeroPointType.getShape() != ArrayRef<int64_t>(scaleShape))
    return emitOpError() << "expects zero points of shape "
                         << shapeString(scaleShape) << " (one per block), got "
                         << shapeString(zeroPointType.getShape());
  if (zeroPointType.getElementType() != packing.getZeroPoint())
    return emitOpError() << "zero point element type "
                         << zeroPointType.getElementType()
                         << " does not match the packing's "
                         << packing.getZeroPoint();
  return success();
}

//===----------------------------------------------------------------------===//
// RouterOp
//===----------------------------------------------------------------------===//

void RouterOp::build(OpBuilder &builder, OperationState &state, Value logits,
                     int64_t topK, RouterScoring scoring, Value selectionBias,
                     bool normalize, std::optional<double> scale,
                     GroupLimitAttr groups) {
  auto logitsType = cast<RankedTensorType>(logits.getType());
  SmallVector<int64_t> shape = {logitsType.getDimSize(0), topK};
  build(builder, state,
        RankedTensorType::get(shape, logitsType.getElementType()),
        RankedTensorType::get(shape, builder.getI32Type()), logits,
        selectionBias, builder.getI64IntegerAttr(topK),
        RouterScoringAttr::get(builder.getContext(), scoring),
        normalize ? builder.getUnitAttr() : UnitAttr(),
        scale ? builder.getF64FloatAttr(*scale) : FloatAttr(), groups);
}

void RouterOp::getAsmResultNames(OpAsmSetValueNameFn setNameFn) {
  setNameFn(getWeights(), "weights");
  setNameFn(getIds(), "ids");
}

LogicalResult RouterOp::verify() {
  Operation *op = getOperation();
  RankedTensorType logitsType = getLogits().getType();
  if (failed(verifyRank(op, getLogits(), 2, "logits ([tokens, experts])")))
    return failure();
  int64_t numTokens = logitsType.getDimSize(0);
  int64_t numExperts = logitsType.getDimSize(1);
  if (ShapedType::isDynamic(numExperts))
    return emitOpError("expects a static number of experts");
  int64_t topK = getTopK();
  if (topK > numExperts)
    return emitOpError() << "top_k (" << topK
                         << ") exceeds the number of experts (" << numExperts
                         << ")";

  if (Value bias = getSelectionBias()) {
    auto biasType = cast<RankedTensorType>(bias.getType());
    if (biasType.getRank() != 1 || biasType.getDimSize(0) != numExperts)
      return emitOpError() << "expects a selection bias of shape ["
                           << numExperts << "], got " << biasType;
    if (biasType.getElementType() != logitsType.getElementType())
      return emitOpError("selection bias and logits element types differ");
  }

  for (Value result : {getWeights(), getIds()}) {
    StringRef name = result == getWeights() ? "weights" : "ids";
    if (failed(verifyRank(op, result, 2, name)) ||
        failed(verifyDim(op, result, 0, numTokens, name, "the token count")) ||
        failed(verifyDim(op, result, 1, topK, name, "top_k")))
      return failure();
  }
  if (getWeights().getType().getElementType() != logitsType.getElementType())
    return emitOpError("weights and logits element types differ");

  if (getNormalize() && getScoring() == RouterScoring::SoftmaxAfterTopK)
    return emitOpError("'normalize' is implied by scoring softmax_after_topk");
  if (FloatAttr scale = getScaleAttr())
    if (!scale.getValue().isFiniteNonZero() || scale.getValue().isNegative())
      return emitOpError("scale must be positive and finite");

  if (GroupLimitAttr groups = getGroupsAttr()) {
    int64_t nGroup = groups.getNGroup();
    if (numExperts % nGroup != 0)
      return emitOpError() << "n_group (" << nGroup
                           << ") does not divide the number of experts ("
                           << numExperts << ")";
    int64_t groupSize = numExperts / nGroup;
    if (groups.getScore() == GroupScore::SumTop2 && groupSize < 2)
      return emitOpError() << "group score sum_top2 needs at least 2 experts "
                              "per group, got "
                           << groupSize;
    if (topK > groups.getTopkGroup() * groupSize)
      return emitOpError() << "top_k (" << topK << ") exceeds the "
                           << groups.getTopkGroup() * groupSize
                           << " experts in the topk_group best groups";
  }
  return success();
}

void RouterOp::getCanonicalizationPatterns(RewritePatternSet &patterns,
                                           MLIRContext *context) {
  // Adding zero to every score changes no choice.
  patterns.add(+[](RouterOp op, PatternRewriter &rewriter) {
    if (!isZeroConstant(op.getSelectionBias()))
      return failure();
    rewriter.modifyOpInPlace(op, [&] { op.getSelectionBiasMutable().clear(); });
    return success();
  });
  // Keeping every group, or splitting into one group, limits nothing.
  patterns.add(+[](RouterOp op, PatternRewriter &rewriter) {
    GroupLimitAttr groups = op.getGroupsAttr();
    if (!groups || groups.getTopkGroup() != groups.getNGroup())
      return failure();
    rewriter.modifyOpInPlace(op, [&] { op.removeGroupsAttr(); });
    return success();
  });
  patterns.add(+[](RouterOp op, PatternRewriter &rewriter) {
    FloatAttr scale = op.getScaleAttr();
    if (!scale || !scale.getValue().isExactlyValue(1.0))
      return failure();
    rewriter.modifyOpInPlace(op, [&] { op.removeScaleAttr(); });
    return success();
  });
}

//===----------------------------------------------------------------------===//
// ExpertsOp
//===----------------------------------------------------------------------===//

int64_t ExpertsOp::getNumExperts() {
  return getLogicalType(getDown().getType()).getDimSize(0);
}

int64_t ExpertsOp::getIntermediateSize() {
  return getLogicalType(getDown().getType()).getDimSize(2);
}

/// Checks a stacked expert weight `[E, rows, cols]` and its optional bias
/// `[E, rows]`.
static LogicalResult verifyExpertWeight(Operation *op, Value weight, Value bias,
                                        StringRef name, int64_t numExperts,
                                        int64_t rows, int64_t cols) {
  RankedTensorType type = getLogicalType(weight.getType());
  std::string what = ("'" + name + "' weight").str();
  if (failed(verifyRank(op, weight, 3, what + " ([experts, out, in])")))
    return failure();
  if (type.getShape() != ArrayRef<int64_t>{numExperts, rows, cols})
    return op->emitOpError()
           << "expects " << what << " of shape [" << numExperts << ", " << rows
           << ", " << cols << "], got " << type;
  if (!bias)
    return success();
  auto biasType = cast<RankedTensorType>(bias.getType());
  if (biasType.getShape() != ArrayRef<int64_t>{numExperts, rows})
    return op->emitOpError()
           << "expects '" << name << "_bias' of shape [" << numExperts << ", "
           << rows << "], got " << biasType;
  return success();
}

LogicalResult ExpertsOp::verify() {
  Operation *op = getOperation();
  ActivationAttr activation = getActivation();
  StringRef kind = stringifyActivationKind(activation.getKind());

  // Which projections exist follows from the activation and layout.
  for (auto [weight, bias, name] :
       {std::tuple(getGateUp(), getGateUpBias(), "gate_up"),
        std::tuple(getGate(), getGateBias(), "gate"),
        std::tuple(getUp(), getUpBias(), "up")})
    if (bias && !weight)
      return emitOpError() << "'" << name << "_bias' without a '" << name
                           << "' weight";
  if (activation.isGated()) {
    if (getGateUp() && (getGate() || getUp()))
      return emitOpError("a fused 'gate_up' weight excludes 'gate' and 'up'");
    if (getGateUp() && !getLayout())
      return emitOpError("a fused 'gate_up' weight needs a 'layout' "
                         "(interleaved or concatenated)");
    if (!getGateUp() && !(getGate() && getUp()))
      return emitOpError() << "gated activation " << kind
                           << " needs either 'gate_up' or both 'gate' and "
                              "'up'";
  } else if (getGateUp() || getGate() || !getUp()) {
    return emitOpError() << "ungated activation " << kind
                         << " takes an 'up' and a 'down' weight only";
  }
  if (getLayout() && !getGateUp())
    return emitOpError("'layout' applies only to a fused 'gate_up' weight");

  // Token dimensions.
  if (failed(verifyRank(op, getInput(), 2, "input ([tokens, hidden])")) ||
      failed(verifyRank(op, getRoutingWeights(), 2, "routing weights")) ||
      failed(verifyRank(op, getExpertIds(), 2, "expert ids")))
    return failure();
  RankedTensorType inputType = getInput().getType();
  int64_t numTokens = inputType.getDimSize(0);
  int64_t hidden = inputType.getDimSize(1);
  int64_t topK = getRoutingWeights().getType().getDimSize(1);
  if (failed(verifyDim(op, getRoutingWeights(), 0, numTokens, "routing weights",
                       "the token count")) ||
      failed(verifyDim(op, getExpertIds(), 0, numTokens, "expert ids",
                       "the token count")) ||
      failed(verifyDim(op, getExpertIds(), 1, topK, "expert ids",
                       "the routing weights' k")))
    return failure();

  // Weight shapes, all derived from 'down' = [E, H, I].
  if (failed(
          verifyRank(op, getDown(), 3, "'down' weight ([experts, out, in])")))
    return failure();
  RankedTensorType downType = getLogicalType(getDown().getType());
  int64_t numExperts = downType.getDimSize(0);
  int64_t intermediate = downType.getDimSize(2);
  if (ShapedType::isDynamic(hidden) || hidden != downType.getDimSize(1))
    return emitOpError() << "'down' weight produces " << downType.getDimSize(1)
                         << " features but the input's hidden size is "
                         << dimString(hidden);
  if (failed(verifyExpertWeight(op, getDown(), getDownBias(), "down",
                                numExperts, hidden, intermediate)))
    return failure();
  if (getGateUp() &&
      failed(verifyExpertWeight(op, getGateUp(), getGateUpBias(), "gate_up",
                                numExperts, 2 * intermediate, hidden)))
    return failure();
  for (auto [weight, bias, name] :
       {std::tuple(getGate(), getGateBias(), "gate"),
        std::tuple(getUp(), getUpBias(), "up")})
    if (weight && failed(verifyExpertWeight(op, weight, bias, name, numExperts,
                                            intermediate, hidden)))
      return failure();
  return success();
}

/// Rewrites an op whose activation attribute is not in canonical form.
template <typename OpTy>
static LogicalResult canonicalizeActivation(OpTy op,
                                            PatternRewriter &rewriter) {
  ActivationAttr canonical = op.getActivation().getCanonical();
  if (canonical == op.getActivation())
    return failure();
  rewriter.modifyOpInPlace(op, [&] { op.setActivationAttr(canonical); });
  return success();
}

void ExpertsOp::getCanonicalizationPatterns(RewritePatternSet &patterns,
                                            MLIRContext *context) {
  patterns.add(canonicalizeActivation<ExpertsOp>);
  // A zero bias adds nothing.
  patterns.add(+[](ExpertsOp op, PatternRewriter &rewriter) {
    // Operand segments shift when one is cleared, so each bias range is
    // fetched afresh rather than held across a clear.
    std::function<MutableOperandRange()> biases[] = {
        [&] { return op.getGateUpBiasMutable(); },
        [&] { return op.getGateBiasMutable(); },
        [&] { return op.getUpBiasMutable(); },
        [&] { return op.getDownBiasMutable(); }};
    bool changed = false;
    for (auto &bias : biases) {
      if (bias().empty() || !isZeroConstant(bias()[0].get()))
        continue;
      rewriter.modifyOpInPlace(op, [&] { bias().clear(); });
      changed = true;
    }
    return success(changed);
  });
}

//===----------------------------------------------------------------------===//
// DispatchOp
//===----------------------------------------------------------------------===//

/// Rows a dispatch produces: tokens * k, or num_experts * capacity.
static int64_t dispatchRows(RankedTensorType idsType, int64_t numExperts,
                            std::optional<int64_t> capacity) {
  if (capacity)
    return numExperts * *capacity;
  return mulDims(idsType.getDimSize(0), idsType.getDimSize(1));
}

void DispatchOp::build(OpBuilder &builder, OperationState &state, Value input,
                       Value expertIds, int64_t numExperts,
                       std::optional<int64_t> capacity) {
  auto inputType = cast<RankedTensorType>(input.getType());
  auto idsType = cast<RankedTensorType>(expertIds.getType());
  int64_t numRows = dispatchRows(idsType, numExperts, capacity);
  Type i32 = builder.getI32Type();
  build(builder, state,
        RankedTensorType::get({numRows, inputType.getDimSize(1)},
                              inputType.getElementType()),
        RankedTensorType::get({numRows}, i32),
        RankedTensorType::get({numExperts + 1}, i32), input, expertIds,
        builder.getI64IntegerAttr(numExperts),
        capacity ? builder.getI64IntegerAttr(*capacity) : IntegerAttr());
}

void DispatchOp::getAsmResultNames(OpAsmSetValueNameFn setNameFn) {
  setNameFn(getRows(), "rows");
  setNameFn(getPermutation(), "permutation");
  setNameFn(getOffsets(), "offsets");
}

LogicalResult DispatchOp::verify() {
  Operation *op = getOperation();
  if (failed(verifyRank(op, getInput(), 2, "input ([tokens, hidden])")) ||
      failed(verifyRank(op, getExpertIds(), 2, "expert ids ([tokens, k])")) ||
      failed(verifyRank(op, getRows(), 2, "rows")) ||
      failed(verifyRank(op, getPermutation(), 1, "permutation")) ||
      failed(verifyRank(op, getOffsets(), 1, "offsets")))
    return failure();
  RankedTensorType inputType = getInput().getType();
  RankedTensorType idsType = getExpertIds().getType();
  int64_t numRows = dispatchRows(idsType, getNumExperts(), getCapacity());
  StringRef rowsName = getCapacity() ? "num_experts * capacity" : "tokens * k";
  if (failed(verifyDim(op, getExpertIds(), 0, inputType.getDimSize(0),
                       "expert ids", "the token count")) ||
      failed(verifyDim(op, getRows(), 0, numRows, "rows", rowsName)) ||
      failed(verifyDim(op, getRows(), 1, inputType.getDimSize(1), "rows",
                       "the hidden size")) ||
      failed(
          verifyDim(op, getPermutation(), 0, numRows, "permutation", rowsName)))
    return failure();
  if (getRows().getType().getElementType() != inputType.getElementType())
    return emitOpError("rows and input element types differ");
  int64_t offsets = getOffsets().getType().getDimSize(0);
  if (offsets != static_cast<int64_t>(getNumExperts()) + 1)
    return emitOpError() << "expects " << getNumExperts() + 1
                         << " offsets (num_experts + 1), got "
                         << dimString(offsets);
  return success();
}

//===----------------------------------------------------------------------===//
// GroupedMatmulOp
//===----------------------------------------------------------------------===//

void GroupedMatmulOp::build(OpBuilder &builder, OperationState &state,
                            Value rows, Value weight, Value offsets,
                            Value bias) {
  auto rowsType = cast<RankedTensorType>(rows.getType());
  RankedTensorType weightType = getLogicalType(weight.getType());
  build(
      builder, state,
      RankedTensorType::get({rowsType.getDimSize(0), weightType.getDimSize(1)},
                            rowsType.getElementType()),
      rows, weight, offsets, bias);
}

LogicalResult GroupedMatmulOp::verify() {
  Operation *op = getOperation();
  if (failed(verifyRank(op, getRows(), 2, "rows ([rows, in])")) ||
      failed(verifyRank(op, getWeight(), 3, "weight ([experts, out, in])")) ||
      failed(verifyRank(op, getOffsets(), 1, "offsets")) ||
      failed(verifyRank(op, getOutput(), 2, "output")))
    return failure();
  RankedTensorType weightType = getLogicalType(getWeight().getType());
  int64_t numExperts = weightType.getDimSize(0);
  int64_t outFeatures = weightType.getDimSize(1);
  if (failed(verifyDim(op, getRows(), 1, weightType.getDimSize(2), "rows",
                       "the weight's input size")) ||
      failed(verifyDim(op, getOffsets(), 0, numExperts + 1, "offsets",
                       "num_experts + 1")) ||
      failed(verifyDim(op, getOutput(), 0, getRows().getType().getDimSize(0),
                       "output", "the row count")) ||
      failed(verifyDim(op, getOutput(), 1, outFeatures, "output",
                       "the weight's output size")))
    return failure();
  if (Value bias = getBias()) {
    auto biasType = cast<RankedTensorType>(bias.getType());
    if (biasType.getShape() != ArrayRef<int64_t>{numExperts, outFeatures})
      return emitOpError() << "expects a bias of shape [" << numExperts << ", "
                           << outFeatures << "], got " << biasType;
  }
  if (getOutput().getType().getElementType() !=
      getRows().getType().getElementType())
    return emitOpError("output and rows element types differ");
  return success();
}

void GroupedMatmulOp::getCanonicalizationPatterns(RewritePatternSet &patterns,
                                                  MLIRContext *context) {
  patterns.add(+[](GroupedMatmulOp op, PatternRewriter &rewriter) {
    if (!isZeroConstant(op.getBias()))
      return failure();
    rewriter.modifyOpInPlace(op, [&] { op.getBiasMutable().clear(); });
    return success();
  });
}

//===----------------------------------------------------------------------===//
// ActivationOp
//===----------------------------------------------------------------------===//

void ActivationOp::build(OpBuilder &builder, OperationState &state, Value input,
                         ActivationAttr activation,
                         std::optional<GateUpLayout> layout, Value up) {
  auto inputType = cast<RankedTensorType>(input.getType());
  SmallVector<int64_t> shape(inputType.getShape());
  if (layout && !ShapedType::isDynamic(shape.back()))
    shape.back() /= 2;
  build(builder, state,
        RankedTensorType::get(shape, inputType.getElementType()), input, up,
        activation,
        layout ? GateUpLayoutAttr::get(builder.getContext(), *layout)
               : GateUpLayoutAttr());
}

LogicalResult ActivationOp::verify() {
  Operation *op = getOperation();
  ActivationAttr activation = getActivation();
  StringRef kind = stringifyActivationKind(activation.getKind());
  if (failed(verifyRank(op, getInput(), 2, "input ([rows, features])")) ||
      failed(verifyRank(op, getOutput(), 2, "output")))
    return failure();
  RankedTensorType inputType = getInput().getType();
  RankedTensorType outputType = getOutput().getType();
  if (outputType.getElementType() != inputType.getElementType())
    return emitOpError("output and input element types differ");
  if (!activation.isGated()) {
    if (getUp() || getLayout())
      return emitOpError() << "ungated activation " << kind
                           << " takes one input and no layout";
  } else if (getUp()) {
    if (getLayout())
      return emitOpError("'layout' applies only to a fused gate/up input");
    if (getUp().getType() != inputType)
      return emitOpError("gate and up inputs must have the same type");
  } else if (!getLayout()) {
    return emitOpError() << "gated activation " << kind
                         << " needs either an 'up' input or a 'layout' for a "
                            "fused gate/up input";
  }
  int64_t features = inputType.getDimSize(1);
  if (getLayout()) {
    if (!ShapedType::isDynamic(features) && features % 2 != 0)
      return emitOpError() << "fused gate/up input has an odd feature count "
                           << features;
    if (!ShapedType::isDynamic(features))
      features /= 2;
  }
  if (failed(verifyDim(op, getOutput(), 0, inputType.getDimSize(0), "output",
                       "the input's row count")) ||
      failed(verifyDim(op, getOutput(), 1, features, "output",
                       "the activation's width")))
    return failure();
  return success();
}

OpFoldResult ActivationOp::fold(FoldAdaptor) {
  if (getActivation().getKind() == ActivationKind::Identity &&
      getInput().getType() == getOutput().getType())
    return getInput();
  return {};
}

void ActivationOp::getCanonicalizationPatterns(RewritePatternSet &patterns,
                                               MLIRContext *context) {
  patterns.add(canonicalizeActivation<ActivationOp>);
}

//===----------------------------------------------------------------------===//
// CombineOp
//===----------------------------------------------------------------------===//

void CombineOp::build(OpBuilder &builder, OperationState &state, Value rows,
                      Value permutation, Value routingWeights) {
  auto rowsType = cast<RankedTensorType>(rows.getType());
  auto weightsType = cast<RankedTensorType>(routingWeights.getType());
  build(
      builder, state,
      RankedTensorType::get({weightsType.getDimSize(0), rowsType.getDimSize(1)},
                            rowsType.getElementType()),
      rows, permutation, routingWeights);
}

LogicalResult CombineOp::verify() {
  Operation *op = getOperation();
  if (failed(verifyRank(op, getRows(), 2, "rows ([tokens * k, hidden])")) ||
      failed(verifyRank(op, getPermutation(), 1, "permutation")) ||
      failed(verifyRank(op, getRoutingWeights(), 2,
                        "routing weights ([tokens, k])")) ||
      failed(verifyRank(op, getOutput(), 2, "output")))
    return failure();
  RankedTensorType weightsType = getRoutingWeights().getType();
  if (failed(verifyDim(op, getPermutation(), 0,
                       getRows().getType().getDimSize(0), "permutation",
                       "the row count")) ||
      failed(verifyDim(op, getOutput(), 0, weightsType.getDimSize(0), "output",
                       "the token count")) ||
      failed(verifyDim(op, getOutput(), 1, getRows().getType().getDimSize(1),
                       "output", "the hidden size")))
    return failure();
  if (getOutput().getType().getElementType() !=
      getRows().getType().getElementType())
    return emitOpError("output and rows element types differ");
  return success();
}

//===----------------------------------------------------------------------===//
// SkipExpertsOp, RemapExpertsOp
//===----------------------------------------------------------------------===//

/// Routing weights and ids of the same [tokens, k] shape.
static LogicalResult verifyRoutingPair(Operation *op, Value weights,
                                       Value ids) {
  if (failed(verifyRank(op, weights, 2, "weights ([tokens, k])")) ||
      failed(verifyRank(op, ids, 2, "ids ([tokens, k])")))
    return failure();
  auto weightsType = cast<RankedTensorType>(weights.getType());
  if (failed(verifyDim(op, ids, 0, weightsType.getDimSize(0), "ids",
                       "the token count")) ||
      failed(verifyDim(op, ids, 1, weightsType.getDimSize(1), "ids", "k")))
    return failure();
  return success();
}

LogicalResult SkipExpertsOp::verify() {
  double threshold = getThreshold().convertToDouble();
  if (!(threshold >= 0.0 && threshold <= 1.0))
    return emitOpError() << "threshold must be in [0, 1], got " << threshold;
  return verifyRoutingPair(getOperation(), getWeights(), getIds());
}

LogicalResult RemapExpertsOp::verify() {
  for (int32_t target : getMap())
    if (target < -1)
      return emitOpError() << "map entries must be -1 or an expert, got "
                           << target;
  return verifyRoutingPair(getOperation(), getWeights(), getIds());
}

//===----------------------------------------------------------------------===//
// CheckOp
//===----------------------------------------------------------------------===//

LogicalResult CheckOp::verify() {
  size_t count = getValues().size();
  if (count > kMaxCheckValues)
    return emitOpError() << "takes at most " << kMaxCheckValues
                         << " values, got " << count;
  for (Type type : getValues().getTypes())
    if (!type.isIndex() && type.getIntOrFloatBitWidth() > 64)
      return emitOpError() << "values must be index or integers of at most "
                              "64 bits, got "
                           << type;
  // The runtime's grammar: "{{" is a brace, "{0}" ... "{3}" a value.
  StringRef message = getMessage();
  for (size_t i = message.find('{'); i != StringRef::npos;
       i = message.find('{', i + 1)) {
    if (message.substr(i, 2) == "{{") {
      ++i;
      continue;
    }
    StringRef rest = message.substr(i);
    if (rest.size() < 3 || rest[1] < '0' || rest[1] > '3' || rest[2] != '}')
      return emitOpError() << "message has a '{' that is neither '{{' nor "
                              "a placeholder {0} ... {3}";
    if (unsigned(rest[1] - '0') >= count)
      return emitOpError() << "message names value {" << rest[1] << "} of "
                           << count;
  }
  return success();
}

std::string moec::moe::escapeCheckText(StringRef text) {
  std::string escaped;
  for (char c : text) {
    escaped.push_back(c);
    if (c == '{')
      escaped.push_back(c);
  }
  return escaped;
}

LogicalResult CheckOp::canonicalize(CheckOp op, PatternRewriter &rewriter) {
  if (!matchPattern(op.getCondition(), m_One()))
    return failure();
  rewriter.eraseOp(op);
  return success();
}

#define GET_OP_CLASSES
#include "dialects/moe/IR/MoeOps.cpp.inc"
