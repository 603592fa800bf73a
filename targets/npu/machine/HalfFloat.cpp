//===- HalfFloat.cpp - Bit-exact 16-bit float conversions -----------------===//

#include "machine/HalfFloat.h"

#include <cstring>

using namespace moec::npu;

uint16_t moec::npu::floatToHalf(float value) {
  uint32_t bits = floatBits(value);
  uint16_t sign = uint16_t((bits >> 16) & 0x8000);
  uint32_t magnitude = bits & 0x7fffffff;
  if (magnitude > 0x7f800000) // NaN: quiet, top payload bits kept.
    return sign | 0x7e00 | uint16_t((magnitude >> 13) & 0x3ff);
  // 65520 is halfway between 65504 (the largest f16, odd mantissa) and
  // 2^16: it and everything above round to infinity.
  if (magnitude >= 0x477ff000)
    return sign | 0x7c00;
  if (magnitude >= 0x38800000) { // A normal f16 (>= 2^-14).
    // Rebias the exponent (127 -> 15) and round away 13 mantissa bits; a
    // carry out of the mantissa correctly bumps the exponent.
    uint32_t rebiased = magnitude - 0x38000000;
    uint32_t half = rebiased >> 13, rest = rebiased & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (half & 1)))
      ++half;
    return sign | uint16_t(half);
  }
  // 2^-25 is halfway between 0 and the smallest subnormal: ties to 0.
  if (magnitude <= 0x33000000)
    return sign;
  // A subnormal f16: the value in units of 2^-24, rounded. The exponent
  // here is 102..112, so the shift is 14..24.
  uint32_t exponent = magnitude >> 23;
  uint32_t mantissa = (magnitude & 0x7fffff) | 0x800000;
  unsigned shift = 126 - exponent;
  uint32_t half = mantissa >> shift;
  uint32_t rest = mantissa & ((1u << shift) - 1), halfway = 1u << (shift - 1);
  if (rest > halfway || (rest == halfway && (half & 1)))
    ++half;
  return sign | uint16_t(half);
}

float moec::npu::int32ToFloatRoundOdd(int32_t value) {
  int64_t exact = value;
  uint64_t magnitude = exact < 0 ? uint64_t(-exact) : uint64_t(exact);
  if (magnitude < (1u << 24))
    return float(value);
  // Keep the top 24 significant bits, truncated, and make the last one odd
  // when anything below it was dropped.
  unsigned width = 64 - __builtin_clzll(magnitude);
  unsigned drop = width - 24;
  uint64_t kept = magnitude >> drop;
  if (magnitude & ((uint64_t(1) << drop) - 1))
    kept |= 1;
  float result = float(kept) * float(uint64_t(1) << drop);
  return value < 0 ? -result : result;
}

void moec::npu::halfRowToFloat(const uint8_t *from, int64_t count, float *to) {
  for (int64_t i = 0; i < count; ++i) {
    uint16_t x;
    std::memcpy(&x, from + 2 * i, 2);
    to[i] = halfToFloat(x);
  }
}

void moec::npu::bfloat16RowToFloat(const uint8_t *from, int64_t count,
                                   float *to) {
  for (int64_t i = 0; i < count; ++i) {
    uint16_t x;
    std::memcpy(&x, from + 2 * i, 2);
    to[i] = bfloat16ToFloat(x);
  }
}

void moec::npu::floatRowToHalf(const float *from, int64_t count, uint8_t *to) {
  for (int64_t i = 0; i < count; ++i) {
    uint16_t x = floatToHalf(from[i]);
    std::memcpy(to + 2 * i, &x, 2);
  }
}

void moec::npu::floatRowToBFloat16(const float *from, int64_t count,
                                   uint8_t *to) {
  for (int64_t i = 0; i < count; ++i) {
    uint16_t x = floatToBFloat16(from[i]);
    std::memcpy(to + 2 * i, &x, 2);
  }
}
