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

void adam_step(int64_t n, float* param, const float* grad, float* m, float* v, float lr, float beta1, float beta2,
               float eps, float weight_decay, bool decoupled, int step) {
  const double bias_correction1 = 1.0 - std::pow((double)beta1, (double)step);
  const double bias_correction2 = 1.0 - std::pow((double)beta2, (double)step);
  const float neg_step_size = (float)(-(double)lr / bias_correction1);
  const float bias_correction2_sqrt = (float)std::sqrt(bias_correction2);
  const float decay = (float)(1.0 - (double)lr * (double)weight_decay);  // param.mul_(1 - lr*wd)
  const float w1 = (float)(1.0 - (double)beta1);                        // exp_avg.lerp_(grad, 1 - beta1)
  const float w2 = (float)(1.0 - (double)beta2);                        // addcmul_(grad, grad, 1 - beta2)
  const bool coupled_decay = weight_decay != 0.0f && !decoupled;
  const bool param_decay = weight_decay != 0.0f && decoupled;
  parallel_chunks(0, n, kChunk, [&](int64_t, int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
      float p = param[i];
      float g = grad[i];
      if (param_decay) p = p * decay;
      if (coupled_decay) g = g + weight_decay * p;  // grad.add(param, alpha=wd)
      // torch.lerp: start + w*(end - start) for w < 0.5, else end - (end - start)*(1 - w)
      const float mi = w1 < 0.5f ? m[i] + w1 * (g - m[i]) : g - (g - m[i]) * (1.0f - w1);
      const float vi = v[i] * beta2 + w2 * g * g;
      const float denom = std::sqrt(vi) / bias_correction2_sqrt + eps;
      m[i] = mi;
      v[i] = vi;
      param[i] = p + neg_step_size * mi / denom;  // param.addcdiv_(exp_avg, denom, value=-step_size)
    }
  });
}

void sgd_step(int64_t n, float* param, const float* grad, float* momentum_buf, float lr, float momentum,
              float dampening, float weight_decay, bool nesterov, bool first_step) {
  const float keep = (float)(1.0 - (double)dampening);  // buf.mul_(momentum).add_(grad, alpha=1 - dampening)
  const float neg_lr = -lr;
  parallel_chunks(0, n, kChunk, [&](int64_t, int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
      const float p = param[i];
      float g = grad[i];
      if (weight_decay != 0.0f) g = g + weight_decay * p;
      if (momentum != 0.0f) {
        const float b = first_step ? g : momentum_buf[i] * momentum + keep * g;
        momentum_buf[i] = b;
        g = nesterov ? g + momentum * b : b;
      }
      param[i] = p + neg_lr * g;  // param.add_(grad, alpha=-lr)
    }
  });
}

}  // namespace cpu
}  // namespace cudalab
