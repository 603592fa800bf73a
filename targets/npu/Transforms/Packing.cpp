//===- Packing.cpp - Weights in the layouts the programs read -------------===//

#include "Transforms/Packing.h"

#include "dialects/moe/IR/MoeDialect.h"
#include "dialects/moe/IR/MoeOps.h"
#include "dialects/moe/IR/WeightFiles.h"
#include "moec/Support/WeightStore.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

#include <cstring>

using namespace mlir;
using namespace moec;
using namespace moec::npu;

static float halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  int exponent = (h >> 10) & 0x1F;
  uint32_t mantissa = h & 0x3FF;
  uint32_t bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000 | (mantissa << 13);
  } else if (exponent == 0) {
    float value = std::ldexp(float(mantissa), -24);
    return sign ? -value : value;
  } else {
    bits = sign | (uint32_t(exponent - 15 + 127) << 23) | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

static float bf16ToFloat(uint16_t b) {
  uint32_t bits = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

/// f32 to f16, rounded to nearest even; overflow to infinity.
static uint16_t floatToHalf(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  uint16_t sign = uint16_t((bits >> 16) & 0x8000);
  uint32_t abs = bits & 0x7FFFFFFF;
  if (abs >= 0x7F800000) // inf or NaN
    return sign | 0x7C00 | (abs > 0x7F800000 ? 0x200 : 0);
  if (abs >= 0x477FF000) // rounds past the largest half
    return sign | 0x7C00;
  if (abs < 0x38800000) { // subnormal half (or zero)
    // Round abs * 2^24 to an integer, to nearest even.
    float scaled;
    uint32_t absBits = abs;
    std::memcpy(&scaled, &absBits, 4);
    float value = std::nearbyint(scaled * 16777216.0f);
    return sign | uint16_t(value);
  }
  uint32_t mantissa = abs & 0x7FFFFF;
  uint32_t exponent = (abs >> 23) - 127 + 15;
  uint32_t half = (exponent << 10) | (mantissa >> 13);
  uint32_t rest = mantissa & 0x1FFF;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1)))
    ++half;
  return sign | uint16_t(half);
}

/// f32 to bf16, rounded to nearest even.
static uint16_t floatToBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7FFFFFFF) > 0x7F800000)
    return uint16_t((bits >> 16) | 0x40);
  uint32_t rounding = 0x7FFF + ((bits >> 16) & 1);
  return uint16_t((bits + rounding) >> 16);
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
  ArrayRef<uint8_t> bytes;
  std::optional<std::vector<uint8_t>> owned;
  if (auto constant = value.getDefiningOp<arith::ConstantOp>()) {
    owned = moe::getConstantBytes(constant.getValue());
    if (!owned)
      return emitError(value.getLoc(), "cannot read this constant's bytes");
    bytes = *owned;
  } else if (auto weight = value.getDefiningOp<moe::WeightOp>()) {
    WeightStore &store = weight->getContext()
                             ->getOrLoadDialect<moe::MoeDialect>()
                             ->getWeightStore();
    llvm::Expected<WeightView> view = store.lookup(weight.getKey());
    if (!view)
      return emitError(value.getLoc(), "weight '")
             << weight.getKey() << "': " << llvm::toString(view.takeError());
    bytes = view->bytes;
  } else {
    return emitError(value.getLoc(), "not a weight");
  }
  size_t width = elem.isF32() ? 4 : 2;
  if (bytes.size() < size_t(count) * width)
    return emitError(value.getLoc(), "a weight holds ")
           << bytes.size() << " bytes, fewer than its " << count << " "
           << elem << " elements";
  for (int64_t i = 0; i < count; ++i) {
    if (width == 4) {
      std::memcpy(&result.values[i], bytes.data() + 4 * i, 4);
      continue;
    }
    uint16_t h;
    std::memcpy(&h, bytes.data() + 2 * i, 2);
    result.values[i] = elem.isF16() ? halfToFloat(h) : bf16ToFloat(h);
  }
  return result;
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
      float high = elem == ElemType::BF16 ? bf16ToFloat(floatToBf16(v))
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

void moec::npu::deinterleaveColumns(FloatTensor &tensor) {
  int64_t width = tensor.shape.back();
  std::vector<float> row(width);
  for (size_t start = 0; start < tensor.values.size(); start += width) {
    for (int64_t j = 0; j < width / 2; ++j) {
      row[j] = tensor.values[start + 2 * j];
      row[width / 2 + j] = tensor.values[start + 2 * j + 1];
    }
    std::copy(row.begin(), row.end(), tensor.values.begin() + start);
  }
}

unsigned moec::npu::addPlainWeight(WeightTable &table, Value value,
                                   const FloatTensor &tensor) {
  PackedWeight weight;
  weight.bytes.resize(tensor.values.size() * 4);
  std::memcpy(weight.bytes.data(), tensor.values.data(), weight.bytes.size());
  table.weights.push_back(std::move(weight));
  table.byValue[value] = table.weights.size() - 1;
  return table.weights.size() - 1;
}

unsigned moec::npu::addCubeWeight(WeightTable &table, Value value,
                                  const FloatTensor &tensor,
                                  const PackedMatrix &layout, bool transposed,
                                  bool deinterleave) {
  const int64_t n = layout.n, k = layout.k, eb = layout.elemBytes();
  const int64_t cn = layout.cubeN, ck = layout.cubeK;
  PackedWeight weight;
  weight.bytes.assign(layout.bytes(), 0);
  auto element = [&](int64_t group, int64_t row, int64_t col) {
    if (deinterleave)
      row = row < n / 2 ? 2 * row : 2 * (row - n / 2) + 1;
    int64_t index = transposed ? (group * n + row) * k + col : col * n + row;
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
            uint16_t bits = layout.elem == ElemType::BF16 ? floatToBf16(v)
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
  weight.key = store.addBlob(keyHint, rt::DType::I8, {size},
                             std::move(weight.bytes));
  weight.bytes.clear();
  auto type = RankedTensorType::get({size}, builder.getIntegerType(8));
  return moe::WeightOp::create(builder, loc, type, weight.key).getResult();
}
