// dropout and random fills on the cpu. every value is a pure function of
// (seed, offset, index) through philox (common/philox.h), so the CUDA kernels
// and any thread count produce the same numbers.
#include <cmath>
#include <cstdint>

#include "common/optim_formulas.h"
#include "common/philox.h"
#include "cpu/parallel.h"
#include "cpu/dispatch.h"

namespace cudalab {
namespace cpu {
namespace CUDALAB_CPU_ISA {

// philox costs ~10 multiply rounds per element: a smaller chunk already pays
constexpr int64_t kChunk = 8192;

// scalars by value: read through a lambda's captures they would have to be
// reloaded after every store, and the philox loop would not vectorise
static void dropout_range(int64_t lo, int64_t hi, const float* x, float* y, float* __restrict mask, float p,
                          float keep_scale, uint64_t seed, uint64_t offset) {
  for (int64_t i = lo; i < hi; i++) {
    const float m = dropout_mask(philox_uniform(seed, offset, (uint64_t)i), p, keep_scale);
    mask[i] = m;
    y[i] = x[i] * m;
  }
}

void dropout_forward(int64_t n, const float* x, float* y, float* mask, float p, uint64_t seed, uint64_t offset) {
  const float keep_scale = dropout_keep_scale(p);
  parallel_chunks(0, n, kChunk, [&](int64_t, int64_t lo, int64_t hi) {
    dropout_range(lo, hi, x, y, mask, p, keep_scale, seed, offset);
  });
}

void dropout_backward(int64_t n, const float* dy, const float* mask, float* dx) {
  parallel_chunks(0, n, 32768, [&](int64_t, int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) dx[i] = dy[i] * mask[i];
  });
}

// std::fma spelled out: the CUDA kernels use fmaf, and the two must agree to
// the bit whether or not the compiler would have contracted a*b+c itself
void uniform(int64_t n, float* x, float lo_value, float hi_value, uint64_t seed, uint64_t offset) {
  const float range = hi_value - lo_value;
  parallel_chunks(0, n, kChunk, [&](int64_t, int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) x[i] = std::fma(range, philox_uniform(seed, offset, (uint64_t)i), lo_value);
  });
}

void normal(int64_t n, float* x, float mean, float stddev, uint64_t seed, uint64_t offset) {
  parallel_chunks(0, n, kChunk, [&](int64_t, int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) x[i] = std::fma(stddev, philox_normal(seed, offset, (uint64_t)i), mean);
  });
}

}  // namespace CUDALAB_CPU_ISA
}  // namespace cpu
}  // namespace cudalab
