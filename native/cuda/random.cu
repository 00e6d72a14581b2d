// dropout and random fills from philox4x32-10 (common/philox.h): element i of
// a (seed, offset) stream is a pure function of (seed, offset + i), so every
// thread computes its own numbers and the values equal the CPU backend's.
// lo + range*u and mean + stddev*z are written as explicit fmaf (one
// rounding): the CPU backend's build (x86-64-v3, GNU C++) contracts the same
// expressions into FMA instructions, and both must round alike to agree bit
// for bit.
#include <cstdint>

#include "common/optim_formulas.h"
#include "common/philox.h"
#include "cuda/context.cuh"
#include "ops.h"

namespace cudalab {
namespace cuda {

namespace {

constexpr int kThreads = 256;

#define CUDALAB_GRID_STRIDE(i, n)                                                      \
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); \
       i += (int64_t)gridDim.x * blockDim.x)

__global__ void dropout_forward_kernel(int64_t n, const float* x, float* y, float* mask, float p, uint64_t seed,
                                       uint64_t offset) {
  const float keep_scale = dropout_keep_scale(p);
  CUDALAB_GRID_STRIDE(i, n) {
    const float m = dropout_mask(philox_uniform(seed, offset, (uint64_t)i), p, keep_scale);
    mask[i] = m;
    y[i] = x[i] * m;
  }
}

__global__ void dropout_backward_kernel(int64_t n, const float* dy, const float* mask, float* dx) {
  CUDALAB_GRID_STRIDE(i, n) dx[i] = dy[i] * mask[i];
}

__global__ void fill_kernel(int64_t n, float* x, float value) {
  CUDALAB_GRID_STRIDE(i, n) x[i] = value;
}

__global__ void uniform_kernel(int64_t n, float* x, float lo, float hi, uint64_t seed, uint64_t offset) {
  const float range = hi - lo;
  CUDALAB_GRID_STRIDE(i, n) x[i] = fmaf(range, philox_uniform(seed, offset, (uint64_t)i), lo);
}

__global__ void normal_kernel(int64_t n, float* x, float mean, float stddev, uint64_t seed, uint64_t offset) {
  CUDALAB_GRID_STRIDE(i, n) x[i] = fmaf(stddev, philox_normal(seed, offset, (uint64_t)i), mean);
}

#undef CUDALAB_GRID_STRIDE

}  // namespace

void dropout_forward(int64_t n, const float* x, float* y, float* mask, float p, uint64_t seed, uint64_t offset) {
  if (n <= 0) return;
  dropout_forward_kernel<<<grid_for(n, kThreads), kThreads, 0, stream()>>>(n, x, y, mask, p, seed, offset);
  CUDA_CHECK_LAUNCH("dropout_forward");
}

void dropout_backward(int64_t n, const float* dy, const float* mask, float* dx) {
  if (n <= 0) return;
  dropout_backward_kernel<<<grid_for(n, kThreads), kThreads, 0, stream()>>>(n, dy, mask, dx);
  CUDA_CHECK_LAUNCH("dropout_backward");
}

void fill(int64_t n, float* x, float value) {
  if (n <= 0) return;
  fill_kernel<<<grid_for(n, kThreads), kThreads, 0, stream()>>>(n, x, value);
  CUDA_CHECK_LAUNCH("fill");
}

void uniform(int64_t n, float* x, float lo, float hi, uint64_t seed, uint64_t offset) {
  if (n <= 0) return;
  uniform_kernel<<<grid_for(n, kThreads), kThreads, 0, stream()>>>(n, x, lo, hi, seed, offset);
  CUDA_CHECK_LAUNCH("uniform");
}

void normal(int64_t n, float* x, float mean, float stddev, uint64_t seed, uint64_t offset) {
  if (n <= 0) return;
  normal_kernel<<<grid_for(n, kThreads), kThreads, 0, stream()>>>(n, x, mean, stddev, seed, offset);
  CUDA_CHECK_LAUNCH("normal");
}

}  // namespace cuda
}  // namespace cudalab
