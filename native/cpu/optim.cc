// Adam/AdamW and SGD steps on the cpu. the per-element formulas and the
// per-step scalars live in common/optim_formulas.h, shared with the CUDA
// backend, so both round alike (see there for what is bit-for-bit).
#include <cstdint>

#include "common/optim_formulas.h"
#include "cpu/parallel.h"
#include "cpu/dispatch.h"

namespace cudalab {
namespace cpu {
namespace CUDALAB_CPU_ISA {

constexpr int64_t kChunk = 16384;

// the per-element loops take their scalars by value and restrict pointers (the
// addon guarantees param, grad and the state buffers are distinct storages):
// through a lambda's captures the compiler would have to assume every store to
// param[i] might change lr or beta, and would not vectorise
template <bool kCoupledDecay, bool kParamDecay, bool kLowWeight>
static void adam_range(int64_t lo, int64_t hi, float* __restrict param, const float* __restrict grad,
                       float* __restrict m, float* __restrict v, const AdamScalars k) {
  for (int64_t i = lo; i < hi; i++)
    adam_update_with<kCoupledDecay, kParamDecay, kLowWeight>(param[i], grad[i], m[i], v[i], k);
}

template <bool kCoupledDecay, bool kParamDecay>
static void adam_chunks(int64_t n, float* param, const float* grad, float* m, float* v, const AdamScalars& k) {
  const bool low = adam_low_weight(k);
  parallel_chunks(0, n, kChunk, [&](int64_t, int64_t lo, int64_t hi) {
    if (low) adam_range<kCoupledDecay, kParamDecay, true>(lo, hi, param, grad, m, v, k);
    else adam_range<kCoupledDecay, kParamDecay, false>(lo, hi, param, grad, m, v, k);
  });
}

void adam_step(int64_t n, float* param, const float* grad, float* m, float* v, float lr, float beta1, float beta2,
               float eps, float weight_decay, bool decoupled, int step) {
  const AdamScalars k = adam_scalars(lr, beta1, beta2, eps, weight_decay, decoupled, step);
  if (k.coupled_decay) adam_chunks<true, false>(n, param, grad, m, v, k);
  else if (k.param_decay) adam_chunks<false, true>(n, param, grad, m, v, k);
  else adam_chunks<false, false>(n, param, grad, m, v, k);
}

static void sgd_range(int64_t lo, int64_t hi, float* __restrict param, const float* __restrict grad,
                      float* __restrict buf, const SgdScalars k) {
  for (int64_t i = lo; i < hi; i++) sgd_update(param[i], grad[i], buf + i, k);
}

void sgd_step(int64_t n, float* param, const float* grad, float* momentum_buf, float lr, float momentum,
              float dampening, float weight_decay, bool nesterov, bool first_step) {
  const SgdScalars k = sgd_scalars(lr, momentum, dampening, weight_decay, nesterov, first_step, momentum_buf != nullptr);
  parallel_chunks(0, n, kChunk, [&](int64_t, int64_t lo, int64_t hi) { sgd_range(lo, hi, param, grad, momentum_buf, k); });
}

}  // namespace CUDALAB_CPU_ISA
}  // namespace cpu
}  // namespace cudalab
