// Adam/AdamW and SGD, one thread per parameter, with PyTorch's formulas as
// its foreach (multi-tensor) path computes them in float32: scalars that
// PyTorch computes in Python (bias corrections, step size, 1 - lr*wd) are
// computed here in double and rounded to float once, as PyTorch does when it
// hands a Python float to a float32 kernel.
#include <cmath>
#include <cstdint>

#include "cuda/context.cuh"
#include "ops.h"

namespace cudalab {
namespace cuda {

namespace {

constexpr int kThreads = 256;

struct AdamScalars {
  float lr_decay;       // AdamW: param *= 1 - lr*wd
  float weight_decay;   // Adam: grad += wd*param
  float one_minus_beta1, beta2, one_minus_beta2;
  float neg_step_size;  // -lr / (1 - beta1^step)
  float bc2_sqrt;       // sqrt(1 - beta2^step)
  float eps;
  bool decoupled, has_decay;
};

// torch.lerp: start + w*(end - start) for |w| < 0.5, else end - (end - start)*(1 - w)
__device__ __forceinline__ float lerp(float start, float end, float w) {
  return fabsf(w) < 0.5f ? start + w * (end - start) : end - (end - start) * (1.0f - w);
}

__global__ void adam_kernel(int64_t n, float* __restrict__ param, const float* __restrict__ grad,
                            float* __restrict__ m, float* __restrict__ v, AdamScalars k) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float p = param[i];
    float g = grad[i];
    if (k.has_decay) {
      if (k.decoupled) p = p * k.lr_decay;        // _foreach_mul_(params, 1 - lr*wd)
      else g = g + k.weight_decay * p;            // _foreach_add(grads, params, alpha=wd)
    }
    const float mi = lerp(m[i], g, k.one_minus_beta1);                 // _foreach_lerp_(m, g, 1 - beta1)
    const float vi = v[i] * k.beta2 + k.one_minus_beta2 * (g * g);     // _foreach_mul_, _foreach_addcmul_
    const float denom = sqrtf(vi) / k.bc2_sqrt + k.eps;                // sqrt, div bc2_sqrt, add eps
    param[i] = p + k.neg_step_size * (mi / denom);                     // _foreach_addcdiv_(p, m, denom, -step)
    m[i] = mi;
    v[i] = vi;
  }
}

struct SgdScalars {
  float lr_neg, momentum, one_minus_dampening, weight_decay;
  bool has_decay, has_momentum, nesterov, first_step;
};

__global__ void sgd_kernel(int64_t n, float* __restrict__ param, const float* __restrict__ grad,
                           float* __restrict__ buf, SgdScalars k) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float p = param[i];
    float g = grad[i];
    if (k.has_decay) g = g + k.weight_decay * p;  // grad.add(param, alpha=wd)
    if (k.has_momentum) {
      // the first step clones the gradient into the buffer; later ones
      // compute buf*momentum + (1 - dampening)*grad
      const float b = k.first_step ? g : buf[i] * k.momentum + k.one_minus_dampening * g;
      buf[i] = b;
      g = k.nesterov ? g + k.momentum * b : b;
    }
    param[i] = p + k.lr_neg * g;  // param.add_(grad, alpha=-lr)
  }
}

}  // namespace

void adam_step(int64_t n, float* param, const float* grad, float* m, float* v, float lr, float beta1, float beta2,
               float eps, float weight_decay, bool decoupled, int step) {
  if (n <= 0) return;
  AdamScalars k;
  const double bc1 = 1.0 - std::pow((double)beta1, (double)step);
  const double bc2 = 1.0 - std::pow((double)beta2, (double)step);
  k.lr_decay = (float)(1.0 - (double)lr * (double)weight_decay);
  k.weight_decay = weight_decay;
  k.one_minus_beta1 = (float)(1.0 - (double)beta1);
  k.beta2 = beta2;
  k.one_minus_beta2 = (float)(1.0 - (double)beta2);
  k.neg_step_size = (float)(-((double)lr / bc1));
  k.bc2_sqrt = (float)std::sqrt(bc2);
  k.eps = eps;
  k.decoupled = decoupled;
  k.has_decay = weight_decay != 0.0f;
  adam_kernel<<<grid_for(n, kThreads), kThreads, 0, stream()>>>(n, param, grad, m, v, k);
  CUDA_CHECK_LAUNCH("adam_step");
}

void sgd_step(int64_t n, float* param, const float* grad, float* momentum_buf, float lr, float momentum,
              float dampening, float weight_decay, bool nesterov, bool first_step) {
  if (n <= 0) return;
  SgdScalars k;
  k.lr_neg = -lr;
  k.momentum = momentum;
  k.one_minus_dampening = (float)(1.0 - (double)dampening);
  k.weight_decay = weight_decay;
  k.has_decay = weight_decay != 0.0f;
  k.has_momentum = momentum != 0.0f && momentum_buf != nullptr;
  k.nesterov = nesterov;
  k.first_step = first_step;
  sgd_kernel<<<grid_for(n, kThreads), kThreads, 0, stream()>>>(n, param, grad, momentum_buf, k);
  CUDA_CHECK_LAUNCH("sgd_step");
}

}  // namespace cuda
}  // namespace cudalab
