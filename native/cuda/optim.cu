// Adam/AdamW and SGD, one thread per parameter. the per-element formulas live
// in common/optim_formulas.h, shared with the cpu backend; scalars that
// PyTorch computes in Python (bias corrections, step size, 1 - lr*wd) are
// computed here in double and rounded to float once, as PyTorch does when it
// hands a Python float to a float32 kernel.
#include <cmath>
#include <cstdint>

#include "common/optim_formulas.h"
#include "cuda/context.cuh"
#include "ops.h"

namespace cudalab {
namespace cuda {

namespace {

constexpr int kThreads = 256;

__global__ void adam_kernel(int64_t n, float* __restrict__ param, const float* __restrict__ grad,
                            float* __restrict__ m, float* __restrict__ v, AdamScalars k) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    adam_update(param[i], grad[i], m[i], v[i], k);
}

__global__ void sgd_kernel(int64_t n, float* __restrict__ param, const float* __restrict__ grad,
                           float* __restrict__ buf, SgdScalars k) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    sgd_update(param[i], grad[i], k.has_momentum ? buf + i : nullptr, k);
}

}  // namespace

void adam_step(int64_t n, float* param, const float* grad, float* m, float* v, float lr, float beta1, float beta2,
               float eps, float weight_decay, bool decoupled, int step) {
  if (n <= 0) return;
  const AdamScalars k = adam_scalars(lr, beta1, beta2, eps, weight_decay, decoupled, step);
  adam_kernel<<<grid_for(n, kThreads), kThreads, 0, stream()>>>(n, param, grad, m, v, k);
  CUDA_CHECK_LAUNCH("adam_step");
}

void sgd_step(int64_t n, float* param, const float* grad, float* momentum_buf, float lr, float momentum,
              float dampening, float weight_decay, bool nesterov, bool first_step) {
  if (n <= 0) return;
  const SgdScalars k = sgd_scalars(lr, momentum, dampening, weight_decay, nesterov, first_step, momentum_buf != nullptr);
  sgd_kernel<<<grid_for(n, kThreads), kThreads, 0, stream()>>>(n, param, grad, momentum_buf, k);
  CUDA_CHECK_LAUNCH("sgd_step");
}

}  // namespace cuda
}  // namespace cudalab
