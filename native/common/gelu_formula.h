// gelu, exact (erf) form as PyTorch defines it, per element, written once for
// both backends: cpu/eltwise.cc and cuda/eltwise.cu call these functions.
//
//   forward:  y  = x * phi(x),                 phi(x) = 0.5 * (1 + erf(x / sqrt(2)))
//   backward: dx = dy * (phi(x) + x * pdf(x)), pdf(x) = exp(-x*x/2) / sqrt(2*pi)
//
// phi and exp are computed here rather than taken from the C library's erff
// and expf, for two reasons: the library calls do not vectorise on the cpu
// (a loop of them ran 10x slower than this), and the cpu's and cuda's
// libraries round differently in the last bits. this code uses only
// operations that every IEEE compiler rounds alike: *, /, plain + and - where
// no product feeds them (nothing for a compiler to fuse), an explicit fmaf for
// every multiply-add, rintf, and integer bit moves and masks for the
// selects; nvcc's defaults (-prec-div, no fast math) round / and fmaf
// correctly. so the same bits come out on both backends, and the cpu loops
// vectorise.
//
// phi(x) = 0.5 * erfc(-x / sqrt(2)), with erfc from the Chebyshev fit of
// Numerical Recipes (erfcc: erfc(z) = t * exp(-z^2 + P(t)), t = 1 / (1 + z/2),
// relative error below 1.2e-7 for every z >= 0), and erfc(-z) = 2 - erfc(z).
// the relative form keeps the left tail's precision (PyTorch's 1 + erf(z)
// keeps no correct bits below x = -5.5, where erf rounds to -1), and the
// exponent -x^2/2 + P(t), up to -87, is carried with the error of its
// rounding (gelu_gauss). measured over [-18, 18] (tests/native/eltwise.test.ts):
// every output within 8 roundings of float64 (7.3 at most); the gradient
// within 8 roundings of its terms' size (it cancels near x = -0.75).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "common/host_device.h"

namespace cudalab {

constexpr float kGeluSqrtHalf = 0.70710678118654752440f;    // 1 / sqrt(2)
constexpr float kGeluInvSqrt2Pi = 0.39894228040143267794f;  // 1 / sqrt(2*pi)

CUDALAB_HD float gelu_bits_to_float(int32_t bits) {
#if defined(__CUDA_ARCH__)
  return __int_as_float(bits);
#else
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
#endif
}

CUDALAB_HD int32_t gelu_float_to_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_int(f);
#else
  int32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
#endif
}

// the branches below are selects on integer masks of the floats' bits: gcc
// does not turn a float comparison into a vector select (the comparison
// might trap, under its default -ftrapping-math), nor vectorise fminf/fmaxf,
// and either would keep the cpu loops scalar.

// x < 0 ? if_negative : otherwise, decided by x's sign bit
CUDALAB_HD float gelu_select_negative(float x, float if_negative, float otherwise) {
  const int32_t mask = gelu_float_to_bits(x) >> 31;  // all ones when the sign bit is set
  return gelu_bits_to_float((gelu_float_to_bits(if_negative) & mask) | (gelu_float_to_bits(otherwise) & ~mask));
}

// exp(a) for a <= 1 (what gelu needs). Cody and Waite's reduction
// a = k*ln2 + r, |r| <= ln2/2, exp(r) by its Taylor series to r^7 (truncation
// below 1e-8, relative), then times 2^k built from its bits. below a = -87.3
// (k < -126, outside float's normal range) the factor's exponent field is
// clamped to 0, which makes the result exactly 0. an a below -104, -inf or
// NaN is replaced by -104 first (the callers' x carries a NaN on), so the
// float-to-int conversion only ever sees a value in range
CUDALAB_HD float gelu_exp(float a) {
  const uint32_t bits = (uint32_t)gelu_float_to_bits(a);
  // negative floats order as their bits do, unsigned: beyond -104 means larger bits
  const int32_t out_of_range = -(int32_t)((bits > 0xC2D00000u /* -104 */) | ((bits & 0x7fffffffu) > 0x7f800000u /* NaN */));
  const float clamped = gelu_bits_to_float(((int32_t)0xC2D00000u & out_of_range) | ((int32_t)bits & ~out_of_range));
  const float k = rintf(clamped * 1.44269504088896341f);  // log2(e)
  float r = fmaf(-k, 0.693145751953125f, clamped);        // ln2, the high bits (exact times k)
  r = fmaf(-k, 1.428606765330187e-06f, r);                // ln2, the rest
  float p = 1.0f / 5040.0f;
  p = fmaf(p, r, 1.0f / 720.0f);
  p = fmaf(p, r, 1.0f / 120.0f);
  p = fmaf(p, r, 1.0f / 24.0f);
  p = fmaf(p, r, 1.0f / 6.0f);
  p = fmaf(p, r, 0.5f);
  p = fmaf(p, r, 1.0f);
  p = fmaf(p, r, 1.0f);
  const int32_t biased = (int32_t)k + 127;
  return p * gelu_bits_to_float((biased & -(int32_t)(biased > 0)) << 23);
}

// exp(-x*x/2 + extra) to float precision for any x. the exponent reaches -87,
// where one rounding of it (an ulp of 87 is 8e-6) would move the result by
// 130 roundings of its own; so the exponent is carried as a rounded part a
// and the error c that rounding left, and exp(a + c) = exp(a) * (1 + c) (c
// is below an ulp of a, so the first-order term is exact to float):
// - x*x = hi + lo exactly (lo = fmaf(x, x, -hi))
// - -hi/2 + extra = a + err exactly (Knuth's two-sum, plain adds that no
//   compiler fuses), so c = err - lo/2
// when x*x overflows (or x is NaN) the result is 0 and c is taken as 0: the
// two parts would be inf - inf = NaN there, and 0 * NaN is NaN
CUDALAB_HD float gelu_gauss(float x, float extra) {
  const float hi = x * x;
  const float half = -0.5f * hi;  // exact
  const float a = half + extra;
  const float extra_part = a - half;
  const float err = (half - (a - extra_part)) + (extra - extra_part);
  const float c = fmaf(-0.5f, fmaf(x, x, -hi), err);
  const int32_t finite = -(int32_t)((gelu_float_to_bits(hi) & 0x7fffffff) < 0x7f800000);
  const float e = gelu_exp(a);
  return fmaf(gelu_bits_to_float(gelu_float_to_bits(c) & finite), e, e);
}

// the standard normal's distribution function, 0.5 * erfc(-x / sqrt(2))
CUDALAB_HD float gelu_cdf(float x) {
  const float z = fabsf(x) * kGeluSqrtHalf;
  const float t = 1.0f / fmaf(0.5f, z, 1.0f);
  float p = 0.17087277f;
  p = fmaf(p, t, -0.82215223f);
  p = fmaf(p, t, 1.48851587f);
  p = fmaf(p, t, -1.13520398f);
  p = fmaf(p, t, 0.27886807f);
  p = fmaf(p, t, -0.18628806f);
  p = fmaf(p, t, 0.09678418f);
  p = fmaf(p, t, 0.37409196f);
  p = fmaf(p, t, 1.00002368f);
  p = fmaf(p, t, -1.26551223f);
  // phi(-|x|) = 0.5 * erfc(|x| / sqrt(2)) = half_t * g, and phi(|x|) = 1 - half_t * g
  // (one rounding, an explicit fmaf, so no compiler fuses it differently)
  const float half_t = 0.5f * t;
  const float g = gelu_gauss(x, p);
  return gelu_select_negative(x, half_t * g, fmaf(-half_t, g, 1.0f));
}

CUDALAB_HD float gelu_forward_at(float x) { return x * gelu_cdf(x); }

CUDALAB_HD float gelu_backward_at(float dy, float x) {
  const float pdf = kGeluInvSqrt2Pi * gelu_gauss(x, 0.0f);
  return dy * fmaf(x, pdf, gelu_cdf(x));
}

}  // namespace cudalab
