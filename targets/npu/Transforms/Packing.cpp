//===- Packing.cpp - Weights in the layouts the programs read -------------===//

#include "Transforms/Packing.h"

#include "machine/HalfFloat.h"

#include "dialects/moe/IR/MoeDialect.h"
#include "dialects/moe/IR/MoeOps.h"
#include "dialects/moe/IR/WeightFiles.h"
#include "moec/Support/WeightStore.h"

#include "dialects/moe/IR/MoeTypes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

#include <cstring>

using namespace mlir;
using namespace moec;
using namespace moec::npu;

namespace {
/// The bytes of a constant (copied out of its attribute) or a moe.weight
/// (the weight store's, not copied).
struct WeightBytes {
  std::vector<uint8_t> owned;
  ArrayRef<uint8_t> bytes;
};
} // namespace

static FailureOr<WeightBytes> readBytes(Value value) {
  WeightBytes result;
  if (auto constant = value.getDefiningOp<arith::ConstantOp>()) {
    std::optional<std::vector<uint8_t>> bytes =
        moe::getConstantBytes(constant.getValue());
    if (!bytes)
      return emitError(value.getLoc(), "cannot read this constant's bytes");
    result.owned = std::move(*bytes);
    result.bytes = result.owned;
    return result;
  }
  if (auto weight = value.getDefiningOp<moe::WeightOp>()) {
    WeightStore &store = weight->getContext()
                             ->getOrLoadDialect<moe::MoeDialect>()
                             ->getWeightStore();
    llvm::Expected<WeightView> view = store.lookup(weight.getKey());
    if (!view)
      return emitError(value.getLoc(), "weight '")
             << weight.getKey() << "': " << llvm::toString(view.takeError());
    result.bytes = view->bytes;
    return result;
  }
  return emitError(value.getLoc(), "not a weight (a constant or moe.weight)");
}

/// Element i of a tensor of `type`'s bytes, as a double.
static std::optional<double> elementAt(Type type, ArrayRef<uint8_t> bytes,
                                       size_t i) {
  auto read = [&](auto sample) -> std::optional<double> {
    using T = decltype(sample);
    if ((i + 1) * sizeof(T) > bytes.size())
      return std::nullopt;
    T v;
    std::memcpy(&v, bytes.data() + i * sizeof(T), sizeof(T));
    return double(v);
  };
  if (type.isF32())
    return read(float());
  if (type.isF16() || type.isBF16()) {
    if ((i + 1) * 2 > bytes.size())
      return std::nullopt;
    uint16_t h;
    std::memcpy(&h, bytes.data() + 2 * i, 2);
    return type.isF16() ? halfToFloat(h) : bfloat16ToFloat(h);
  }
  if (auto integer = dyn_cast<IntegerType>(type)) {
    unsigned width = integer.getWidth();
    bool isUnsigned = integer.isUnsigned();
    if (width == 8)
      return isUnsigned ? read(uint8_t()) : read(int8_t());
    if (width == 16)
      return isUnsigned ? read(uint16_t()) : read(int16_t());
    if (width == 32)
      return isUnsigned ? read(uint32_t()) : read(int32_t());
  }
  return std::nullopt;
}

FailureOr<QuantizedTensor> moec::npu::readQuantizedTensor(Value value,
                                                          int64_t cubeK) {
  auto packed = value.getDefiningOp<moe::PackedWeightOp>();
  if (!packed)
    return emitError(value.getLoc(), "not a moe.packed_weight");
  auto type = cast<moe::PackedType>(packed.getType());
  moe::PackingAttr packing = type.getPacking();
  RankedTensorType logical = type.getTensorType();
  if (!packing.isIntegerFormat() ||
      (packing.getBits() != 8 && packing.getBits() != 4))
    return packed.emitError("the NPU keeps int8 and int4 weights packed; ")
           << moe::stringifyPackedFormat(packing.getFormat())
           << " is not supported";
  if (logical.getRank() < 2 || logical.getRank() > 3)
    return packed.emitError("the NPU takes [E, N, K] or [N, K] packed "
                            "weights");
  QuantizedTensor t;
  ArrayRef<int64_t> shape = logical.getShape();
  t.groups = logical.getRank() == 3 ? shape[0] : 1;
  t.n = shape[shape.size() - 2];
  t.k = shape.back();
  t.bits = packing.getBits();
  moe::PackedFormat format = packing.getFormat();
  t.isSigned =
      format == moe::PackedFormat::Sint4 || format == moe::PackedFormat::Sint8;
  t.block.assign(packing.getBlock().begin(), packing.getBlock().end());
  if (t.block.size() == 2)
    t.block.insert(t.block.begin(), 1);
  if (t.block[2] % cubeK != 0 && t.block[2] < t.k)
    return packed.emitError("the NPU dequantizes blocks of whole cube "
                            "tiles: a block of ")
           << t.block[2] << " inputs is not a multiple of " << cubeK;
  t.scaleShape = {(t.groups + t.block[0] - 1) / t.block[0],
                  (t.n + t.block[1] - 1) / t.block[1],
                  (t.k + t.block[2] - 1) / t.block[2]};
  FailureOr<WeightBytes> data = readBytes(packed.getData());
  FailureOr<WeightBytes> scales = readBytes(packed.getScales());
  if (failed(data) || failed(scales))
    return failure();
  size_t blocks = size_t(t.scaleShape[0] * t.scaleShape[1] * t.scaleShape[2]);
  Type scaleType = packing.getScale();
  t.scales.resize(blocks);
  t.zeros.assign(blocks, 0.0f);
  for (size_t i = 0; i < blocks; ++i) {
    std::optional<double> v = elementAt(scaleType, scales->bytes, i);
    if (!v)
      return packed.emitError("the NPU cannot read scales of type ")
             << scaleType;
    t.scales[i] = float(*v);
  }
  if (packed.getZeroPoints()) {
    FailureOr<WeightBytes> zeros = readBytes(packed.getZeroPoints());
    if (failed(zeros))
      return failure();
    for (size_t i = 0; i < blocks; ++i) {
      std::optional<double> v =
          elementAt(packing.getZeroPoint(), zeros->bytes, i);
      if (!v)
        return packed.emitError("the NPU cannot read zero points of type ")
               << packing.getZeroPoint();
      t.zeros[i] = float(*v);
    }
  }
  size_t count = size_t(t.groups * t.n * t.k);
  size_t rowBytes = size_t(t.k * t.bits / 8);
  if (data->bytes.size() < size_t(t.groups * t.n) * rowBytes)
    return packed.emitError("the packed data holds fewer bytes than its "
                            "shape");
  bool highFirst = packing.getOrder() == moe::PackingOrder::HighFirst;
  t.q.resize(count);
  for (int64_t row = 0; row < t.groups * t.n; ++row)
    for (int64_t col = 0; col < t.k; ++col) {
      int32_t q;
      if (t.bits == 8) {
        uint8_t byte = data->bytes[row * rowBytes + col];
        q = t.isSigned ? int32_t(int8_t(byte)) : int32_t(byte);
      } else {
        uint8_t byte = data->bytes[row * rowBytes + col / 2];
        bool high = (col % 2 == 1) != highFirst;
        int32_t nibble = high ? byte >> 4 : byte & 15;
        q = t.isSigned && nibble >= 8 ? nibble - 16 : nibble;
      }
      t.q[row * t.k + col] = q;
    }
  return t;
}

LogicalResult moec::npu::deinterleaveRows(QuantizedTensor &tensor,
                                          Location loc) {
  if (tensor.block[1] != 1)
    return emitError(loc, "the NPU de-interleaves a packed gate/up weight "
                          "whose blocks are single rows only");
  const int64_t n = tensor.n, k = tensor.k, kBlocks = tensor.scaleShape[2];
  auto source = [&](int64_t row) {
    return row < n / 2 ? 2 * row : 2 * (row - n / 2) + 1;
  };
  std::vector<int32_t> q(tensor.q.size());
  std::vector<float> scales(tensor.scales.size()), zeros(tensor.zeros.size());
  for (int64_t g = 0; g < tensor.groups; ++g)
    for (int64_t row = 0; row < n; ++row) {
      int64_t from = source(row);
      std::copy_n(tensor.q.begin() + (g * n + from) * k, k,
                  q.begin() + (g * n + row) * k);
      int64_t gb = g / tensor.block[0];
      std::copy_n(tensor.scales.begin() + (gb * n + from) * kBlocks, kBlocks,
                  scales.begin() + (gb * n + row) * kBlocks);
      std::copy_n(tensor.zeros.begin() + (gb * n + from) * kBlocks, kBlocks,
                  zeros.begin() + (gb * n + row) * kBlocks);
    }
  tensor.q = std::move(q);
  tensor.scales = std::move(scales);
  tensor.zeros = std::move(zeros);
  return success();
}

unsigned moec::npu::addQuantizedWeight(WeightTable &table, Value value,
                                       const QuantizedTensor &tensor,
                                       const PackedMatrix &layout) {
  const int64_t cn = layout.cubeN, ck = layout.cubeK;
  const int64_t unitElems = layout.blockN * layout.paddedK();
  const int64_t units = layout.groups * layout.nBlocks();
  PackedWeight values, scales, offsets;
  values.bytes.assign(size_t(units * unitElems * tensor.bits / 8), 0);
  scales.bytes.assign(size_t(units * unitElems / ck * 4), 0);
  offsets.bytes.assign(scales.bytes.size(), 0);
  for (int64_t g = 0; g < layout.groups; ++g)
    for (int64_t nb = 0; nb < layout.nBlocks(); ++nb) {
      int64_t unitStart = (g * layout.nBlocks() + nb) * unitElems;
      for (int64_t kb = 0; kb < layout.kBlocks(); ++kb) {
        int64_t kcols = std::min(layout.blockK, tensor.k - kb * layout.blockK);
        int64_t colTiles = (kcols + ck - 1) / ck;
        int64_t chunkStart = unitStart + layout.blockN * kb * layout.blockK;
        for (int64_t r = 0; r < layout.blockN; ++r) {
          int64_t row = nb * layout.blockN + r;
          for (int64_t c = 0; c < colTiles * ck; ++c) {
            int64_t col = kb * layout.blockK + c;
            int64_t tile = (r / cn) * colTiles + c / ck;
            int64_t at = chunkStart + tile * cn * ck + (r % cn) * ck + c % ck;
            bool inside = row < tensor.n && col < tensor.k;
            int32_t q =
                inside ? tensor.q[(g * tensor.n + row) * tensor.k + col] : 0;
            if (tensor.bits == 8) {
              values.bytes[at] = uint8_t(q);
            } else {
              uint8_t nibble = uint8_t(q) & 15;
              values.bytes[at / 2] |= at % 2 ? nibble << 4 : nibble;
            }
            if (c % ck != 0)
              continue;
            // One scale and offset per tile row: q * s + (-z * s).
            float scale = 0, offset = 0;
            if (inside) {
              size_t b = tensor.blockOf(g, row, col);
              scale = tensor.scales[b];
              offset = -tensor.zeros[b] * scale;
            }
            size_t si = size_t(at / ck) * 4;
            std::memcpy(scales.bytes.data() + si, &scale, 4);
            std::memcpy(offsets.bytes.data() + si, &offset, 4);
          }
        }
      }
    }
  unsigned first = table.weights.size();
  table.weights.push_back(std::move(values));
  table.weights.push_back(std::move(scales));
  table.weights.push_back(std::move(offsets));
  table.byValue[value] = first;
  return first;
}

FailureOr<FloatTensor> moec::npu::readFloatTensor(Value value) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type || !type.hasStaticShape())
    return emitError(value.getLoc(), "a weight needs a static shape");
  FloatTensor result;
  result.shape.assign(type.getShape().begin(), type.getShape().end());
  int64_t count = type.getNumElements();
  result.values.resize(count);
  Type elem = type.getElementType();
  if (!elem.isF32() && !elem.isF16() && !elem.isBF16())
    return emitError(value.getLoc(), "the NPU target reads f32, f16 or bf16 "
                                     "weights, not ")
           << elem;
  FailureOr<WeightBytes> read = readBytes(value);
  if (failed(read))
    return failure();
  ArrayRef<uint8_t> bytes = read->bytes;
  size_t width = elem.isF32() ? 4 : 2;
  if (bytes.size() < size_t(count) * width)
    return emitError(value.getLoc(), "a weight holds ")
           << bytes.size() << " bytes, fewer than its " << count << " " << elem
           << " elements";
  for (int64_t i = 0; i < count; ++i) {
    if (width == 4) {
      std::memcpy(&result.values[i], bytes.data() + 4 * i, 4);
      continue;
    }
    uint16_t h;
    std::memcpy(&h, bytes.data() + 2 * i, 2);
    result.values[i] = elem.isF16() ? halfToFloat(h) : bfloat16ToFloat(h);
  }
  return result;
}

unsigned moec::npu::addInt8CubeWeight(WeightTable &table, Value value,
                                      const QuantizedTensor &tensor,
                                      const PackedMatrix &layout,
                                      int32_t shift) {
  const int64_t cn = layout.cubeN, ck = layout.cubeK;
  PackedWeight weight;
  weight.bytes.assign(layout.bytes(), 0);
  for (int64_t g = 0; g < layout.groups; ++g)
    for (int64_t nb = 0; nb < layout.nBlocks(); ++nb)
      for (int64_t kb = 0; kb < layout.kBlocks(); ++kb) {
        int64_t kcols = std::min(layout.blockK, tensor.k - kb * layout.blockK);
        int64_t colTiles = (kcols + ck - 1) / ck;
        uint8_t *chunk = weight.bytes.data() +
                         (g * layout.nBlocks() + nb) * layout.unitBytes() +
                         layout.chunkOffset(kb);
        for (int64_t r = 0; r < layout.blockN; ++r) {
          int64_t row = nb * layout.blockN + r;
          if (row >= tensor.n)
            break;
          for (int64_t c = 0; c < kcols; ++c) {
            int64_t col = kb * layout.blockK + c;
            int64_t tile = (r / cn) * colTiles + c / ck;
            int32_t q = tensor.q[(g * tensor.n + row) * tensor.k + col];
            chunk[tile * cn * ck + (r % cn) * ck + c % ck] =
                uint8_t(int8_t(q - shift));
          }
        }
      }
  table.weights.push_back(std::move(weight));
  table.byValue[value] = table.weights.size() - 1;
  return table.weights.size() - 1;
}

FloatTensor moec::npu::splitForCube(const FloatTensor &tensor, ElemType elem,
                                    bool transposed) {
  // [k, n] grows to [3k, n]; a transposed [n, k] to [n, 3k].
  int64_t rows = tensor.shape[0], cols = tensor.shape[1];
  FloatTensor result;
  result.shape = transposed ? SmallVector<int64_t>{rows, 3 * cols}
                            : SmallVector<int64_t>{3 * rows, cols};
  result.values.resize(3 * tensor.values.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float v = tensor.values[r * cols + c];
      float high = elem == ElemType::BF16 ? bfloat16ToFloat(floatToBFloat16(v))
                                          : halfToFloat(floatToHalf(v));
      float parts[3] = {high, v - high, high};
      for (int64_t p = 0; p < 3; ++p) {
        int64_t at = transposed ? r * 3 * cols + p * cols + c
                                : (p * rows + r) * cols + c;
        result.values[at] = parts[p];
      }
    }
  return result;
}

int64_t RowOrder::sourceRow(int64_t row, int64_t n) const {
  switch (kind) {
  case Identity:
    return row < n ? row : -1;
  case Deinterleave:
    return row < n / 2 ? 2 * row : 2 * (row - n / 2) + 1;
  case GateUpBlocks: {
    int64_t block = row / (2 * half), within = row % (2 * half);
    bool up = within >= half;
    int64_t i = block * half + (up ? within - half : within);
    if (i >= width)
      return -1;
    if (interleavedSource)
      return 2 * i + (up ? 1 : 0);
    return up ? width + i : i;
  }
  }
  return -1;
}

int64_t RowOrder::packedRows(int64_t n) const {
  if (kind != GateUpBlocks)
    return n;
  return (width + half - 1) / half * 2 * half;
}

void moec::npu::reorderColumns(FloatTensor &tensor, const RowOrder &order) {
  int64_t width = tensor.shape.back();
  int64_t packed = order.packedRows(width);
  int64_t rows = int64_t(tensor.values.size()) / width;
  std::vector<float> values(size_t(rows * packed), 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < packed; ++j)
      if (int64_t from = order.sourceRow(j, width); from >= 0)
        values[r * packed + j] = tensor.values[r * width + from];
  tensor.values = std::move(values);
  tensor.shape.back() = packed;
}

FloatTensor moec::npu::stackRows(const FloatTensor &a, const FloatTensor &b) {
  FloatTensor out;
  out.shape = a.shape;
  int64_t rank = int64_t(a.shape.size());
  int64_t groups = rank == 3 ? a.shape[0] : 1;
  int64_t block = int64_t(a.values.size()) / groups;
  out.shape[rank - 2] *= 2;
  out.values.reserve(a.values.size() * 2);
  for (int64_t g = 0; g < groups; ++g) {
    out.values.insert(out.values.end(), a.values.begin() + g * block,
                      a.values.begin() + (g + 1) * block);
    out.values.insert(out.values.end(), b.values.begin() + g * block,
                      b.values.begin() + (g + 1) * block);
  }
  return out;
}

unsigned moec::npu::addPlainWeight(WeightTable &table, Value value,
                                   const FloatTensor &tensor) {
  PackedWeight weight;
  weight.bytes.resize(tensor.values.size() * 4);
  std::memcpy(weight.bytes.data(), tensor.values.data(), weight.bytes.size());
  table.weights.push_back(std::move(weight));
  table.plainByValue[value] = table.weights.size() - 1;
  return table.weights.size() - 1;
}

unsigned moec::npu::addCubeWeight(WeightTable &table, Value value,
                                  const FloatTensor &tensor,
                                  const PackedMatrix &layout, bool transposed,
                                  const RowOrder &order) {
  const int64_t n = layout.n, k = layout.k, eb = layout.elemBytes();
  const int64_t cn = layout.cubeN, ck = layout.cubeK;
  // The source's rows (outputs): [.., n, k], or [k, n] untransposed.
  const int64_t sourceN =
      transposed ? tensor.shape[tensor.shape.size() - 2] : tensor.shape[1];
  PackedWeight weight;
  weight.bytes.assign(layout.bytes(), 0);
  auto element = [&](int64_t group, int64_t row, int64_t col) {
    int64_t from = order.sourceRow(row, sourceN);
    if (from < 0)
      return 0.0f;
    int64_t index =
        transposed ? (group * sourceN + from) * k + col : col * sourceN + from;
    return tensor.values[index];
  };
  for (int64_t g = 0; g < layout.groups; ++g)
    for (int64_t nb = 0; nb < layout.nBlocks(); ++nb)
      for (int64_t kb = 0; kb < layout.kBlocks(); ++kb) {
        int64_t kcols = std::min(layout.blockK, k - kb * layout.blockK);
        int64_t colTiles = (kcols + ck - 1) / ck;
        uint8_t *chunk = weight.bytes.data() +
                         (g * layout.nBlocks() + nb) * layout.unitBytes() +
                         layout.chunkOffset(kb);
        for (int64_t r = 0; r < layout.blockN; ++r) {
          int64_t row = nb * layout.blockN + r;
          if (row >= n)
            break;
          for (int64_t c = 0; c < kcols; ++c) {
            int64_t col = kb * layout.blockK + c;
            int64_t tile = (r / cn) * colTiles + c / ck;
            int64_t at = (tile * cn * ck + (r % cn) * ck + c % ck) * eb;
            float v = element(g, row, col);
            uint16_t bits = layout.elem == ElemType::BF16 ? floatToBFloat16(v)
                                                          : floatToHalf(v);
            std::memcpy(chunk + at, &bits, 2);
          }
        }
      }
  table.weights.push_back(std::move(weight));
  table.byValue[value] = table.weights.size() - 1;
  return table.weights.size() - 1;
}

Value moec::npu::createWeightOp(OpBuilder &builder, Location loc,
                                PackedWeight &weight, StringRef keyHint) {
  WeightStore &store = builder.getContext()
                           ->getOrLoadDialect<moe::MoeDialect>()
                           ->getWeightStore();
  int64_t size = int64_t(weight.bytes.size());
  weight.key =
      store.addBlob(keyHint, rt::DType::I8, {size}, std::move(weight.bytes));
  weight.bytes.clear();
  auto type = RankedTensorType::get({size}, builder.getIntegerType(8));
  return moe::WeightOp::create(builder, loc, type, weight.key).getResult();
}
