//===- DotProducts.cpp - Products with weights in torch's [N, K] layout ---===//

#include "targets/cpu/DotProducts.h"

#include "targets/cpu/InlineAsm.h"
#include "targets/cpu/RegisterTile.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace moec;
using namespace moec::cpu;

/// Activation rows per pass: 4, or 6 with bf16 pairs (24 accumulators of
/// the 32 registers; each weight vector loaded feeds 6 vdpbf16ps).
static int64_t tokensPerPass(bool pairs) { return pairs ? 6 : 4; }

DotProducts::DotProducts(LoopBuilder &b, Value x, Value w, Value output,
                         int64_t lanes)
    : b(b), x(x), w(w), output(output), lanes(lanes) {
  auto wType = cast<MemRefType>(w.getType());
  depth = wType.getShape().back();
  rowCount = wType.getShape()[wType.getRank() - 2];
  f32Vector = VectorType::get({lanes}, b.getF32Type());
  wVector = VectorType::get({lanes}, wType.getElementType());
  zero = arith::ConstantOp::create(b, f32Vector,
                                   DenseElementsAttr::get(f32Vector, 0.0f));
}

/// acc + the products of adjacent bf16 pairs of `w` and `x` (32 each),
/// into 16 f32 lanes: AVX512-BF16's vdpbf16ps.
static Value dotPairs(LoopBuilder &b, Value acc, Value w, Value x) {
  auto words = VectorType::get({16}, b.getI32Type());
  return cpu::inlineAsm(b, b.getLoc(), acc.getType(), "vdpbf16ps $3, $2, $0",
                        "=v,0,v,v",
                        {acc, vector::BitCastOp::create(b, words, w),
                         vector::BitCastOp::create(b, words, x)});
}

Value DotProducts::roundToBf16(LoopBuilder &b, Value x, Value count,
                               int64_t lanes) {
  auto type = cast<MemRefType>(x.getType());
  int64_t depth = type.getShape().back();
  Value pairs =
      b.alloc(RankedTensorType::get(type.getShape(), b.getBF16Type()), {count});
  auto f32Vector = VectorType::get({lanes}, b.getF32Type());
  auto bf16Vector = VectorType::get({lanes}, b.getBF16Type());
  Value zero = arith::ConstantOp::create(
      b, f32Vector, DenseElementsAttr::get(f32Vector, 0.0f));
  int64_t full = depth / lanes * lanes;
  b.forLoop(b.index(0), count, [&](Value t) {
    b.forLoop(b.index(0), b.index(full / lanes), [&](Value step) {
      Value k = arith::MulIOp::create(b, step, b.index(lanes));
      Value v = vector::LoadOp::create(b, f32Vector, x, ValueRange{t, k});
      vector::StoreOp::create(b, arith::TruncFOp::create(b, bf16Vector, v),
                              pairs, ValueRange{t, k});
    });
    if (full < depth) {
      Value mask = vector::ConstantMaskOp::create(
          b, VectorType::get({lanes}, b.getI1Type()),
          ArrayRef<int64_t>{depth - full});
      Value at = b.index(full);
      Value v = vector::MaskedLoadOp::create(b, f32Vector, x, ValueRange{t, at},
                                             mask, zero);
      vector::MaskedStoreOp::create(b, pairs, ValueRange{t, at}, mask,
                                    arith::TruncFOp::create(b, bf16Vector, v));
    }
  });
  return pairs;
}

void DotProducts::emitBlock(Value o, Value rowStride, int64_t rows, Value t,
                            int64_t tokens, Value lastToken) {
  SmallVector<Value> rowIndex, tokenIndex;
  for (int64_t r = 0; r < rows; ++r)
    rowIndex.push_back(arith::AddIOp::create(
        b, o,
        rowStride ? arith::MulIOp::create(b, rowStride, b.index(r)).getResult()
                  : b.index(r)));
  for (int64_t c = 0; c < tokens; ++c)
    tokenIndex.push_back(arith::AddIOp::create(b, t, b.index(c)));
  Value lastRow = b.index(rowCount - 1);
  // A step covers `width` k: one vector of f32 lanes, or with xPairs two
  // lanes' worth of bf16 pairs.
  bool pairs = bool(xPairs);
  int64_t width = pairs ? 2 * lanes : lanes;
  Type wElement = wVector.getElementType();
  VectorType wLoad = pairs ? VectorType::get({width}, wElement) : wVector;
  VectorType xLoad = pairs ? wLoad : f32Vector;
  Value xSource = pairs ? xPairs : x;
  auto zeros = [&](VectorType type) -> Value {
    return arith::ConstantOp::create(
        b, type,
        DenseElementsAttr::get(type,
                               FloatAttr::get(type.getElementType(), 0.0)));
  };
  Value zeroW = zeros(wLoad), zeroX = zeros(xLoad);
  auto load = [&](VectorType type, Value from, ValueRange at, Value mask,
                  Value padding) -> Value {
    if (mask)
      return vector::MaskedLoadOp::create(b, type, from, at, mask, padding);
    return vector::LoadOp::create(b, type, from, at);
  };
  // One step at k (masked for the last partial one).
  auto step = [&](Value k, Value mask, ValueRange in) {
    SmallVector<Value> ws, xs, out;
    for (int64_t r = 0; r < rows; ++r) {
      SmallVector<Value> at(prefix);
      at.append({rowIndex[r], k});
      Value v = load(wLoad, w, at, mask, zeroW);
      ws.push_back(pairs || wVector == f32Vector
                       ? v
                       : arith::ExtFOp::create(b, f32Vector, v).getResult());
    }
    // The next block's rows at this k: 4 short streams the hardware
    // prefetcher would pick up too late (clamped to the last row). Not with
    // pairs: a chunk's token blocks all read these rows, and they stay in L1.
    for (int64_t r = 0; r < rows && !pairs; ++r) {
      SmallVector<Value> at(prefix);
      at.append({arith::MinUIOp::create(
                     b,
                     arith::AddIOp::create(b, rowIndex[r],
                                           b.index(rowStride ? 1 : kRows)),
                     lastRow),
                 k});
      memref::PrefetchOp::create(b, w, at, /*isWrite=*/false,
                                 /*localityHint=*/3, /*isDataCache=*/true);
    }
    for (int64_t c = 0; c < tokens; ++c)
      xs.push_back(load(xLoad, xSource, {tokenIndex[c], k}, mask, zeroX));
    // And the next block's activation rows (clamped to the last token):
    // they are as short streams, read again for every block of weight rows.
    for (int64_t c = 0; c < tokens; ++c)
      memref::PrefetchOp::create(
          b, xSource,
          ValueRange{
              arith::MinUIOp::create(
                  b, arith::AddIOp::create(b, tokenIndex[c], b.index(tokens)),
                  lastToken),
              k},
          /*isWrite=*/false, /*localityHint=*/3, /*isDataCache=*/true);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < tokens; ++c)
        out.push_back(
            pairs ? dotPairs(b, in[r * tokens + c], ws[r], xs[c])
                  : vector::FMAOp::create(b, ws[r], xs[c], in[r * tokens + c])
                        .getResult());
    return out;
  };
  SmallVector<Value> accs(rows * tokens, zero);
  int64_t full = depth / width * width;
  if (full > 0) {
    auto loop =
        scf::ForOp::create(b, b.index(0), b.index(full), b.index(width), accs);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      scf::YieldOp::create(
          b, step(loop.getInductionVar(), Value(), loop.getRegionIterArgs()));
    }
    accs.assign(loop.getResults().begin(), loop.getResults().end());
  }
  if (full < depth) {
    auto maskType = VectorType::get({width}, b.getI1Type());
    Value mask = vector::ConstantMaskOp::create(
        b, maskType, ArrayRef<int64_t>{depth - full});
    accs = step(b.index(full), mask, accs);
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < tokens; ++c) {
      // The lanes' partial sums, added in any order (a tree).
      Value sum = vector::ReductionOp::create(b, vector::CombiningKind::ADD,
                                              accs[r * tokens + c],
                                              arith::FastMathFlags::reassoc);
      Value start = initial(tokenIndex[c], rowIndex[r]);
      b.store(arith::AddFOp::create(b, start, sum), output,
              {tokenIndex[c], rowIndex[r]});
    }
}

/// Covers [begin, end) with blocks of `size`, then one block of each power
/// of two below it that the rest needs: body(start, n) for each.
static void inBlocks(LoopBuilder &b, Value begin, Value end, int64_t size,
                     llvm::function_ref<void(Value, int64_t)> body) {
  TileShape blocks;
  blocks.rows = size;
  forEachRowBlock(b, blocks, begin, end,
                  [&](int64_t n, Value start) { body(start, n); });
}

void DotProducts::emit(Value rowBegin, Value rowEnd, Value tokenBegin,
                       Value tokenEnd) {
  // Chunks of kTokenChunk activation rows, each swept by every block of
  // weight rows while it stays in the L2 cache.
  Value chunks = arith::CeilDivUIOp::create(
      b, arith::SubIOp::create(b, tokenEnd, tokenBegin), b.index(kTokenChunk));
  b.forLoop(b.index(0), chunks, [&](Value chunk) {
    Value first = arith::AddIOp::create(
        b, tokenBegin, arith::MulIOp::create(b, chunk, b.index(kTokenChunk)));
    Value last = arith::MinUIOp::create(
        b, arith::AddIOp::create(b, first, b.index(kTokenChunk)), tokenEnd);
    Value lastToken = arith::SubIOp::create(b, last, b.index(1));
    auto rowBlock = [&](Value o, Value stride, int64_t rows) {
      inBlocks(b, first, last, tokensPerPass(bool(xPairs)),
               [&](Value t, int64_t tokens) {
                 emitBlock(o, stride, rows, t, tokens, lastToken);
               });
    };
    auto adjacentRows = [&](Value o, int64_t rows) {
      rowBlock(o, Value(), rows);
    };
    if (xPairs)
      return inBlocks(b, rowBegin, rowEnd, kRows, adjacentRows);
    // Without pairs (decode), a block's rows are a quarter of the call's
    // rows apart: 4 long streams side by side, not 4 rows of K each.
    Value part = arith::DivUIOp::create(
        b, arith::SubIOp::create(b, rowEnd, rowBegin), b.index(kRows));
    b.forLoop(b.index(0), part, [&](Value i) {
      rowBlock(arith::AddIOp::create(b, rowBegin, i), part, kRows);
    });
    inBlocks(b,
             arith::AddIOp::create(
                 b, rowBegin, arith::MulIOp::create(b, part, b.index(kRows))),
             rowEnd, kRows, adjacentRows);
  });
}
