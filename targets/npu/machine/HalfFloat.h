//===- HalfFloat.h - Bit-exact 16-bit float conversions ---------*- C++ -*-===//
//
// IEEE binary16 (f16) and bfloat16 to and from f32, rounding to nearest
// even, with NaN, infinities and subnormals handled as the hardware does:
// the simulator's results must match the chip bit for bit.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_MACHINE_HALFFLOAT_H
#define MOEC_TARGETS_NPU_MACHINE_HALFFLOAT_H

#include <cstdint>
#include <cstring>

namespace moec::npu {

inline uint32_t floatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  return bits;
}

inline float bitsFloat(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

/// f32 to f16, round to nearest even; overflow gives infinity, a NaN stays
/// a (quiet) NaN keeping the top of its payload.
uint16_t floatToHalf(float value);

/// f16 to f32 (exact). Inline and nearly branch-free: the vector unit and
/// the cube convert every f16 operand.
inline float halfToFloat(uint16_t half) {
  constexpr uint32_t kExponent = 0x7c00u << 13;
  uint32_t bits = uint32_t(half & 0x7fff) << 13;
  uint32_t exponent = bits & kExponent;
  bits += (127 - 15) << 23; // Rebias.
  if (exponent == kExponent) {
    bits += (128 - 16) << 23; // Infinity or NaN.
  } else if (exponent == 0) {
    // Zero or subnormal: m * 2^-24, as 2^-14 * (1 + m / 1024) - 2^-14.
    bits += 1 << 23;
    bits = floatBits(bitsFloat(bits) - bitsFloat(113u << 23));
  }
  return bitsFloat(bits | (uint32_t(half & 0x8000) << 16));
}

/// f32 to bf16, round to nearest even; a NaN stays a (quiet) NaN.
inline uint16_t floatToBFloat16(float value) {
  uint32_t bits = floatBits(value);
  if ((bits & 0x7fffffff) > 0x7f800000)
    return uint16_t((bits >> 16) | 0x40); // NaN: quiet, never infinity.
  // bf16 is f32's top half: round the low 16 bits away, ties to even. The
  // carry handles mantissa overflow and rounding up to infinity.
  return uint16_t((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
}

/// bf16 to f32 (exact).
inline float bfloat16ToFloat(uint16_t bf16) {
  return bitsFloat(uint32_t(bf16) << 16);
}

/// Rows of `count` 16-bit values at `from` (any alignment) to f32, and
/// back, for the vector unit and the cube.
void halfRowToFloat(const uint8_t *from, int64_t count, float *to);
void bfloat16RowToFloat(const uint8_t *from, int64_t count, float *to);
void floatRowToHalf(const float *from, int64_t count, uint8_t *to);
void floatRowToBFloat16(const float *from, int64_t count, uint8_t *to);

/// An int32 rounded to f32 "to odd" (truncated, with the lowest mantissa bit
/// set when bits were lost). Rounding that to f16 or bf16 to nearest even
/// gives the correctly rounded int32 -> f16/bf16, with no double rounding.
float int32ToFloatRoundOdd(int32_t value);

} // namespace moec::npu

#endif // MOEC_TARGETS_NPU_MACHINE_HALFFLOAT_H
