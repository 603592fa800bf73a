//===- Vector.cpp - What vector commands compute --------------------------===//
//
// The vector unit on UB: f16/bf16/f32 commands compute in f32 and round the
// result to the element type (HalfFloat.h); i32 commands are integer
// arithmetic that wraps. Rows are converted to f32 scratch and back, so
// every operation is one tight loop over a row.
//
//===----------------------------------------------------------------------===//

#include "machine/HalfFloat.h"
#include "sim/SimState.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#pragma STDC FP_CONTRACT OFF

using namespace moec::npu;
using namespace moec::npu::sim;

static int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

static int64_t mulSize(int64_t a, int64_t b) {
  int64_t product;
  if (__builtin_mul_overflow(a, b, &product) || product > kSizeLimit)
    return kSizeLimit + 1;
  return product;
}

static bool isFloat(ElemType type) {
  return type == ElemType::F32 || type == ElemType::F16 ||
         type == ElemType::BF16;
}

static bool isBinary(Opcode op) {
  return op >= Opcode::V_ADD && op <= Opcode::V_MIN;
}

static bool isTranscendental(Opcode op) {
  return op == Opcode::V_EXP || op == Opcode::V_LOG || op == Opcode::V_SQRT ||
         op == Opcode::V_DIV;
}

bool sim::planVector(Machine &m, const Command &command, const int64_t *v,
                     Work &work, std::string &what) {
  Opcode op = command.opcode;
  ElemType type = ElemType(command.dtype);
  unsigned eb = elemTypeBytes(type);
  int64_t count = v[3], rows = v[4];
  for (int64_t size : {count, rows})
    if (size < 0 || size > kSizeLimit) {
      what = "size " + std::to_string(size) + " (v3 or v4) out of range";
      return false;
    }
  int64_t startup = m.chip.vectorStartupCycles;
  int64_t perCycle = std::max(1u, m.chip.vectorBytesPerCycle);
  auto blocks = [&](int64_t bytes) { return ceilDiv(bytes, perCycle); };
  work.pipe = Pipe::V;
  int64_t rowBytes = mulSize(count, eb);
  switch (op) {
  case Opcode::V_TOPK: {
    int64_t k = v[5];
    if (k < 0 || k > count) {
      what = "k = v5 = " + std::to_string(k) + " must be 0.." +
             std::to_string(count) + " (v3)";
      return false;
    }
    // Cycles: startup + rows * blocks of a row * ceil(log2 n) passes.
    int64_t passes = 1;
    while (passes < 63 && (int64_t(1) << passes) < count)
      ++passes;
    work.cycles = uint64_t(
        startup + mulSize(mulSize(rows, blocks(mulSize(count, 4))), passes));
    int64_t outBytes = mulSize(mulSize(rows, k), 4);
    work.add(Space::UB, true, v[0], 1, outBytes, 0, 4);
    work.add(Space::UB, false, v[1], rows, mulSize(count, 4), v[6], 4);
    work.add(Space::UB, true, v[2], 1, outBytes, 0, 4);
    return true;
  }
  case Opcode::V_CAST: {
    // Cycles: like elementwise, over the input bytes.
    unsigned sourceBytes = elemTypeBytes(ElemType(command.flags >> 4));
    int64_t inBytes = mulSize(count, sourceBytes);
    work.cycles = uint64_t(startup + blocks(mulSize(rows, inBytes)));
    work.add(Space::UB, true, v[0], rows, rowBytes, v[5], eb);
    work.add(Space::UB, false, v[1], rows, inBytes, v[6], sourceBytes);
    return true;
  }
  case Opcode::V_UNPACK_INT4:
    // Cycles: like elementwise, over the output bytes.
    work.cycles = uint64_t(startup + blocks(mulSize(rows, rowBytes)));
    work.add(Space::UB, true, v[0], rows, rowBytes, v[5], eb);
    work.add(Space::UB, false, v[1], rows, (count + 1) / 2, v[6], 1);
    return true;
  default:
    break;
  }
  bool reduce = op == Opcode::V_REDUCE_SUM || op == Opcode::V_REDUCE_MAX;
  bool integerOk = isBinary(op) ? op != Opcode::V_DIV : op == Opcode::V_DUP;
  if (!isFloat(type) && !(type == ElemType::I32 && integerOk)) {
    what = std::string("no ") + opcodeName(op) + " on " + elemTypeName(type) +
           (type == ElemType::I32
                ? " (i32: V_ADD, V_SUB, V_MUL, V_MAX, V_MIN, V_DUP)"
                : " (f32, f16, bf16)");
    return false;
  }
  // Cycles: startup + ceil(bytes / bytes per cycle), each block taking the
  // transcendental cycles for exp, log, sqrt and division; reductions over
  // their input bytes.
  int64_t factor = isTranscendental(op) ? m.chip.vectorTranscendentalCycles : 1;
  work.cycles =
      uint64_t(startup + mulSize(blocks(mulSize(rows, rowBytes)), factor));
  work.add(Space::UB, true, v[0], rows, reduce ? eb : rowBytes, v[5], eb);
  if (op == Opcode::V_DUP)
    work.add(Space::UB, false, 0, 0, 0, 0, 1);
  else
    work.add(Space::UB, false, v[1], rows, rowBytes, v[6], eb);
  bool hasSource1 = isBinary(op) || op == Opcode::V_DUP;
  if (!hasSource1 || (command.flags & 2))
    work.add(Space::UB, false, 0, 0, 0, 0, 1);
  else
    work.add(Space::UB, false, v[2], rows, (command.flags & 1) ? eb : rowBytes,
             v[7], eb);
  return true;
}

//===----------------------------------------------------------------------===//
// Running
//===----------------------------------------------------------------------===//

static void loadFloats(const uint8_t *from, ElemType type, int64_t count,
                       float *to) {
  if (type == ElemType::F32) {
    std::memcpy(to, from, size_t(count) * 4);
    return;
  }
  if (type == ElemType::F16)
    halfRowToFloat(from, count, to);
  else
    bfloat16RowToFloat(from, count, to);
}

static void storeFloats(uint8_t *to, ElemType type, int64_t count,
                        const float *from) {
  if (type == ElemType::F32) {
    std::memcpy(to, from, size_t(count) * 4);
    return;
  }
  if (type == ElemType::F16)
    floatRowToHalf(from, count, to);
  else
    floatRowToBFloat16(from, count, to);
}

template <typename T, typename Op>
static void apply(T *out, const T *a, const T *b, const T *scalar,
                  int64_t count, Op op) {
  if (scalar) {
    T s = *scalar;
    for (int64_t i = 0; i < count; ++i)
      out[i] = op(a[i], s);
  } else {
    for (int64_t i = 0; i < count; ++i)
      out[i] = op(a[i], b[i]);
  }
}

static void floatOp(Opcode op, float *out, const float *a, const float *b,
                    const float *scalar, int64_t n) {
  switch (op) {
  case Opcode::V_ADD:
    return apply(out, a, b, scalar, n, [](float x, float y) { return x + y; });
  case Opcode::V_SUB:
    return apply(out, a, b, scalar, n, [](float x, float y) { return x - y; });
  case Opcode::V_MUL:
    return apply(out, a, b, scalar, n, [](float x, float y) { return x * y; });
  case Opcode::V_DIV:
    return apply(out, a, b, scalar, n, [](float x, float y) { return x / y; });
  case Opcode::V_MAX:
    return apply(out, a, b, scalar, n,
                 [](float x, float y) { return std::fmax(x, y); });
  case Opcode::V_MIN:
    return apply(out, a, b, scalar, n,
                 [](float x, float y) { return std::fmin(x, y); });
  case Opcode::V_DUP:
    for (int64_t i = 0; i < n; ++i)
      out[i] = scalar ? *scalar : b[i];
    return;
  default:
    break;
  }
  for (int64_t i = 0; i < n; ++i) {
    float x = a[i];
    switch (op) {
    case Opcode::V_EXP:
      out[i] = std::exp(x);
      break;
    case Opcode::V_NEG:
      out[i] = -x;
      break;
    case Opcode::V_ABS:
      out[i] = std::fabs(x);
      break;
    case Opcode::V_SQRT:
      out[i] = std::sqrt(x);
      break;
    default: // V_LOG
      out[i] = std::log(x);
      break;
    }
  }
}

static void intOp(Opcode op, int32_t *out, const int32_t *a, const int32_t *b,
                  const int32_t *scalar, int64_t n) {
  using U = uint32_t;
  switch (op) {
  case Opcode::V_ADD:
    return apply(out, a, b, scalar, n,
                 [](int32_t x, int32_t y) { return int32_t(U(x) + U(y)); });
  case Opcode::V_SUB:
    return apply(out, a, b, scalar, n,
                 [](int32_t x, int32_t y) { return int32_t(U(x) - U(y)); });
  case Opcode::V_MUL:
    return apply(out, a, b, scalar, n,
                 [](int32_t x, int32_t y) { return int32_t(U(x) * U(y)); });
  case Opcode::V_MAX:
    return apply(out, a, b, scalar, n,
                 [](int32_t x, int32_t y) { return std::max(x, y); });
  case Opcode::V_MIN:
    return apply(out, a, b, scalar, n,
                 [](int32_t x, int32_t y) { return std::min(x, y); });
  default: // V_DUP
    for (int64_t i = 0; i < n; ++i)
      out[i] = scalar ? *scalar : b[i];
    return;
  }
}

/// Elementwise commands and reductions.
static void runElementwise(Core &core, const Command &command, const int64_t *v,
                           uint8_t *const *bases) {
  Opcode op = command.opcode;
  ElemType type = ElemType(command.dtype);
  int64_t count = v[3];
  bool immediate = command.flags & 2, broadcast = command.flags & 1;
  bool reduce = op == Opcode::V_REDUCE_SUM || op == Opcode::V_REDUCE_MAX;
  // An immediate is arg2's low 32 bits, read as the element type's f32 or
  // i32.
  uint32_t immediateBits = uint32_t(uint64_t(command.arg[2]));
  if (type == ElemType::I32) {
    core.i0.resize(size_t(count));
    core.i1.resize(size_t(count));
    for (int64_t r = 0; r < v[4]; ++r) {
      int32_t scalar = int32_t(immediateBits);
      if (op != Opcode::V_DUP)
        std::memcpy(core.i0.data(), bases[1] + r * v[6], size_t(count) * 4);
      if (!immediate)
        std::memcpy(broadcast ? &scalar : core.i1.data(), bases[2] + r * v[7],
                    broadcast ? 4 : size_t(count) * 4);
      intOp(op, core.i0.data(), core.i0.data(), core.i1.data(),
            (immediate || broadcast) ? &scalar : nullptr, count);
      std::memcpy(bases[0] + r * v[5], core.i0.data(), size_t(count) * 4);
    }
    return;
  }
  core.f0.resize(size_t(count));
  core.f1.resize(size_t(count));
  float *a = core.f0.data(), *b = core.f1.data();
  for (int64_t r = 0; r < v[4]; ++r) {
    uint8_t *out = bases[0] + r * v[5];
    if (op != Opcode::V_DUP && count > 0) // A reduction of nothing reads none.
      loadFloats(bases[1] + r * v[6], type, count, a);
    if (reduce) {
      // In order, from the first element; an empty row gives 0 or -inf.
      float result = op == Opcode::V_REDUCE_SUM ? 0.0f : -INFINITY;
      if (count > 0)
        result = a[0];
      for (int64_t i = 1; i < count; ++i)
        result = op == Opcode::V_REDUCE_SUM ? result + a[i]
                                            : std::fmax(result, a[i]);
      storeFloats(out, type, 1, &result);
      continue;
    }
    float scalar = bitsFloat(immediateBits);
    bool hasSource1 = isBinary(op) || op == Opcode::V_DUP;
    if (hasSource1 && !immediate)
      loadFloats(bases[2] + r * v[7], type, broadcast ? 1 : count,
                 broadcast ? &scalar : b);
    floatOp(op, a, a, b, (immediate || broadcast) ? &scalar : nullptr, count);
    storeFloats(out, type, count, a);
  }
}

/// One element of any type, exactly.
static double loadElement(const uint8_t *from, ElemType type) {
  switch (type) {
  case ElemType::F32: {
    float x;
    std::memcpy(&x, from, 4);
    return x;
  }
  case ElemType::F16:
  case ElemType::BF16: {
    uint16_t x;
    std::memcpy(&x, from, 2);
    return type == ElemType::F16 ? halfToFloat(x) : bfloat16ToFloat(x);
  }
  case ElemType::I8:
    return int8_t(*from);
  case ElemType::U8:
    return *from;
  case ElemType::I32: {
    int32_t x;
    std::memcpy(&x, from, 4);
    return x;
  }
  }
  return 0;
}

/// Stores `value` (exact, from an element of `source`) as `type`: floats
/// rounded to nearest even once, I8/U8 rounded to nearest even and
/// saturated, I32 truncated toward zero and saturated; NaN to an integer
/// is 0.
static void storeElement(uint8_t *to, ElemType type, double value,
                         ElemType source) {
  auto integer = [&](double low, double high, bool truncate) {
    if (std::isnan(value))
      return 0.0;
    double rounded = truncate ? std::trunc(value) : std::nearbyint(value);
    return std::min(high, std::max(low, rounded));
  };
  // An i32 above 2^24 is rounded to f32 "to odd" first, which leaves the
  // second rounding to f16/bf16 correct.
  float single = source == ElemType::I32 && type != ElemType::F32
                     ? int32ToFloatRoundOdd(int32_t(value))
                     : float(value);
  switch (type) {
  case ElemType::F32:
    std::memcpy(to, &single, 4);
    return;
  case ElemType::F16:
  case ElemType::BF16: {
    uint16_t x =
        type == ElemType::F16 ? floatToHalf(single) : floatToBFloat16(single);
    std::memcpy(to, &x, 2);
    return;
  }
  case ElemType::I8:
    *to = uint8_t(int8_t(integer(-128, 127, false)));
    return;
  case ElemType::U8:
    *to = uint8_t(integer(0, 255, false));
    return;
  case ElemType::I32: {
    int32_t x = int32_t(integer(INT32_MIN, INT32_MAX, true));
    std::memcpy(to, &x, 4);
    return;
  }
  }
}

static void runCast(const Command &command, const int64_t *v,
                    uint8_t *const *bases) {
  ElemType to = ElemType(command.dtype), from = ElemType(command.flags >> 4);
  unsigned toBytes = elemTypeBytes(to), fromBytes = elemTypeBytes(from);
  for (int64_t r = 0; r < v[4]; ++r) {
    uint8_t *out = bases[0] + r * v[5];
    const uint8_t *in = bases[1] + r * v[6];
    for (int64_t i = 0; i < v[3]; ++i)
      storeElement(out + i * toBytes, to, loadElement(in + i * fromBytes, from),
                   from);
  }
}

static void runUnpack(const Command &command, const int64_t *v,
                      uint8_t *const *bases) {
  ElemType to = ElemType(command.dtype);
  unsigned toBytes = elemTypeBytes(to);
  bool isSigned = command.flags & 4;
  for (int64_t r = 0; r < v[4]; ++r) {
    uint8_t *out = bases[0] + r * v[5];
    const uint8_t *in = bases[1] + r * v[6];
    for (int64_t i = 0; i < v[3]; ++i) {
      int nibble = (i & 1) ? in[i / 2] >> 4 : in[i / 2] & 15;
      if (isSigned)
        nibble = (nibble ^ 8) - 8;
      storeElement(out + i * toBytes, to, nibble, ElemType::I8);
    }
  }
}

static void runTopK(Core &core, const int64_t *v, uint8_t *const *bases) {
  int64_t n = v[3], k = v[5];
  core.f0.resize(size_t(n));
  core.order.resize(size_t(n));
  const float *scores = core.f0.data();
  // Larger first, NaN after every number, ties by the lower index.
  auto before = [scores](uint32_t x, uint32_t y) {
    float a = scores[x], b = scores[y];
    bool aNan = std::isnan(a), bNan = std::isnan(b);
    if (aNan != bNan)
      return bNan;
    if (!aNan && a != b)
      return a > b;
    return x < y;
  };
  for (int64_t r = 0; r < v[4]; ++r) {
    std::memcpy(core.f0.data(), bases[1] + r * v[6], size_t(n) * 4);
    for (int64_t i = 0; i < n; ++i)
      core.order[i] = uint32_t(i);
    std::partial_sort(core.order.begin(), core.order.begin() + k,
                      core.order.end(), before);
    for (int64_t i = 0; i < k; ++i) {
      int32_t index = int32_t(core.order[i]);
      std::memcpy(bases[0] + (r * k + i) * 4, &scores[index], 4);
      std::memcpy(bases[2] + (r * k + i) * 4, &index, 4);
    }
  }
}

void sim::runVector(Core &core, const Command &command, const int64_t *v,
                    uint8_t *const *bases) {
  if (v[3] == 0 && command.opcode != Opcode::V_REDUCE_SUM &&
      command.opcode != Opcode::V_REDUCE_MAX)
    return;
  switch (command.opcode) {
  case Opcode::V_CAST:
    return runCast(command, v, bases);
  case Opcode::V_UNPACK_INT4:
    return runUnpack(command, v, bases);
  case Opcode::V_TOPK:
    return runTopK(core, v, bases);
  default:
    return runElementwise(core, command, v, bases);
  }
}
