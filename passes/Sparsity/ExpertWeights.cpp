//===- ExpertWeights.cpp - New expert stacks from old ones ----------------===//

#include "passes/Sparsity/ExpertWeights.h"

#include "dialects/moe/IR/MoeDialect.h"
#include "dialects/moe/IR/MoeOps.h"
#include "dialects/moe/IR/WeightFiles.h"
#include "moec/Support/WeightStore.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinOps.h"

#include <cstring>

using namespace mlir;
using namespace moec;

FailureOr<WeightData> moec::readWeight(Value weight, Operation *user) {
  WeightData data;
  if (auto source = weight.getDefiningOp<moe::WeightOp>()) {
    FailureOr<WeightView> view = moe::lookupWeight(source, user);
    if (failed(view))
      return failure();
    data.stored = view->bytes;
    data.key = source.getKey().str();
    return data;
  }
  if (auto constant = weight.getDefiningOp<arith::ConstantOp>())
    if (std::optional<std::vector<uint8_t>> bytes =
            moe::getConstantBytes(constant.getValue())) {
      data.constant = std::move(*bytes);
      return data;
    }
  return user->emitOpError("needs expert weights known at compile time (a "
                           "moe.weight or a constant), got ")
         << weight.getType();
}

Value moec::writeWeight(OpBuilder &b, Location loc, const WeightData &source,
                        RankedTensorType type, std::vector<uint8_t> bytes,
                        StringRef suffix) {
  if (source.key.empty()) {
    auto raw = ArrayRef<char>(reinterpret_cast<const char *>(bytes.data()),
                              bytes.size());
    return arith::ConstantOp::create(
        b, loc, type, DenseElementsAttr::getFromRawBuffer(type, raw));
  }
  WeightStore &store =
      b.getContext()->getOrLoadDialect<moe::MoeDialect>()->getWeightStore();
  std::string key = store.addBlob(source.key + "." + suffix.str(),
                                  *moe::getDType(type.getElementType()),
                                  type.getShape(), std::move(bytes));
  return moe::WeightOp::create(b, loc, type, key);
}

static FailureOr<Value> gatherTensor(OpBuilder &b, Value weight, int64_t dim,
                                     ArrayRef<int64_t> keep, Operation *user) {
  auto type = cast<RankedTensorType>(weight.getType());
  if (!type.hasStaticShape() || !moe::getDType(type.getElementType()))
    return user->emitOpError("cannot slice a weight of type ") << type;
  FailureOr<WeightData> data = readWeight(weight, user);
  if (failed(data))
    return failure();
  size_t elementSize = rt::dtypeSize(*moe::getDType(type.getElementType()));
  int64_t outer = 1, inner = int64_t(elementSize);
  for (int64_t d = 0; d < dim; ++d)
    outer *= type.getDimSize(d);
  for (int64_t d = dim + 1; d < type.getRank(); ++d)
    inner *= type.getDimSize(d);
  int64_t count = type.getDimSize(dim);
  if (data->bytes().size() != size_t(outer * count * inner))
    return user->emitOpError("weight holds ")
           << data->bytes().size() << " bytes, its type " << type << " needs "
           << outer * count * inner;
  std::vector<uint8_t> bytes(size_t(outer * int64_t(keep.size()) * inner));
  uint8_t *out = bytes.data();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t e : keep) {
      std::memcpy(out, data->bytes().data() + (o * count + e) * inner,
                  size_t(inner));
      out += inner;
    }
  SmallVector<int64_t> shape(type.getShape());
  shape[dim] = int64_t(keep.size());
  return writeWeight(b, weight.getLoc(), *data,
                     RankedTensorType::get(shape, type.getElementType()),
                     std::move(bytes), "pruned");
}

FailureOr<Value> moec::gatherWeight(OpBuilder &b, Value weight, int64_t dim,
                                    ArrayRef<int64_t> keep, Operation *user) {
  auto packed = weight.getDefiningOp<moe::PackedWeightOp>();
  if (!packed)
    return gatherTensor(b, weight, dim, keep, user);
  if (dim != 0)
    return user->emitOpError("packed weights are sliced along experts only");
  FailureOr<Value> data = gatherTensor(b, packed.getData(), 0, keep, user);
  FailureOr<Value> scales = gatherTensor(b, packed.getScales(), 0, keep, user);
  if (failed(data) || failed(scales))
    return failure();
  Value zeroPoints;
  if (Value zp = packed.getZeroPoints()) {
    FailureOr<Value> gathered = gatherTensor(b, zp, 0, keep, user);
    if (failed(gathered))
      return failure();
    zeroPoints = *gathered;
  }
  auto type = cast<moe::PackedType>(packed.getType());
  SmallVector<int64_t> shape(type.getTensorType().getShape());
  shape[0] = int64_t(keep.size());
  auto newType = moe::PackedType::get(
      b.getContext(),
      RankedTensorType::get(shape, type.getTensorType().getElementType()),
      type.getPacking());
  return Value(moe::PackedWeightOp::create(b, packed.getLoc(), newType, *data,
                                           *scales, zeroPoints));
}

FailureOr<Value> moec::mergeWeight(OpBuilder &b, Value weight,
                                   ArrayRef<SmallVector<int64_t>> groups,
                                   ArrayRef<double> share, Operation *user) {
  auto type = dyn_cast<RankedTensorType>(weight.getType());
  if (!type || !type.getElementType().isF32() || !type.hasStaticShape())
    return user->emitOpError("merges f32 expert weights only (merge before "
                             "quantizing), got ")
           << weight.getType();
  FailureOr<WeightData> data = readWeight(weight, user);
  if (failed(data))
    return failure();
  int64_t count = type.getDimSize(0);
  int64_t inner = type.getNumElements() / count;
  const float *in = reinterpret_cast<const float *>(data->bytes().data());
  std::vector<uint8_t> bytes(groups.size() * size_t(inner) * sizeof(float));
  float *out = reinterpret_cast<float *>(bytes.data());
  for (auto [m, group] : llvm::enumerate(groups))
    for (int64_t i = 0; i < inner; ++i) {
      double sum = 0.0;
      for (int64_t e : group)
        sum += share[e] * double(in[e * inner + i]);
      out[m * inner + i] = float(sum);
    }
  SmallVector<int64_t> shape(type.getShape());
  shape[0] = int64_t(groups.size());
  return writeWeight(b, weight.getLoc(), *data,
                     RankedTensorType::get(shape, type.getElementType()),
                     std::move(bytes), "merged");
}

static int64_t tensorBytes(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.hasStaticShape())
    return 0;
  std::optional<rt::DType> dtype = moe::getDType(tensor.getElementType());
  return dtype ? tensor.getNumElements() * int64_t(rt::dtypeSize(*dtype)) : 0;
}

int64_t moec::weightBytes(Value weight) {
  if (!weight)
    return 0;
  if (auto packed = weight.getDefiningOp<moe::PackedWeightOp>())
    return tensorBytes(packed.getData().getType()) +
           tensorBytes(packed.getScales().getType()) +
           (packed.getZeroPoints()
                ? tensorBytes(packed.getZeroPoints().getType())
                : 0);
  return tensorBytes(weight.getType());
}
