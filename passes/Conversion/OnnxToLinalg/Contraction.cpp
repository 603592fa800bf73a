//===- Contraction.cpp - MatMul, Gemm and MatMulNBits to linalg -----------===//

#include "passes/Conversion/OnnxToLinalg/NodeLowering.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace moec;
using namespace moec::onnx_lowering;

/// Checks that two static contraction sizes agree.
static LogicalResult checkContraction(NodeLowering &node, Value a, int64_t da,
                                      Value b, int64_t db) {
  int64_t ka = cast<RankedTensorType>(a.getType()).getDimSize(da);
  int64_t kb = cast<RankedTensorType>(b.getType()).getDimSize(db);
  if (!ShapedType::isDynamic(ka) && !ShapedType::isDynamic(kb) && ka != kb)
    return node.error() << "contracts a dimension of size " << ka
                        << " with one of size " << kb;
  return success();
}

/// numpy matmul: [..., M, K] x [..., K, N] with broadcast batch dimensions;
/// a 1-D operand contributes no M (or N) dimension.
static FailureOr<SmallVector<Value>> lowerMatMul(NodeLowering &node) {
  FailureOr<Value> lhsOr = node.rankedInput(0);
  FailureOr<Value> rhsOr = node.rankedInput(1);
  if (failed(lhsOr) || failed(rhsOr))
    return failure();
  OpBuilder &b = node.b;
  Location loc = node.loc;
  Type element = getElementType(*lhsOr);
  if (element != getElementType(*rhsOr))
    return node.error() << "expects inputs of one element type", failure();
  if (isUnsignedInteger(element) || element.isInteger(1))
    return node.error() << "does not support " << element << " inputs",
           failure();
  Value lhs = *lhsOr, rhs = *rhsOr;
  auto lhsType = cast<RankedTensorType>(lhs.getType());
  auto rhsType = cast<RankedTensorType>(rhs.getType());
  int64_t lhsRank = lhsType.getRank(), rhsRank = rhsType.getRank();
  if (lhsRank == 0 || rhsRank == 0)
    return node.error() << "expects inputs of rank at least 1", failure();
  if (failed(checkContraction(node, lhs, lhsRank - 1, rhs,
                              rhsRank == 1 ? 0 : rhsRank - 2)))
    return failure();

  Value zero = scalarConstant(b, loc, element, 0);
  if (lhsRank == 2 && rhsRank == 2) {
    Value init = filledTensor(b, loc,
                              {tensor::getMixedSize(b, loc, lhs, 0),
                               tensor::getMixedSize(b, loc, rhs, 1)},
                              zero);
    return SmallVector<Value>{
        linalg::MatmulOp::create(b, loc, ValueRange{lhs, rhs}, init)
            .getResult(0)};
  }

  int64_t batchRank = std::max<int64_t>({lhsRank - 2, rhsRank - 2, 0});
  bool hasM = lhsRank > 1, hasN = rhsRank > 1;
  int64_t mDim = batchRank, nDim = batchRank + (hasM ? 1 : 0);
  int64_t kDim = nDim + (hasN ? 1 : 0);
  int64_t numLoops = kDim + 1;
  SmallVector<OpFoldResult> sizes;
  // Batch sizes broadcast like element-wise ops.
  for (int64_t d = 0; d < batchRank; ++d) {
    OpFoldResult size = b.getIndexAttr(1);
    std::optional<int64_t> staticSize;
    for (auto [operand, rank] : {std::pair(lhs, lhsRank), {rhs, rhsRank}}) {
      int64_t dim = d - (batchRank - (rank - 2));
      if (rank < 3 || dim < 0)
        continue;
      int64_t s = cast<RankedTensorType>(operand.getType()).getDimSize(dim);
      if (s == 1)
        continue;
      if (!ShapedType::isDynamic(s)) {
        if (staticSize && *staticSize != s)
          return node.error() << "cannot broadcast batch dimension of size "
                              << *staticSize << " with one of size " << s,
                 failure();
        staticSize = s;
      }
      size = tensor::getMixedSize(b, loc, operand, dim);
    }
    sizes.push_back(staticSize ? b.getIndexAttr(*staticSize) : size);
  }
  if (hasM)
    sizes.push_back(tensor::getMixedSize(b, loc, lhs, lhsRank - 2));
  if (hasN)
    sizes.push_back(tensor::getMixedSize(b, loc, rhs, rhsRank - 1));
  auto batchExprs = [&](Value operand, int64_t rank) {
    SmallVector<AffineExpr> exprs;
    for (int64_t dim = 0; dim < rank - 2; ++dim) {
      int64_t d = dim + (batchRank - (rank - 2));
      int64_t s = cast<RankedTensorType>(operand.getType()).getDimSize(dim);
      exprs.push_back(s == 1 && !isConstantIntValue(sizes[d], 1)
                          ? b.getAffineConstantExpr(0)
                          : b.getAffineDimExpr(d));
    }
    return exprs;
  };
  SmallVector<AffineExpr> lhsExprs = batchExprs(lhs, lhsRank);
  if (hasM)
    lhsExprs.push_back(b.getAffineDimExpr(mDim));
  lhsExprs.push_back(b.getAffineDimExpr(kDim));
  SmallVector<AffineExpr> rhsExprs = batchExprs(rhs, rhsRank);
  rhsExprs.push_back(b.getAffineDimExpr(kDim));
  if (hasN)
    rhsExprs.push_back(b.getAffineDimExpr(nDim));
  SmallVector<AffineExpr> outExprs;
  for (int64_t d = 0; d < kDim; ++d)
    outExprs.push_back(b.getAffineDimExpr(d));
  Value init = filledTensor(b, loc, sizes, zero);
  SmallVector<AffineMap> maps = {
      AffineMap::get(numLoops, 0, lhsExprs, b.getContext()),
      AffineMap::get(numLoops, 0, rhsExprs, b.getContext()),
      AffineMap::get(numLoops, 0, outExprs, b.getContext())};
  return SmallVector<Value>{buildContraction(b, loc, lhs, rhs, init, maps)};
}

/// Y = alpha * A' B' + beta * C, with A' and B' optionally transposed.
static FailureOr<SmallVector<Value>> lowerGemm(NodeLowering &node) {
  FailureOr<Value> lhs = node.rankedInput(0);
  FailureOr<Value> rhs = node.rankedInput(1);
  if (failed(lhs) || failed(rhs))
    return failure();
  OpBuilder &b = node.b;
  Location loc = node.loc;
  if (cast<RankedTensorType>(lhs->getType()).getRank() != 2 ||
      cast<RankedTensorType>(rhs->getType()).getRank() != 2)
    return node.error() << "expects 2-D A and B", failure();
  Type element = getElementType(*lhs);
  if (!isa<FloatType>(element) || element != getElementType(*rhs))
    return node.error() << "expects floating-point A and B of one type",
           failure();
  bool transA = node.intAttr("transA", 0), transB = node.intAttr("transB", 0);
  if (failed(
          checkContraction(node, *lhs, transA ? 0 : 1, *rhs, transB ? 1 : 0)))
    return failure();
  AffineExpr m = b.getAffineDimExpr(0), n = b.getAffineDimExpr(1),
             k = b.getAffineDimExpr(2);
  SmallVector<AffineMap> maps = {
      AffineMap::get(3, 0, transA ? ArrayRef{k, m} : ArrayRef{m, k},
                     b.getContext()),
      AffineMap::get(3, 0, transB ? ArrayRef{n, k} : ArrayRef{k, n},
                     b.getContext()),
      AffineMap::get(3, 0, {m, n}, b.getContext())};
  Value init =
      filledTensor(b, loc,
                   {tensor::getMixedSize(b, loc, *lhs, transA ? 1 : 0),
                    tensor::getMixedSize(b, loc, *rhs, transB ? 0 : 1)},
                   scalarConstant(b, loc, element, 0));
  Value product = buildContraction(b, loc, *lhs, *rhs, init, maps);
  double alpha = node.floatAttr("alpha", 1.0),
         beta = node.floatAttr("beta", 1.0);
  Value bias = node.input(2);
  if (bias && (cast<ShapedType>(bias.getType()).getRank() > 2 ||
               getElementType(bias) != element))
    return node.error() << "expects C of A's element type and rank at most "
                           "2, got "
                        << bias.getType(),
           failure();
  if (alpha == 1.0 && (!bias || beta == 0.0))
    return SmallVector<Value>{product};
  SmallVector<Value> inputs = {product};
  if (bias && beta != 0.0)
    inputs.push_back(bias);
  FailureOr<Value> result = buildElementwise(
      node, inputs, element, [&](OpBuilder &nb, Location l, ValueRange args) {
        Value y = args[0];
        if (alpha != 1.0)
          y = arith::MulFOp::create(nb, l, y,
                                    scalarConstant(nb, l, element, alpha));
        if (args.size() > 1) {
          Value c = args[1];
          if (beta != 1.0)
            c = arith::MulFOp::create(nb, l, c,
                                      scalarConstant(nb, l, element, beta));
          y = arith::AddFOp::create(nb, l, y, c);
        }
        return y;
      });
  if (failed(result))
    return failure();
  return SmallVector<Value>{*result};
}

/// Extracts element `index` of `bits` bits from packed bytes (element 0 in
/// the least significant bits), as an i32.
static Value unpackBits(OpBuilder &b, Location loc, Value byte, Value index,
                        int64_t bits) {
  Value wide = arith::ExtUIOp::create(b, loc, b.getI32Type(), byte);
  if (bits == 8)
    return wide;
  Value perByte = indexConstant(b, loc, 8 / bits);
  Value slot = arith::RemUIOp::create(b, loc, index, perByte);
  Value shift = arith::MulIOp::create(
      b, loc, arith::IndexCastOp::create(b, loc, b.getI32Type(), slot),
      scalarConstant(b, loc, b.getI32Type(), bits));
  Value shifted = arith::ShRUIOp::create(b, loc, wide, shift);
  return arith::AndIOp::create(
      b, loc, shifted, scalarConstant(b, loc, b.getI32Type(), (1 << bits) - 1));
}

/// com.microsoft MatMulNBits: A [..., K] times the transpose of B, whose
/// [N, K] elements are `bits`-bit integers in blocks of `block_size` along
/// K with one scale (and zero point) per block.
static FailureOr<SmallVector<Value>> lowerMatMulNBits(NodeLowering &node) {
  FailureOr<Value> a = node.rankedInput(0);
  FailureOr<Value> packed = node.rankedInput(1);
  FailureOr<Value> scales = node.rankedInput(2);
  if (failed(a) || failed(packed) || failed(scales))
    return failure();
  OpBuilder &b = node.b;
  Location loc = node.loc;
  int64_t k = node.intAttr("K", 0), n = node.intAttr("N", 0);
  int64_t bits = node.intAttr("bits", 4),
          blockSize = node.intAttr("block_size", 0);
  if (k <= 0 || n <= 0)
    return node.error() << "needs positive K and N attributes", failure();
  if (bits != 2 && bits != 4 && bits != 8)
    return node.error() << "supports 2, 4 or 8 bits, got " << bits, failure();
  if (blockSize < 16 || (blockSize & (blockSize - 1)))
    return node.error() << "needs a block_size that is a power of 2 of at "
                           "least 16, got "
                        << blockSize,
           failure();
  if (node.input(4))
    return node.error() << "does not support g_idx", failure();
  Type element = getElementType(*a);
  auto aType = cast<RankedTensorType>(a->getType());
  if (!isa<FloatType>(element) || aType.getRank() < 1 ||
      (!aType.isDynamicDim(aType.getRank() - 1) &&
       aType.getDimSize(aType.getRank() - 1) != k))
    return node.error() << "expects floating-point A with last dimension K = "
                        << k << ", got " << a->getType(),
           failure();
  int64_t blocks = (k + blockSize - 1) / blockSize;
  int64_t blobBytes = blockSize * bits / 8;
  auto packedType = cast<RankedTensorType>(packed->getType());
  if (packedType !=
      RankedTensorType::get(
          {n, blocks, blobBytes},
          IntegerType::get(b.getContext(), 8, IntegerType::Unsigned)))
    return node.error() << "expects B as tensor<" << n << "x" << blocks << "x"
                        << blobBytes << "xui8>, got " << packedType,
           failure();
  auto scaleType = cast<RankedTensorType>(scales->getType());
  bool flatScales = scaleType.getRank() == 1;
  if (scaleType.getElementType() != element ||
      (flatScales ? scaleType.getShape() != ArrayRef<int64_t>{n * blocks}
                  : scaleType.getShape() != ArrayRef<int64_t>{n, blocks}))
    return node.error() << "expects scales of A's element type shaped [" << n
                        << ", " << blocks << "] or [" << n * blocks << "], got "
                        << scaleType,
           failure();
  Value zeroPoints = node.input(3);
  bool packedZeroPoints = false;
  if (zeroPoints) {
    auto zpType = cast<RankedTensorType>(zeroPoints.getType());
    packedZeroPoints = isUnsignedInteger(zpType.getElementType());
    int64_t zpCols = packedZeroPoints ? (blocks * bits + 7) / 8 : blocks;
    if (zpType.getShape() != ArrayRef<int64_t>{n, zpCols} &&
        zpType.getShape() != ArrayRef<int64_t>{n * zpCols})
      return node.error() << "expects zero points shaped [" << n << ", "
                          << zpCols << "], got " << zpType,
             failure();
    if (!packedZeroPoints && zpType.getElementType() != element)
      return node.error() << "expects uint8 or A-typed zero points", failure();
    if (zpType.getRank() == 1)
      zeroPoints = tensor::ExpandShapeOp::create(
          b, loc, RankedTensorType::get({n, zpCols}, zpType.getElementType()),
          zeroPoints, SmallVector<ReassociationIndices>{{0, 1}});
  }
  Value packedBytes = toSignless(b, loc, *packed);
  Value scaleTable = *scales;
  if (flatScales)
    scaleTable = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({n, blocks}, element), scaleTable,
        SmallVector<ReassociationIndices>{{0, 1}});
  if (zeroPoints && packedZeroPoints)
    zeroPoints = toSignless(b, loc, zeroPoints);

  // Dequantize into [N, K]; the CPU target fuses this into the product.
  Value weightInit =
      emptyTensor(b, loc, {b.getIndexAttr(n), b.getIndexAttr(k)}, element);
  Value weights = buildParallelGeneric(
      b, loc, weightInit, {}, {}, [&](OpBuilder &nb, Location l, ValueRange) {
        Value row = linalg::IndexOp::create(nb, l, 0);
        Value col = linalg::IndexOp::create(nb, l, 1);
        Value block =
            arith::DivUIOp::create(nb, l, col, indexConstant(nb, l, blockSize));
        Value within =
            arith::RemUIOp::create(nb, l, col, indexConstant(nb, l, blockSize));
        Value byteIndex = arith::DivUIOp::create(
            nb, l, within, indexConstant(nb, l, 8 / bits));
        Value byte = tensor::ExtractOp::create(
            nb, l, packedBytes, ValueRange{row, block, byteIndex});
        Value q = unpackBits(nb, l, byte, within, bits);
        Value value = arith::UIToFPOp::create(nb, l, element, q);
        Value zp;
        if (!zeroPoints) {
          zp = scalarConstant(nb, l, element, 1 << (bits - 1));
        } else if (packedZeroPoints) {
          Value zpIndex = arith::DivUIOp::create(
              nb, l, block, indexConstant(nb, l, 8 / bits));
          Value zpByte = tensor::ExtractOp::create(nb, l, zeroPoints,
                                                   ValueRange{row, zpIndex});
          zp = arith::UIToFPOp::create(nb, l, element,
                                       unpackBits(nb, l, zpByte, block, bits));
        } else {
          zp = tensor::ExtractOp::create(nb, l, zeroPoints,
                                         ValueRange{row, block});
        }
        Value scale = tensor::ExtractOp::create(nb, l, scaleTable,
                                                ValueRange{row, block});
        Value centered = arith::SubFOp::create(nb, l, value, zp);
        linalg::YieldOp::create(
            nb, l, Value(arith::MulFOp::create(nb, l, centered, scale)));
      });

  // Y[..., n] = sum_k A[..., k] * W[n, k].
  int64_t rank = aType.getRank();
  int64_t numLoops = rank + 1;
  SmallVector<AffineExpr> aExprs, wExprs, outExprs;
  SmallVector<OpFoldResult> sizes;
  for (int64_t d = 0; d < rank - 1; ++d) {
    aExprs.push_back(b.getAffineDimExpr(d));
    outExprs.push_back(b.getAffineDimExpr(d));
    sizes.push_back(tensor::getMixedSize(b, loc, *a, d));
  }
  AffineExpr nExpr = b.getAffineDimExpr(rank - 1),
             kExpr = b.getAffineDimExpr(rank);
  aExprs.push_back(kExpr);
  wExprs = {nExpr, kExpr};
  outExprs.push_back(nExpr);
  sizes.push_back(b.getIndexAttr(n));
  Value init = filledTensor(b, loc, sizes, scalarConstant(b, loc, element, 0));
  Value product =
      buildContraction(b, loc, *a, weights, init,
                       {AffineMap::get(numLoops, 0, aExprs, b.getContext()),
                        AffineMap::get(numLoops, 0, wExprs, b.getContext()),
                        AffineMap::get(numLoops, 0, outExprs, b.getContext())});
  Value bias = node.input(5);
  if (!bias)
    return SmallVector<Value>{product};
  if (failed(node.requireElementType(bias, element)))
    return failure();
  FailureOr<Value> result =
      buildElementwise(node, {product, bias}, element,
                       [](OpBuilder &nb, Location l, ValueRange args) {
                         return arith::AddFOp::create(nb, l, args[0], args[1]);
                       });
  if (failed(result))
    return failure();
  return SmallVector<Value>{*result};
}

void onnx_lowering::addContractionLowerings(LoweringTable &table) {
  table[loweringKey("", "MatMul")] = lowerMatMul;
  table[loweringKey("", "Gemm")] = lowerGemm;
  table[loweringKey("com.microsoft", "MatMulNBits")] = lowerMatMulNBits;
}
