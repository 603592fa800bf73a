//===- CheckpointImporter.cpp - A checkpoint's forward pass as IR ---------===//
//
// One function per block of the Hugging Face modeling files: attention
// (grouped-query or DeepSeek's MLA), the dense MLP, the MoE block of each
// family, and the skeleton around them (embedding, pre-norm residual
// layers, final norm, LM head).
//
//===----------------------------------------------------------------------===//

#include "moec/Frontend/CheckpointImporter.h"

#include "RopeFrequencies.h"
#include "TextFiles.h"

#include "dialects/decoder/IR/DecoderOps.h"
#include "dialects/decoder/IR/LinearRoles.h"
#include "dialects/moe/IR/MoeDialect.h"
#include "dialects/moe/IR/MoeOps.h"
#include "moec/Frontend/Checkpoint.h"
#include "moec/Support/WeightStore.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <cstring>

using namespace mlir;
using namespace moec;

bool moec::isCheckpointDirectory(llvm::StringRef path) {
  llvm::SmallString<256> config(path);
  llvm::sys::path::append(config, "config.json");
  return llvm::sys::fs::is_directory(path) && llvm::sys::fs::exists(config);
}

static Type elementType(MLIRContext *ctx, rt::DType dtype) {
  switch (dtype) {
  case rt::DType::BF16:
    return BFloat16Type::get(ctx);
  case rt::DType::F16:
    return Float16Type::get(ctx);
  default:
    return Float32Type::get(ctx);
  }
}

/// A weight element as f32 (weights keep the checkpoint's float type).
static Value widen(OpBuilder &b, Location loc, Value v) {
  return v.getType().isF32() ? v
                             : arith::ExtFOp::create(b, loc, b.getF32Type(), v);
}

/// sigmoid(v) = 1 / (1 + exp(-v)), in the body of a linalg op.
static Value sigmoid(OpBuilder &b, Location loc, Value v) {
  Value one = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(1.0));
  Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, v));
  return arith::DivFOp::create(b, loc, one,
                               arith::AddFOp::create(b, loc, one, e));
}

namespace {
class DecoderBuilder {
public:
  DecoderBuilder(OpBuilder &b, const DecoderConfig &c, WeightStore &store,
                 bool compressedMla)
      : b(b), loc(b.getUnknownLoc()), c(c), store(store),
        compressedMla(compressedMla) {}

  /// Builds @main's body from its arguments: the tokens, the logits rows
  /// wanted, then the state (the position, then each layer's caches: key
  /// and value, or compressed MLA's one latent cache); returns the logits,
  /// then the new state in the same order.
  SmallVector<Value> build(Value tokens, Value logitRows, ValueRange state);

private:
  OpBuilder &b;
  Location loc;
  const DecoderConfig &c;
  WeightStore &store;
  /// MLA attends over its cached latent vectors (latentAttention).
  bool compressedMla;
  Value positions;
  Value tokenCount;
  /// The first position of this call and the one after its last.
  Value start, end;
  /// Each layer's caches, replaced as the layers write them.
  SmallVector<Value> caches;

  Value cached(size_t slot, Value fresh);

  // Tensors and weights.
  Type f32() { return b.getF32Type(); }
  Value weight(const std::string &key);
  Value stackedExperts(const std::string &hint, const std::string &prefix,
                       llvm::StringRef suffix);
  Value transposedExperts(const std::string &key);
  std::pair<Value, Value> absorbedWeights(const std::string &key);
  /// An empty tensor of `shape` (dynamic sizes: the tokens) in f32, or in
  /// `element` when given.
  Value empty(ArrayRef<int64_t> shape, Type element = Type());
  AffineMap map(unsigned dims, ArrayRef<AffineExpr> results) {
    return AffineMap::get(dims, 0, results, b.getContext());
  }

  // Building blocks.
  Value linear(Value x, const std::string &name, llvm::StringRef role,
               bool bias = false);
  Value elementwise(ValueRange inputs, ArrayRef<AffineMap> inputMaps,
                    function_ref<Value(OpBuilder &, Location, ValueRange)> fn,
                    Type element = Type());
  Value add(Value a, Value b2);
  Value clamp(Value x, double limit);
  Value norm(Value x, const std::string &name, double eps);
  Value toHeads(Value x, int64_t heads, int64_t dim);
  Value fromHeads(Value x);
  Value slice(Value x, int64_t dim, int64_t offset, int64_t size);
  Value rope(Value x);
  Value perHeadProduct(Value x, Value w);

  // Blocks.
  Value attention(int64_t layer, Value x);
  Value latentAttention(int64_t layer, Value x);
  Value mlp(const std::string &prefix, Value x, llvm::StringRef role);
  Value moe(const std::string &prefix, Value x);
};
} // namespace

//===----------------------------------------------------------------------===//
// Tensors and weights
//===----------------------------------------------------------------------===//

Value DecoderBuilder::weight(const std::string &key) {
  // openCheckpoint checked every tensor the builder reads.
  WeightView view = llvm::cantFail(store.lookup(key));
  auto type = RankedTensorType::get(view.shape,
                                    elementType(b.getContext(), view.dtype));
  return moe::WeightOp::create(b, loc, type, key);
}

/// The tensors PREFIX{e}SUFFIX of every expert e as one [E, N, K] weight,
/// a stack in the weight store: nothing is copied at import.
Value DecoderBuilder::stackedExperts(const std::string &hint,
                                     const std::string &prefix,
                                     llvm::StringRef suffix) {
  std::vector<std::string> parts;
  for (int64_t e = 0; e < c.moe.experts; ++e)
    parts.push_back(prefix + std::to_string(e) + suffix.str());
  // openCheckpoint checked that the parts exist with one shape and dtype.
  std::string key = llvm::cantFail(store.addStack(hint, parts));
  WeightView first = llvm::cantFail(store.lookup(parts.front()));
  SmallVector<int64_t> shape{c.moe.experts};
  shape.append(first.shape.begin(), first.shape.end());
  auto type =
      RankedTensorType::get(shape, elementType(b.getContext(), first.dtype));
  return moe::WeightOp::create(b, loc, type, key);
}

/// GPT-OSS's stacked [E, K, N] (x @ W) as a [E, N, K] blob (W x, the
/// layout moe.experts reads), in its dtype.
Value DecoderBuilder::transposedExperts(const std::string &key) {
  WeightView view = llvm::cantFail(store.lookup(key));
  int64_t experts = view.shape[0], rows = view.shape[1], cols = view.shape[2];
  size_t element = rt::dtypeSize(view.dtype);
  std::vector<uint8_t> bytes(view.bytes.size());
  for (int64_t e = 0; e < experts; ++e)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t q = 0; q < cols; ++q)
        std::memcpy(&bytes[((e * cols + q) * rows + r) * element],
                    &view.bytes[((e * rows + r) * cols + q) * element],
                    element);
  SmallVector<int64_t> shape{experts, cols, rows};
  std::string blob = store.addBlob(key, view.dtype, shape, std::move(bytes));
  auto type =
      RankedTensorType::get(shape, elementType(b.getContext(), view.dtype));
  return moe::WeightOp::create(b, loc, type, blob);
}

/// MLA's kv_b_proj [H * (nope + v), r] as the two per-head weights the
/// compressed form multiplies by, blobs in its dtype: the key half
/// transposed, W_UK^T [H, r, nope], and the value half, W_UV [H, v, r].
std::pair<Value, Value>
DecoderBuilder::absorbedWeights(const std::string &key) {
  const AttentionConfig &a = c.attention;
  WeightView view = llvm::cantFail(store.lookup(key));
  int64_t heads = a.heads, nope = a.qkNopeHeadDim, v = a.valueHeadDim,
          rank = a.kvLoraRank;
  size_t element = rt::dtypeSize(view.dtype);
  auto at = [&](int64_t head, int64_t row, int64_t column) {
    return &view.bytes[((head * (nope + v) + row) * rank + column) * element];
  };
  std::vector<uint8_t> keyHalf(size_t(heads * rank * nope) * element);
  std::vector<uint8_t> valueHalf(size_t(heads * v * rank) * element);
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t d = 0; d < nope; ++d)
      for (int64_t r = 0; r < rank; ++r)
        std::memcpy(&keyHalf[((h * rank + r) * nope + d) * element],
                    at(h, d, r), element);
    for (int64_t j = 0; j < v; ++j)
      std::memcpy(&valueHalf[(h * v + j) * rank * element], at(h, nope + j, 0),
                  rank * element);
  }
  Type type = elementType(b.getContext(), view.dtype);
  auto blob = [&](const char *suffix, SmallVector<int64_t> shape,
                  std::vector<uint8_t> bytes) -> Value {
    std::string name =
        store.addBlob(key + suffix, view.dtype, shape, std::move(bytes));
    return moe::WeightOp::create(b, loc, RankedTensorType::get(shape, type),
                                 name);
  };
  return {blob(".keys", {heads, rank, nope}, std::move(keyHalf)),
          blob(".values", {heads, v, rank}, std::move(valueHalf))};
}

Value DecoderBuilder::empty(ArrayRef<int64_t> shape, Type element) {
  SmallVector<Value> dynamic;
  for (int64_t d : shape)
    if (ShapedType::isDynamic(d))
      dynamic.push_back(tokenCount);
  return tensor::EmptyOp::create(b, loc, shape, element ? element : f32(),
                                 dynamic);
}

/// x [T, K] times the transposed torch-layout weight [N, K], plus its bias;
/// `role` (LinearRoles.h) says what part of the model it is.
Value DecoderBuilder::linear(Value x, const std::string &name,
                             llvm::StringRef role, bool bias) {
  Value w = weight(name + ".weight");
  int64_t n = cast<RankedTensorType>(w.getType()).getDimSize(0);
  AffineExpr t = b.getAffineDimExpr(0), o = b.getAffineDimExpr(1),
             k = b.getAffineDimExpr(2);
  // x's rows: the tokens, or the LM head's last rows.
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
  Value rows = tensor::DimOp::create(b, loc, x, 0);
  Value empty = tensor::EmptyOp::create(
      b, loc, ArrayRef<int64_t>{ShapedType::kDynamic, n}, f32(),
      ValueRange{rows});
  Value init = linalg::FillOp::create(b, loc, zero, empty).getResult(0);
  auto product = linalg::GenericOp::create(
      b, loc, init.getType(), ValueRange{x, w}, init,
      SmallVector<AffineMap>{map(3, {t, k}), map(3, {o, k}), map(3, {t, o})},
      SmallVector<utils::IteratorType>{utils::IteratorType::parallel,
                                       utils::IteratorType::parallel,
                                       utils::IteratorType::reduction},
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value p = arith::MulFOp::create(nb, l, args[0], widen(nb, l, args[1]));
        linalg::YieldOp::create(
            nb, l, ValueRange{arith::AddFOp::create(nb, l, args[2], p)});
      });
  product->setAttr(decoder::kLinearRoleAttr, b.getStringAttr(role));
  Value y = product.getResult(0);
  if (!bias)
    return y;
  Value biasValue = weight(name + ".bias");
  return elementwise({y, biasValue}, {map(2, {t, o}), map(2, {o})},
                     [](OpBuilder &nb, Location l, ValueRange args) -> Value {
                       return arith::AddFOp::create(nb, l, args[0],
                                                    widen(nb, l, args[1]));
                     });
}

/// A tensor of the first input's shape, fn applied per element, in f32 or
/// in `element` when given.
Value DecoderBuilder::elementwise(
    ValueRange inputs, ArrayRef<AffineMap> inputMaps,
    function_ref<Value(OpBuilder &, Location, ValueRange)> fn, Type element) {
  auto type = cast<RankedTensorType>(inputs[0].getType());
  unsigned rank = type.getRank();
  Value init = empty(type.getShape(), element);
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(AffineMap::getMultiDimIdentityMap(rank, b.getContext()));
  return linalg::GenericOp::create(
             b, loc, init.getType(), inputs, init, maps,
             SmallVector<utils::IteratorType>(rank,
                                              utils::IteratorType::parallel),
             [&](OpBuilder &nb, Location l, ValueRange args) {
               linalg::YieldOp::create(nb, l,
                                       ValueRange{fn(nb, l, args.drop_back())});
             })
      .getResult(0);
}

Value DecoderBuilder::add(Value a, Value other) {
  unsigned rank = cast<RankedTensorType>(a.getType()).getRank();
  AffineMap id = AffineMap::getMultiDimIdentityMap(rank, b.getContext());
  return elementwise({a, other}, {id, id},
                     [](OpBuilder &nb, Location l, ValueRange args) -> Value {
                       return arith::AddFOp::create(nb, l, args[0], args[1]);
                     });
}

/// OLMoE's clip_qkv: clamp(x, -limit, limit).
Value DecoderBuilder::clamp(Value x, double limit) {
  AffineMap id = AffineMap::getMultiDimIdentityMap(2, b.getContext());
  return elementwise(
      {x}, {id}, [&](OpBuilder &nb, Location l, ValueRange args) {
        Value hi = arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(limit));
        Value lo = arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(-limit));
        return arith::MaximumFOp::create(
            nb, l, arith::MinimumFOp::create(nb, l, args[0], hi), lo);
      });
}

Value DecoderBuilder::norm(Value x, const std::string &name, double eps) {
  return decoder::RmsNormOp::create(b, loc, x.getType(), x, weight(name),
                                    b.getF64FloatAttr(eps));
}

/// [T, heads * dim] as [T, heads, dim].
Value DecoderBuilder::toHeads(Value x, int64_t heads, int64_t dim) {
  auto type = RankedTensorType::get({ShapedType::kDynamic, heads, dim}, f32());
  return tensor::ExpandShapeOp::create(
      b, loc, type, x, SmallVector<ReassociationIndices>{{0}, {1, 2}},
      SmallVector<OpFoldResult>{tokenCount, b.getIndexAttr(heads),
                                b.getIndexAttr(dim)});
}

Value DecoderBuilder::fromHeads(Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  auto flat = RankedTensorType::get(
      {ShapedType::kDynamic, type.getDimSize(1) * type.getDimSize(2)}, f32());
  return tensor::CollapseShapeOp::create(
      b, loc, flat, x, SmallVector<ReassociationIndices>{{0}, {1, 2}});
}

/// x [T, H, K] times each head's torch-layout weight w [H, N, K]: [T, H, N],
/// as one moe.grouped_matmul whose experts are the heads (rows head-major).
Value DecoderBuilder::perHeadProduct(Value x, Value w) {
  auto wType = cast<RankedTensorType>(w.getType());
  int64_t heads = wType.getDimSize(0), n = wType.getDimSize(1),
          k = wType.getDimSize(2);
  // `in` with its first two dimensions swapped, as a tensor of `shape`.
  auto swap = [&](Value in, ArrayRef<int64_t> shape) {
    AffineExpr d0 = b.getAffineDimExpr(0), d1 = b.getAffineDimExpr(1),
               d2 = b.getAffineDimExpr(2);
    return linalg::GenericOp::create(
               b, loc, RankedTensorType::get(shape, f32()), ValueRange{in},
               empty(shape),
               SmallVector<AffineMap>{
                   map(3, {d1, d0, d2}),
                   AffineMap::getMultiDimIdentityMap(3, b.getContext())},
               SmallVector<utils::IteratorType>(3,
                                                utils::IteratorType::parallel),
               [&](OpBuilder &nb, Location l, ValueRange args) {
                 linalg::YieldOp::create(nb, l, args[0]);
               })
        .getResult(0);
  };
  int64_t dynamic = ShapedType::kDynamic;
  Value byHead = swap(x, {heads, dynamic, k});
  Value rows = tensor::CollapseShapeOp::create(
      b, loc, RankedTensorType::get({dynamic, k}, f32()), byHead,
      SmallVector<ReassociationIndices>{{0, 1}, {2}});
  // Head h's rows start at h * T.
  Value count = arith::IndexCastOp::create(b, loc, b.getI32Type(), tokenCount);
  SmallVector<Value> starts;
  for (int64_t h = 0; h <= heads; ++h)
    starts.push_back(arith::MulIOp::create(
        b, loc, count, arith::ConstantIntOp::create(b, loc, h, 32)));
  Value offsets = tensor::FromElementsOp::create(
      b, loc, RankedTensorType::get({heads + 1}, b.getI32Type()), starts);
  Value product = moe::GroupedMatmulOp::create(b, loc, rows, w, offsets);
  Value split = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get({heads, dynamic, n}, f32()), product,
      SmallVector<ReassociationIndices>{{0, 1}, {2}},
      SmallVector<OpFoldResult>{b.getIndexAttr(heads), tokenCount,
                                b.getIndexAttr(n)});
  return swap(split, {dynamic, heads, n});
}

/// x[..., offset : offset + size] along `dim` (the last).
Value DecoderBuilder::slice(Value x, int64_t dim, int64_t offset,
                            int64_t size) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes, strides(type.getRank(), b.getIndexAttr(1));
  for (int64_t d = 0; d < type.getRank(); ++d)
    sizes.push_back(d == 0 ? OpFoldResult(tokenCount)
                           : OpFoldResult(b.getIndexAttr(type.getDimSize(d))));
  offsets[dim] = b.getIndexAttr(offset);
  sizes[dim] = b.getIndexAttr(size);
  return tensor::ExtractSliceOp::create(b, loc, x, offsets, sizes, strides);
}

Value DecoderBuilder::rope(Value x) {
  std::vector<double> invFreq = computeInvFreq(c.rope);
  return decoder::RopeOp::create(
      b, loc, x.getType(), x, positions, b.getF64ArrayAttr(invFreq),
      c.rope.interleaved ? b.getUnitAttr() : UnitAttr(),
      b.getF64FloatAttr(c.rope.attentionFactor));
}

/// Writes this call's keys, values or latents `fresh` [T, heads, dim] into
/// cache `slot` at [start, end), rounded to the cache's element type, and
/// returns the cache's [0, end): every position up to this call's last.
Value DecoderBuilder::cached(size_t slot, Value fresh) {
  Value &cache = caches[slot];
  Type element = cast<RankedTensorType>(cache.getType()).getElementType();
  if (element != f32())
    fresh = elementwise(
        {fresh}, {AffineMap::getMultiDimIdentityMap(3, b.getContext())},
        [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
          return arith::TruncFOp::create(nb, l, element, args[0]);
        },
        element);
  auto type = cast<RankedTensorType>(fresh.getType());
  SmallVector<OpFoldResult> offsets{start, b.getIndexAttr(0),
                                    b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes{tokenCount,
                                  b.getIndexAttr(type.getDimSize(1)),
                                  b.getIndexAttr(type.getDimSize(2))};
  SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
  cache = tensor::InsertSliceOp::create(b, loc, fresh, cache, offsets, sizes,
                                        strides);
  SmallVector<OpFoldResult> prefix{b.getIndexAttr(0), b.getIndexAttr(0),
                                   b.getIndexAttr(0)};
  sizes[0] = end;
  return tensor::ExtractSliceOp::create(b, loc, type, cache, prefix, sizes,
                                        strides);
}

//===----------------------------------------------------------------------===//
// Blocks
//===----------------------------------------------------------------------===//

/// Grouped-query attention (Llama, Qwen, Mixtral, OLMoE, GPT-OSS).
Value DecoderBuilder::attention(int64_t layer, Value x) {
  const AttentionConfig &a = c.attention;
  std::string p = "model.layers." + std::to_string(layer) + ".self_attn.";
  Value q = linear(x, p + "q_proj", decoder::kAttentionRole, a.qkvBias);
  Value k = linear(x, p + "k_proj", decoder::kAttentionRole, a.qkvBias);
  Value v = linear(x, p + "v_proj", decoder::kAttentionRole, a.qkvBias);
  if (a.qkNorm == QkNorm::WholeProjection) {
    q = norm(q, p + "q_norm.weight", c.rmsNormEps);
    k = norm(k, p + "k_norm.weight", c.rmsNormEps);
  }
  if (a.clipQkv) {
    q = clamp(q, *a.clipQkv);
    k = clamp(k, *a.clipQkv);
    v = clamp(v, *a.clipQkv);
  }
  Value q3 = toHeads(q, a.heads, a.headDim);
  Value k3 = toHeads(k, a.kvHeads, a.headDim);
  Value v3 = toHeads(v, a.kvHeads, a.headDim);
  if (a.qkNorm == QkNorm::PerHead) {
    q3 = norm(q3, p + "q_norm.weight", c.rmsNormEps);
    k3 = norm(k3, p + "k_norm.weight", c.rmsNormEps);
  }
  q3 = rope(q3);
  k3 = cached(2 * layer, rope(k3));
  v3 = cached(2 * layer + 1, v3);
  std::optional<int64_t> window = c.layers[layer].slidingWindow;
  Value sinks = a.sinks ? weight(p + "sinks") : Value();
  Value o = decoder::AttentionOp::create(
      b, loc, q3.getType(), q3, k3, v3, sinks, b.getF64FloatAttr(a.scale),
      window ? b.getI64IntegerAttr(*window) : IntegerAttr());
  return linear(fromHeads(o), p + "o_proj", decoder::kAttentionRole,
                a.outputBias);
}

/// DeepSeek's multi-head latent attention. Decompressed (as Hugging Face
/// computes it), each head's query and key are [rope | nope] (the rotated
/// part first, for both, so q . k is HF's [nope | rope] product) and the
/// caches hold every head's keys and values. Compressed, the cache holds
/// one [rope | latent] vector per position, shared by the heads (one KV
/// head) as key and value: kv_b_proj's key half is absorbed into each
/// head's query (q_nope W_UK: q . k is unchanged) and its value half
/// multiplies the heads' attention-weighted latents.
Value DecoderBuilder::latentAttention(int64_t layer, Value x) {
  const AttentionConfig &a = c.attention;
  std::string p = "model.layers." + std::to_string(layer) + ".self_attn.";
  int64_t nope = a.qkNopeHeadDim, rot = a.qkRopeHeadDim;
  // The latent norms use HF's default eps, not rms_norm_eps.
  constexpr double kLatentEps = 1e-6;
  Value q;
  if (a.qLoraRank)
    q = linear(norm(linear(x, p + "q_a_proj", decoder::kAttentionRole),
                    p + "q_a_layernorm.weight", kLatentEps),
               p + "q_b_proj", decoder::kAttentionRole);
  else
    q = linear(x, p + "q_proj", decoder::kAttentionRole);
  Value q3 = toHeads(q, a.heads, nope + rot);
  Value qNope = slice(q3, 2, 0, nope);
  Value qRot = rope(slice(q3, 2, nope, rot));
  Value compressed =
      linear(x, p + "kv_a_proj_with_mqa", decoder::kAttentionRole);
  Value latent = norm(slice(compressed, 1, 0, a.kvLoraRank),
                      p + "kv_a_layernorm.weight", kLatentEps);
  Value kRot = rope(toHeads(slice(compressed, 1, a.kvLoraRank, rot), 1, rot));
  if (compressedMla) {
    auto [keyHalf, valueHalf] = absorbedWeights(p + "kv_b_proj.weight");
    Value query = tensor::ConcatOp::create(
        b, loc, 2, ValueRange{qRot, perHeadProduct(qNope, keyHalf)});
    Value keys =
        cached(layer, tensor::ConcatOp::create(
                          b, loc, 2,
                          ValueRange{kRot, toHeads(latent, 1, a.kvLoraRank)}));
    auto type = RankedTensorType::get(
        {ShapedType::kDynamic, a.heads, rot + a.kvLoraRank}, f32());
    // The keys' rotated part is attended to as well and dropped after.
    Value o =
        decoder::AttentionOp::create(b, loc, type, query, keys, keys, Value(),
                                     b.getF64FloatAttr(a.scale), IntegerAttr());
    Value heads = perHeadProduct(slice(o, 2, rot, a.kvLoraRank), valueHalf);
    return linear(fromHeads(heads), p + "o_proj", decoder::kAttentionRole);
  }
  Value kv = toHeads(linear(latent, p + "kv_b_proj", decoder::kAttentionRole),
                     a.heads, nope + a.valueHeadDim);
  Value kNope = slice(kv, 2, 0, nope);
  Value v = slice(kv, 2, nope, a.valueHeadDim);
  // The one rotated key, for every head.
  AffineExpr t = b.getAffineDimExpr(0), d = b.getAffineDimExpr(2);
  Value kRotHeads =
      linalg::GenericOp::create(
          b, loc,
          RankedTensorType::get({ShapedType::kDynamic, a.heads, rot}, f32()),
          ValueRange{kRot}, empty({ShapedType::kDynamic, a.heads, rot}),
          SmallVector<AffineMap>{
              map(3, {t, b.getAffineConstantExpr(0), d}),
              AffineMap::getMultiDimIdentityMap(3, b.getContext())},
          SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
          [&](OpBuilder &nb, Location l, ValueRange args) {
            linalg::YieldOp::create(nb, l, args[0]);
          })
          .getResult(0);
  Value query = tensor::ConcatOp::create(b, loc, 2, ValueRange{qRot, qNope});
  Value key =
      cached(2 * layer,
             tensor::ConcatOp::create(b, loc, 2, ValueRange{kRotHeads, kNope}));
  v = cached(2 * layer + 1, v);
  auto resultType = RankedTensorType::get(
      {ShapedType::kDynamic, a.heads, a.valueHeadDim}, f32());
  Value o =
      decoder::AttentionOp::create(b, loc, resultType, query, key, v, Value(),
                                   b.getF64FloatAttr(a.scale), IntegerAttr());
  return linear(fromHeads(o), p + "o_proj", decoder::kAttentionRole);
}

/// down(silu(gate(x)) * up(x)).
Value DecoderBuilder::mlp(const std::string &prefix, Value x,
                          llvm::StringRef role) {
  Value gate = linear(x, prefix + "gate_proj", role);
  Value up = linear(x, prefix + "up_proj", role);
  AffineMap id = AffineMap::getMultiDimIdentityMap(2, b.getContext());
  Value h = elementwise(
      {gate, up}, {id, id}, [](OpBuilder &nb, Location l, ValueRange args) {
        Value silu =
            arith::MulFOp::create(nb, l, args[0], sigmoid(nb, l, args[0]));
        return arith::MulFOp::create(nb, l, silu, args[1]);
      });
  return linear(h, prefix + "down_proj", role);
}

Value DecoderBuilder::moe(const std::string &prefix, Value x) {
  const DecoderMoeConfig &m = c.moe;
  MLIRContext *ctx = b.getContext();
  using Scoring = DecoderMoeConfig::Scoring;
  moe::RouterScoring scoring =
      m.scoring == Scoring::Softmax   ? moe::RouterScoring::Softmax
      : m.scoring == Scoring::Sigmoid ? moe::RouterScoring::Sigmoid
                                      : moe::RouterScoring::SoftmaxAfterTopK;
  bool gptOss = c.family == DecoderFamily::GptOss;
  bool mixtral = c.family == DecoderFamily::Mixtral;
  std::string block = prefix + (mixtral ? "block_sparse_moe." : "mlp.");
  Value logits =
      gptOss ? linear(x, block + "router", decoder::kRouterRole, /*bias=*/true)
             : linear(x, block + "gate", decoder::kRouterRole);
  Value selectionBias;
  if (m.selectionBias) {
    Value bias = weight(block + "gate.e_score_correction_bias");
    selectionBias =
        elementwise({bias}, {AffineMap::getMultiDimIdentityMap(1, ctx)},
                    [](OpBuilder &nb, Location l, ValueRange args) {
                      return widen(nb, l, args[0]);
                    });
  }
  moe::GroupLimitAttr groups;
  if (m.groups > 1)
    groups = moe::GroupLimitAttr::get(
        ctx, m.groups, m.topKGroup,
        m.groupScoreTopTwoSum ? moe::GroupScore::SumTop2 : moe::GroupScore::Max,
        b.getF64FloatAttr(0.0));
  auto router = moe::RouterOp::create(
      b, loc, logits, m.topK, scoring, selectionBias, m.normTopK,
      m.routedScaling != 1.0 ? std::optional<double>(m.routedScaling)
                             : std::nullopt,
      groups);
  Value y;
  std::string experts = block + "experts.";
  if (gptOss) {
    auto activation = moe::ActivationAttr::get(
        ctx, moe::ActivationKind::Swiglu, APFloat(m.swigluAlpha), APFloat(1.0),
        APFloat(m.swigluLimit));
    y = moe::ExpertsOp::create(b, loc, x, router.getWeights(), router.getIds(),
                               activation, moe::GateUpLayout::Interleaved,
                               transposedExperts(experts + "gate_up_proj"),
                               transposedExperts(experts + "down_proj"),
                               weight(experts + "gate_up_proj_bias"),
                               weight(experts + "down_proj_bias"));
  } else {
    auto activation =
        moe::ActivationAttr::get(ctx, moe::ActivationKind::SiluGated);
    llvm::StringRef gate = mixtral ? ".w1.weight" : ".gate_proj.weight";
    llvm::StringRef up = mixtral ? ".w3.weight" : ".up_proj.weight";
    llvm::StringRef down = mixtral ? ".w2.weight" : ".down_proj.weight";
    y = moe::ExpertsOp::create(b, loc, x, router.getWeights(), router.getIds(),
                               activation,
                               stackedExperts(experts + "gate", experts, gate),
                               stackedExperts(experts + "up", experts, up),
                               stackedExperts(experts + "down", experts, down));
  }
  if (!m.sharedIntermediate)
    return y;
  bool deepseek = c.family == DecoderFamily::DeepseekV2 ||
                  c.family == DecoderFamily::DeepseekV3;
  Value shared = mlp(block + (deepseek ? "shared_experts." : "shared_expert."),
                     x, decoder::kSharedExpertRole);
  if (m.sharedGate) {
    // Qwen2-MoE: sigmoid(shared_expert_gate(x)) [T, 1] scales it.
    Value gate = linear(x, block + "shared_expert_gate", decoder::kRouterRole);
    AffineExpr t = b.getAffineDimExpr(0), h = b.getAffineDimExpr(1);
    shared = elementwise(
        {shared, gate},
        {map(2, {t, h}), map(2, {t, b.getAffineConstantExpr(0)})},
        [](OpBuilder &nb, Location l, ValueRange args) -> Value {
          return arith::MulFOp::create(nb, l, args[0], sigmoid(nb, l, args[1]));
        });
  }
  return add(y, shared);
}

SmallVector<Value> DecoderBuilder::build(Value tokens, Value logitRows,
                                         ValueRange state) {
  tokenCount = tensor::DimOp::create(b, loc, tokens, 0);
  // This call continues the sequence at the position the state holds.
  Value position = state[0];
  caches.assign(state.begin() + 1, state.end());
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value first = tensor::ExtractOp::create(b, loc, position, ValueRange{zero});
  start = arith::IndexCastOp::create(b, loc, b.getIndexType(), first);
  end = arith::AddIOp::create(b, loc, start, tokenCount);
  // The binary sizes the caches (--ctx-size): their first dimension.
  Value contextValue = tensor::DimOp::create(b, loc, caches.front(), 0);
  Value fits = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, end,
                                     contextValue);
  auto i64 = [&](Value v) {
    return arith::IndexCastOp::create(b, loc, b.getI64Type(), v);
  };
  moe::CheckOp::create(
      b, loc, fits,
      b.getStringAttr("the sequence reaches {0} tokens, more than the "
                      "context of {1} (--ctx-size)"),
      ValueRange{i64(end), i64(contextValue)});
  // Positions start .. end - 1.
  auto positionType =
      RankedTensorType::get({ShapedType::kDynamic}, b.getI64Type());
  positions =
      linalg::GenericOp::create(
          b, loc, positionType, ValueRange{},
          tensor::EmptyOp::create(b, loc, positionType.getShape(),
                                  b.getI64Type(), ValueRange{tokenCount})
              .getResult(),
          SmallVector<AffineMap>{
              AffineMap::getMultiDimIdentityMap(1, b.getContext())},
          SmallVector<utils::IteratorType>{utils::IteratorType::parallel},
          [&](OpBuilder &nb, Location l, ValueRange) {
            Value i = linalg::IndexOp::create(nb, l, 0);
            Value p = arith::AddIOp::create(nb, l, start, i);
            linalg::YieldOp::create(nb, l,
                                    ValueRange{arith::IndexCastOp::create(
                                        nb, l, nb.getI64Type(), p)});
          })
          .getResult(0);
  auto hiddenType =
      RankedTensorType::get({ShapedType::kDynamic, c.hidden}, f32());
  Value table = weight("model.embed_tokens.weight");
  // A token reads one row of the table (unless the LM head reads it all):
  // what the binary's --bench counts as the bytes of a decode step.
  if (!c.tieWordEmbeddings)
    table.getDefiningOp()->setAttr("moec.routed_fraction",
                                   b.getF64FloatAttr(1.0 / double(c.vocab)));
  Value h = decoder::EmbeddingOp::create(b, loc, hiddenType, table, tokens);
  for (auto [index, layer] : llvm::enumerate(c.layers)) {
    std::string p = "model.layers." + std::to_string(index) + ".";
    Value x = norm(h, p + "input_layernorm.weight", c.rmsNormEps);
    h = add(h,
            c.attention.mla ? latentAttention(index, x) : attention(index, x));
    x = norm(h, p + "post_attention_layernorm.weight", c.rmsNormEps);
    h = add(h, layer.moe ? moe(p, x) : mlp(p + "mlp.", x, decoder::kMlpRole));
  }
  h = norm(h, "model.norm.weight", c.rmsNormEps);
  // The LM head reads the last `logit_rows` rows (1 for a prompt whose
  // next token is all the caller needs); 0, or more than T: all of them.
  Value wanted = arith::IndexCastOp::create(
      b, loc, b.getIndexType(),
      tensor::ExtractOp::create(b, loc, logitRows, ValueRange{zero}));
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value some = arith::AndIOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, wanted, one),
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, wanted,
                            tokenCount));
  Value rows = arith::SelectOp::create(b, loc, some, wanted, tokenCount);
  Value last = tensor::ExtractSliceOp::create(
      b, loc, h,
      ValueRange{arith::SubIOp::create(b, loc, tokenCount, rows),
                 arith::ConstantIndexOp::create(b, loc, 0)},
      ValueRange{rows, arith::ConstantIndexOp::create(b, loc, c.hidden)},
      ValueRange{one, one});
  SmallVector<Value> results{
      linear(last, c.tieWordEmbeddings ? "model.embed_tokens" : "lm_head",
             decoder::kLmHeadRole)};
  results.push_back(
      tensor::InsertOp::create(b, loc, i64(end), position, ValueRange{zero}));
  results.append(caches);
  return results;
}

bool moec::compressedMlaReadsFewerBytes(const AttentionConfig &a) {
  int64_t latent = a.qkRopeHeadDim + a.kvLoraRank;
  int64_t decompressed = a.heads * (a.headDim + a.valueHeadDim);
  return latent < decompressed;
}

OwningOpRef<ModuleOp>
moec::importCheckpoint(MLIRContext *context, llvm::StringRef directory,
                       const CheckpointImportOptions &options) {
  context
      ->loadDialect<arith::ArithDialect, decoder::DecoderDialect,
                    func::FuncDialect, linalg::LinalgDialect, math::MathDialect,
                    moe::MoeDialect, tensor::TensorDialect>();
  WeightStore &store =
      context->getOrLoadDialect<moe::MoeDialect>()->getWeightStore();
  Location loc = FileLineColLoc::get(context, directory, 0, 0);
  llvm::Expected<Checkpoint> checkpoint = openCheckpoint(directory, store);
  if (!checkpoint) {
    emitError(loc) << llvm::toString(checkpoint.takeError());
    return nullptr;
  }
  OpBuilder b(context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  SmallVector<Attribute> files;
  for (const std::string &file : checkpoint->files) {
    llvm::SmallString<256> absolute(file);
    llvm::sys::fs::make_absolute(absolute);
    files.push_back(b.getStringAttr(absolute));
  }
  (*module)->setAttr(moe::MoeDialect::kWeightFilesAttrName,
                     b.getArrayAttr(files));
  const DecoderConfig &config = checkpoint->config;
  int64_t positions = options.contextSize
                          ? options.contextSize
                          : std::min<int64_t>(config.maxPositions, 4096);
  // The caches' default positions; the binary's --ctx-size changes them.
  (*module)->setAttr("moec.context", b.getI64IntegerAttr(positions));
  if (options.embedTokenizer &&
      failed(attachTextFiles(*module, directory, config.vocab)))
    return nullptr;
  b.setInsertionPointToEnd(module->getBody());
  // Inputs: the tokens, the logits rows wanted, then the state the binary
  // keeps from call to call.
  SmallVector<Type> inputs{
      RankedTensorType::get({ShapedType::kDynamic}, b.getI64Type()),
      RankedTensorType::get({1}, b.getI64Type()),
      RankedTensorType::get({1}, b.getI64Type())};
  SmallVector<std::string> names{"tokens", "logit_rows", "position"};
  const AttentionConfig &a = config.attention;
  if (options.mla != MlaForm::Auto && !a.mla) {
    emitError(loc) << "--mla applies to DeepSeek's multi-head latent "
                      "attention; this checkpoint's attention is not MLA";
    return nullptr;
  }
  bool compressedMla =
      a.mla && options.mla != MlaForm::Decompressed &&
      (options.mla == MlaForm::Compressed || compressedMlaReadsFewerBytes(a));
  int64_t cachedHeads = a.mla ? a.heads : a.kvHeads;
  Type cacheElement = options.kvCache == KvCacheType::F16    ? b.getF16Type()
                      : options.kvCache == KvCacheType::BF16 ? b.getBF16Type()
                                                             : b.getF32Type();
  for (size_t layer = 0; layer < config.layers.size(); ++layer) {
    std::string index = std::to_string(layer);
    if (compressedMla) {
      inputs.push_back(RankedTensorType::get(
          {ShapedType::kDynamic, 1, a.qkRopeHeadDim + a.kvLoraRank},
          cacheElement));
      names.push_back("latent_cache." + index);
      continue;
    }
    inputs.push_back(RankedTensorType::get(
        {ShapedType::kDynamic, cachedHeads, a.headDim}, cacheElement));
    inputs.push_back(RankedTensorType::get(
        {ShapedType::kDynamic, cachedHeads, a.valueHeadDim}, cacheElement));
    names.push_back("k_cache." + index);
    names.push_back("v_cache." + index);
  }
  SmallVector<Type> results{RankedTensorType::get(
      {ShapedType::kDynamic, config.vocab}, b.getF32Type())};
  results.append(inputs.begin() + 2, inputs.end());
  auto func =
      func::FuncOp::create(b, loc, "main", b.getFunctionType(inputs, results));
  func.setArgAttr(0, "moe.name", b.getStringAttr("tokens"));
  func.setArgAttr(1, "moe.name", b.getStringAttr("logit_rows"));
  func.setResultAttr(0, "moe.name", b.getStringAttr("logits"));
  for (size_t i = 2; i < names.size(); ++i) {
    func.setArgAttr(i, "moec.state", b.getStringAttr(names[i]));
    func.setResultAttr(i - 1, "moec.state", b.getStringAttr(names[i]));
  }
  b.setInsertionPointToStart(func.addEntryBlock());
  DecoderBuilder builder(b, config, store, compressedMla);
  SmallVector<Value> values =
      builder.build(func.getArgument(0), func.getArgument(1),
                    func.getArguments().drop_front(2));
  func::ReturnOp::create(b, loc, values);
  return module;
}
