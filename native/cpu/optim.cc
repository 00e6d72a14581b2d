// Adam/AdamW and SGD steps on the cpu, transcribing PyTorch's single-tensor
// updates (torch/optim/adam.py, sgd.py, non-capturable path): the scalars that
// PyTorch computes in Python (bias corrections, step size) are computed here in
// double and rounded to float once, as they are when PyTorch hands them to a
// float kernel; the per-element arithmetic is float, in PyTorch's order.
#include <cmath>
#include <cstdint>

#include "cpu/parallel.h"
#include "ops.h"

namespace cudalab {
namespace cpu {

constexpr int64_t kChunk = 16384;

// the per-element loops take their scalars by value and restrict pointers (the
// addon guarantees param, grad and the state buffers are distinct storages):
// through a lambda's captures the compiler would have to assume every store to
// param[i] might change lr or beta, and would not vectorise
struct AdamScalars {
  float neg_step_size, bias_correction2_sqrt, decay, w1, w2, beta2, eps, weight_decay;
  bool coupled_decay, param_decay;
};

static void adam_range(int64_t lo, int64_t hi, float* __restrict param, const float* __restrict grad,
                       float* __restrict m, float* __restrict v, const AdamScalars k) {
  for (int64_t i = lo; i < hi; i++) {
    float p = param[i];
    float g = grad[i];
    if (k.param_decay) p = p * k.decay;
    if (k.coupled_decay) g = g + k.weight_decay * p;  // grad.add(param, alpha=wd)
    // torch.lerp: start + w*(end - start) for w < 0.5, else end - (end - start)*(1 - w)
    const float mi = k.w1 < 0.5f ? m[i] + k.w1 * (g - m[i]) : g - (g - m[i]) * (1.0f - k.w1);
    const float vi = v[i] * k.beta2 + k.w2 * g * g;
    const float denom = std::sqrt(vi) / k.bias_correction2_sqrt + k.eps;
    m[i] = mi;
    v[i] = vi;
    param[i] = p + k.neg_step_size * mi / denom;  // param.addcdiv_(exp_avg, denom, value=-step_size)
  }
}

void adam_step(int64_t n, float* param, const float* grad, float* m, float* v, float lr, float beta1, float beta2,
               float eps, float weight_decay, bool decoupled, int step) {
  const double bias_correction1 = 1.0 - std::pow((double)beta1, (double)step);
  const double bias_correction2 = 1.0 - std::pow((double)beta2, (double)step);
  AdamScalars k;
  k.neg_step_size = (float)(-(double)lr / bias_correction1);
  k.bias_correction2_sqrt = (float)std::sqrt(bias_correction2);
  k.decay = (float)(1.0 - (double)lr * (double)weight_decay);  // param.mul_(1 - lr*wd)
  k.w1 = (float)(1.0 - (double)beta1);                         // exp_avg.lerp_(grad, 1 - beta1)
  k.w2 = (float)(1.0 - (double)beta2);                         // addcmul_(grad, grad, 1 - beta2)
  k.beta2 = beta2;
  k.eps = eps;
  k.weight_decay = weight_decay;
  k.coupled_decay = weight_decay != 0.0f && !decoupled;
  k.param_decay = weight_decay != 0.0f && decoupled;
  parallel_chunks(0, n, kChunk, [&](int64_t, int64_t lo, int64_t hi) { adam_range(lo, hi, param, grad, m, v, k); });
}

struct SgdScalars {
  float neg_lr, momentum, keep, weight_decay;
  bool nesterov, first_step;
};

static void sgd_range(int64_t lo, int64_t hi, float* __restrict param, const float* __restrict grad,
                      float* __restrict buf, const SgdScalars k) {
  for (int64_t i = lo; i < hi; i++) {
    const float p = param[i];
    float g = grad[i];
    if (k.weight_decay != 0.0f) g = g + k.weight_decay * p;
    if (k.momentum != 0.0f) {
      const float b = k.first_step ? g : buf[i] * k.momentum + k.keep * g;
      buf[i] = b;
      g = k.nesterov ? g + k.momentum * b : b;
    }
    param[i] = p + k.neg_lr * g;  // param.add_(grad, alpha=-lr)
  }
}

void sgd_step(int64_t n, float* param, const float* grad, float* momentum_buf, float lr, float momentum,
              float dampening, float weight_decay, bool nesterov, bool first_step) {
  SgdScalars k;
  k.neg_lr = -lr;
  k.momentum = momentum;
  k.keep = (float)(1.0 - (double)dampening);  // buf.mul_(momentum).add_(grad, alpha=1 - dampening)
  k.weight_decay = weight_decay;
  k.nesterov = nesterov;
  k.first_step = first_step;
  parallel_chunks(0, n, kChunk, [&](int64_t, int64_t lo, int64_t hi) { sgd_range(lo, hi, param, grad, momentum_buf, k); });
}

}  // namespace cpu
}  // namespace cudalab
