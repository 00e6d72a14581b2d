// batch norm (ops.h), PyTorch's BatchNorm2d. the per-channel sums are in
// double (precision: common/norm_formulas.h) and repeat bit for bit: each
// channel's n*hw values are cut into fixed chunks (by the shape alone, never
// the grid), a block sums a chunk with a fixed thread assignment and a fixed
// tree, and a second kernel adds a channel's chunk sums in chunk order. no
// atomics. the per-element passes are grid-stride loops, one thread per element.
#include <cstdint>

#include "common/norm_formulas.h"
#include "cuda/context.cuh"
#include "cuda/memory.cuh"
#include "ops.h"

namespace cudalab {
namespace cuda {

namespace {

constexpr int kThreads = 256;
// values per chunk: 16 per thread, enough work per block to stream at full speed
constexpr int64_t kChunk = 16 * kThreads;

// the two sums of a block, through a fixed tree in shared memory; thread 0 gets them
__device__ void block_sum2(double& a, double& b) {
  __shared__ double sa[kThreads], sb[kThreads];
  sa[threadIdx.x] = a;
  sb[threadIdx.x] = b;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if ((int)threadIdx.x < stride) {
      sa[threadIdx.x] += sa[threadIdx.x + stride];
      sb[threadIdx.x] += sb[threadIdx.x + stride];
    }
    __syncthreads();
  }
  a = sa[0];
  b = sb[0];
}

// element k (0 <= k < n*hw) of channel ch
__device__ __forceinline__ int64_t channel_index(int64_t k, int c, int hw, int ch) {
  const int64_t img = k / hw;
  return (img * c + ch) * hw + (k - img * hw);
}

// partial[ch*chunks + chunk] = sums over the chunk of channel ch: x and x^2
// (stats), or dy and dy*(x - mean) (backward, when dy is given)
__global__ void __launch_bounds__(kThreads) chunk_sums_kernel(int n, int c, int hw, int c0, int chunks,
                                                              const float* __restrict__ x, const float* __restrict__ dy,
                                                              const float* __restrict__ mean, double* __restrict__ part_a,
                                                              double* __restrict__ part_b) {
  const int ch = c0 + (int)blockIdx.y;
  const int chunk = blockIdx.x;
  const int64_t count = (int64_t)n * hw;
  const int64_t k0 = chunk * kChunk, k1 = min(count, k0 + kChunk);
  double a = 0.0, b = 0.0;
  if (dy) {
    const double m = mean[ch];
    for (int64_t k = k0 + threadIdx.x; k < k1; k += kThreads) {
      const int64_t i = channel_index(k, c, hw, ch);
      const double g = dy[i];
      a += g;
      b += g * ((double)x[i] - m);
    }
  } else {
    for (int64_t k = k0 + threadIdx.x; k < k1; k += kThreads) {
      const double v = x[channel_index(k, c, hw, ch)];
      a += v;
      b += v * v;
    }
  }
  block_sum2(a, b);
  if (threadIdx.x == 0) {
    part_a[(int64_t)ch * chunks + chunk] = a;
    part_b[(int64_t)ch * chunks + chunk] = b;
  }
}

// one thread per channel adds its chunk sums in order, then finishes the statistics
__global__ void stats_finish_kernel(int n, int c, int hw, int chunks, const double* __restrict__ part_a,
                                    const double* __restrict__ part_b, float eps, float momentum,
                                    float* __restrict__ running_mean, float* __restrict__ running_var,
                                    float* __restrict__ mean, float* __restrict__ invstd) {
  const double count = (double)n * hw;
  for (int ch = blockIdx.x * blockDim.x + threadIdx.x; ch < c; ch += gridDim.x * blockDim.x) {
    double sum = 0.0, sum_sq = 0.0;
    for (int k = 0; k < chunks; ++k) {
      sum += part_a[(int64_t)ch * chunks + k];
      sum_sq += part_b[(int64_t)ch * chunks + k];
    }
    const NormStats s = norm_stats(sum, sum_sq, count);
    mean[ch] = (float)s.mean;
    invstd[ch] = norm_invstd(s.var, eps);
    if (running_mean && running_var) norm_update_running(running_mean[ch], running_var[ch], s, count, momentum);
  }
}

__global__ void grad_finish_kernel(int n, int c, int hw, int chunks, const double* __restrict__ part_a,
                                   const double* __restrict__ part_b, const float* __restrict__ invstd,
                                   const float* __restrict__ weight, float* __restrict__ dweight,
                                   float* __restrict__ dbias, NormGrad* __restrict__ grads) {
  const double count = (double)n * hw;
  for (int ch = blockIdx.x * blockDim.x + threadIdx.x; ch < c; ch += gridDim.x * blockDim.x) {
    double sum_dy = 0.0, sum_dyxc = 0.0;
    for (int k = 0; k < chunks; ++k) {
      sum_dy += part_a[(int64_t)ch * chunks + k];
      sum_dyxc += part_b[(int64_t)ch * chunks + k];
    }
    const double sum_dyxh = sum_dyxc * invstd[ch];
    if (dweight) dweight[ch] = (float)sum_dyxh;
    if (dbias) dbias[ch] = (float)sum_dy;
    grads[ch] = norm_grad(sum_dy, sum_dyxh, count, invstd[ch], weight ? weight[ch] : 1.0f);
  }
}

// the eval-mode constants (no sums): dx = dy * weight * invstd
__global__ void grad_scale_kernel(int c, const float* __restrict__ invstd, const float* __restrict__ weight,
                                  NormGrad* __restrict__ grads) {
  for (int ch = blockIdx.x * blockDim.x + threadIdx.x; ch < c; ch += gridDim.x * blockDim.x)
    grads[ch] = norm_grad(0.0, 0.0, 1.0, invstd[ch], weight ? weight[ch] : 1.0f);
}

__global__ void invstd_kernel(int c, const float* var, float eps, float* invstd) {
  for (int ch = blockIdx.x * blockDim.x + threadIdx.x; ch < c; ch += gridDim.x * blockDim.x)
    invstd[ch] = norm_invstd(var[ch], eps);
}

__global__ void forward_kernel(int n, int c, int hw, const float* __restrict__ x, const float* __restrict__ mean,
                               const float* __restrict__ invstd, const float* __restrict__ weight,
                               const float* __restrict__ bias, float* y) {
  const int64_t total = (int64_t)n * c * hw;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int ch = (int)((i / hw) % c);
    y[i] = norm_apply(x[i], mean[ch], invstd[ch], weight ? weight[ch] : 1.0f, bias ? bias[ch] : 0.0f);
  }
}

__global__ void backward_dx_kernel(int n, int c, int hw, const float* __restrict__ x, const float* __restrict__ dy,
                                   const float* __restrict__ mean, const float* __restrict__ invstd,
                                   const NormGrad* __restrict__ grads, bool batch_stats, float* __restrict__ dx) {
  const int64_t total = (int64_t)n * c * hw;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int ch = (int)((i / hw) % c);
    const NormGrad g = grads[ch];
    dx[i] = batch_stats ? norm_dx_batch(x[i], dy[i], mean[ch], invstd[ch], g) : dy[i] * g.scale;
  }
}

int chunks_for(int n, int hw) { return (int)(((int64_t)n * hw + kChunk - 1) / kChunk); }

// the chunk grid: chunks x channels, in slices of 65535 channels (the most a grid's y holds)
void launch_chunk_sums(int n, int c, int hw, int chunks, const float* x, const float* dy, const float* mean,
                       double* part_a, double* part_b, const char* what) {
  for (int c0 = 0; c0 < c; c0 += 65535) {
    const int slice = min(65535, c - c0);
    chunk_sums_kernel<<<dim3(chunks, slice), kThreads, 0, stream()>>>(n, c, hw, c0, chunks, x, dy, mean, part_a, part_b);
    CUDA_CHECK_LAUNCH(what);
  }
}

}  // namespace

void batch_norm2d_stats(int n, int c, int hw, const float* x, float eps, float momentum, float* running_mean,
                        float* running_var, float* mean, float* invstd) {
  const int chunks = chunks_for(n, hw);
  Workspace<double> part((size_t)2 * c * chunks);
  launch_chunk_sums(n, c, hw, chunks, x, nullptr, nullptr, part.ptr, part.ptr + (size_t)c * chunks,
                    "batch_norm2d_stats: sums");
  stats_finish_kernel<<<grid_for(c, kThreads), kThreads, 0, stream()>>>(
      n, c, hw, chunks, part.ptr, part.ptr + (size_t)c * chunks, eps, momentum, running_mean, running_var, mean, invstd);
  CUDA_CHECK_LAUNCH("batch_norm2d_stats");
}

void batch_norm2d_invstd(int c, const float* var, float eps, float* invstd) {
  invstd_kernel<<<grid_for(c, kThreads), kThreads, 0, stream()>>>(c, var, eps, invstd);
  CUDA_CHECK_LAUNCH("batch_norm2d_invstd");
}

void batch_norm2d_forward(int n, int c, int hw, const float* x, const float* mean, const float* invstd,
                          const float* weight, const float* bias, float* y) {
  const int64_t total = (int64_t)n * c * hw;
  forward_kernel<<<grid_for(total, kThreads), kThreads, 0, stream()>>>(n, c, hw, x, mean, invstd, weight, bias, y);
  CUDA_CHECK_LAUNCH("batch_norm2d_forward");
}

void batch_norm2d_backward(int n, int c, int hw, const float* x, const float* dy, const float* mean,
                           const float* invstd, const float* weight, bool batch_stats, float* dx, float* dweight,
                           float* dbias) {
  Workspace<NormGrad> grads((size_t)c);
  if (batch_stats || dweight || dbias) {
    const int chunks = chunks_for(n, hw);
    Workspace<double> part((size_t)2 * c * chunks);
    launch_chunk_sums(n, c, hw, chunks, x, dy, mean, part.ptr, part.ptr + (size_t)c * chunks,
                      "batch_norm2d_backward: sums");
    grad_finish_kernel<<<grid_for(c, kThreads), kThreads, 0, stream()>>>(
        n, c, hw, chunks, part.ptr, part.ptr + (size_t)c * chunks, invstd, weight, dweight, dbias, grads.ptr);
    CUDA_CHECK_LAUNCH("batch_norm2d_backward: sums");
  } else {
    grad_scale_kernel<<<grid_for(c, kThreads), kThreads, 0, stream()>>>(c, invstd, weight, grads.ptr);
    CUDA_CHECK_LAUNCH("batch_norm2d_backward: scale");
  }
  const int64_t total = (int64_t)n * c * hw;
  backward_dx_kernel<<<grid_for(total, kThreads), kThreads, 0, stream()>>>(n, c, hw, x, dy, mean, invstd, grads.ptr,
                                                                           batch_stats, dx);
  CUDA_CHECK_LAUNCH("batch_norm2d_backward");
}

}  // namespace cuda
}  // namespace cudalab
