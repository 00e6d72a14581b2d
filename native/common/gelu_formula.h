// gelu, exact (erf) form as PyTorch defines it, per element, written once for
// both backends: cpu/eltwise.cc and cuda/eltwise.cu call these functions, so
// the two compute the same operations in the same order.
//
//   forward:  y  = x * phi(x),                 phi(x) = 0.5 * (1 + erf(x / sqrt(2)))
//   backward: dx = dy * (phi(x) + x * pdf(x)), pdf(x) = exp(-x*x/2) / sqrt(2*pi)
//
// phi is written with erfc, phi(x) = 0.5 * erfc(-x / sqrt(2)), the same
// function as PyTorch's 0.5 * (1 + erf(x / sqrt(2))) but without its
// cancellation on the left tail (1 + erf(z) for z << 0 keeps only the bits of
// erf's last ulp), so gelu(x) keeps its relative precision for negative x.
// the two agree to float rounding on the right, and within erf's absolute
// error (~6e-8 of phi) on the left.
//
// the one multiply-add is an explicit fmaf (one rounding on both backends,
// whatever the compiler's contraction). what is not the same bit for bit:
// erfcf and expf themselves. the cpu takes them from the C library (glibc),
// cuda from its device library (erfcf within 4 ulp, expf within 2 ulp, by
// its programming guide), so the backends agree to a few roundings, not
// exactly.
#pragma once
#include <cmath>

#include "common/host_device.h"

namespace cudalab {

constexpr float kGeluSqrtHalf = 0.70710678118654752440f;      // 1 / sqrt(2)
constexpr float kGeluInvSqrt2Pi = 0.39894228040143267794f;    // 1 / sqrt(2*pi)

// 0.5 * erfc(-x / sqrt(2)): the standard normal's distribution function
CUDALAB_HD float gelu_cdf(float x) { return 0.5f * erfcf(-x * kGeluSqrtHalf); }

CUDALAB_HD float gelu_forward_at(float x) { return x * gelu_cdf(x); }

CUDALAB_HD float gelu_backward_at(float dy, float x) {
  const float pdf = kGeluInvSqrt2Pi * expf(-0.5f * x * x);
  return dy * fmaf(x, pdf, gelu_cdf(x));
}

}  // namespace cudalab
