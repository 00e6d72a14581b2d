// softmax cross-entropy (fused forward and backward), argmax, correct_count.
//
// forward: one warp per row. the row maximum is subtracted before exp, so
// large logits never overflow, and the loss is taken as log(sum) - (x[label] -
// max) rather than -log(p[label]), which stays finite when p[label]
// underflows. per-row losses go to a scratch buffer that one block then
// averages in a fixed order: the loss repeats bit for bit and the host never
// waits (loss stays on the device).
#include <cmath>
#include <cstdint>

#include "common/xent_formula.h"
#include "cuda/context.cuh"
#include "cuda/memory.cuh"
#include "ops.h"

namespace cudalab {
namespace cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

__device__ __forceinline__ float warp_max(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

__device__ __forceinline__ double warp_sum(double v) {
  // the xor butterfly leaves every lane with the same, fixed-order sum
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// the normaliser is summed in double and the loss taken in double, as the CPU
// backend does, so the two agree to float rounding
__global__ void softmax_xent_rows_kernel(int n, int classes, const float* __restrict__ logits,
                                         const int32_t* __restrict__ labels, float* __restrict__ probs,
                                         double* __restrict__ row_loss) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = (int64_t)gridDim.x * kWarps;
  for (int64_t row = blockIdx.x * (int64_t)kWarps + threadIdx.x / 32; row < n; row += warps) {
    const float* x = logits + row * classes;
    float* p = probs + row * classes;
    float m = -INFINITY;
    for (int j = lane; j < classes; j += 32) m = fmaxf(m, x[j]);
    m = warp_max(m);
    double sum = 0.0;
    for (int j = lane; j < classes; j += 32) {
      const float e = expf(x[j] - m);  // <= 1: the sum cannot overflow
      p[j] = e;
      sum += e;
    }
    sum = warp_sum(sum);
    const float inv = (float)(1.0 / sum);
    for (int j = lane; j < classes; j += 32) p[j] *= inv;  // the lane reads back its own writes
    if (lane == 0) {
      const int label = labels[row];
      row_loss[row] = (label >= 0 && label < classes) ? log(sum) - ((double)x[label] - (double)m) : (double)NAN;
    }
  }
}

// loss[0] = mean of row_loss, summed in a fixed order
__global__ void __launch_bounds__(kThreads) mean_kernel(int n, const double* __restrict__ row_loss,
                                                        float* __restrict__ loss) {
  __shared__ double partial[kThreads];
  double acc = 0.0;
  for (int i = threadIdx.x; i < n; i += kThreads) acc += row_loss[i];
  partial[threadIdx.x] = acc;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if ((int)threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) loss[0] = (float)(partial[0] / (double)n);
}

// dlogits = (probs - onehot) * (dloss / n), the scale rounded once as the CPU backend rounds it
__global__ void softmax_xent_backward_kernel(int n, int classes, const float* __restrict__ probs,
                                             const int32_t* __restrict__ labels, const float* __restrict__ dloss,
                                             float* __restrict__ dlogits) {
  const float g = __ldg(dloss) / (float)n;
  const int64_t total = (int64_t)n * classes;
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total;
       idx += (int64_t)gridDim.x * blockDim.x) {
    const int64_t row = idx / classes;
    const int j = (int)(idx - row * classes);
    const float p = probs[idx];
    dlogits[idx] = __ldg(labels + row) == j ? (p - 1.0f) * g : p * g;
  }
}

// the smoothed loss: softmax_xent_rows_kernel plus each row's sum of shifted
// logits (common/xent_formula.h). a kernel of its own, so the unsmoothed
// kernels above stay exactly as they were
__global__ void softmax_xent_smooth_rows_kernel(int n, int classes, const float* __restrict__ logits,
                                                const int32_t* __restrict__ labels, float smoothing,
                                                float* __restrict__ probs, double* __restrict__ row_loss) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = (int64_t)gridDim.x * kWarps;
  for (int64_t row = blockIdx.x * (int64_t)kWarps + threadIdx.x / 32; row < n; row += warps) {
    const float* x = logits + row * classes;
    float* p = probs + row * classes;
    float m = -INFINITY;
    for (int j = lane; j < classes; j += 32) m = fmaxf(m, x[j]);
    m = warp_max(m);
    double sum = 0.0, shifted = 0.0;
    for (int j = lane; j < classes; j += 32) {
      const float e = expf(x[j] - m);  // <= 1: the sum cannot overflow
      p[j] = e;
      sum += e;
      shifted += (double)x[j] - (double)m;
    }
    sum = warp_sum(sum);
    shifted = warp_sum(shifted);
    const float inv = (float)(1.0 / sum);
    for (int j = lane; j < classes; j += 32) p[j] *= inv;  // the lane reads back its own writes
    if (lane == 0) {
      const int label = labels[row];
      row_loss[row] = (label >= 0 && label < classes)
                          ? smooth_row_loss(log(sum), (double)x[label] - (double)m, shifted, smoothing, classes)
                          : (double)NAN;
    }
  }
}

// loss[0] = the sum of row_loss (or its mean), summed in a fixed order
__global__ void __launch_bounds__(kThreads) reduce_rows_kernel(int n, bool sum, const double* __restrict__ row_loss,
                                                               float* __restrict__ loss) {
  __shared__ double partial[kThreads];
  double acc = 0.0;
  for (int i = threadIdx.x; i < n; i += kThreads) acc += row_loss[i];
  partial[threadIdx.x] = acc;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if ((int)threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) loss[0] = (float)(sum ? partial[0] : partial[0] / (double)n);
}

// dlogits = (probs - target) * g, g = dloss (sum) or dloss / n (mean), as the CPU backend rounds them
__global__ void softmax_xent_smooth_backward_kernel(int n, int classes, const float* __restrict__ probs,
                                                    const int32_t* __restrict__ labels, SmoothTarget t, bool sum,
                                                    const float* __restrict__ dloss, float* __restrict__ dlogits) {
  const float g = sum ? __ldg(dloss) : __ldg(dloss) / (float)n;
  const int64_t total = (int64_t)n * classes;
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total;
       idx += (int64_t)gridDim.x * blockDim.x) {
    const int64_t row = idx / classes;
    const int j = (int)(idx - row * classes);
    const float p = probs[idx];
    dlogits[idx] = (p - (__ldg(labels + row) == j ? t.on : t.off)) * g;
  }
}

// the first index of the row maximum, scanning in order as a sequential loop does
__device__ __forceinline__ int row_argmax(const float* x, int classes) {
  float best = x[0];
  int best_j = 0;
  for (int j = 1; j < classes; ++j) {
    const float v = x[j];
    if (v > best) {
      best = v;
      best_j = j;
    }
  }
  return best_j;
}

__global__ void argmax_kernel(int n, int classes, const float* __restrict__ x, int32_t* __restrict__ out) {
  for (int64_t row = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; row < n;
       row += (int64_t)gridDim.x * blockDim.x)
    out[row] = row_argmax(x + row * classes, classes);
}

__global__ void correct_count_kernel(int n, int classes, const float* __restrict__ logits,
                                     const int32_t* __restrict__ labels, int32_t* __restrict__ count) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  // every thread of the block runs the same number of iterations, so the
  // whole warp takes part in each ballot
  const int64_t rounds = (n + stride - 1) / stride;
  for (int64_t round = 0; round < rounds; ++round) {
    const int64_t row = round * stride + blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    const bool hit = row < n && row_argmax(logits + row * classes, classes) == labels[row];
    const unsigned votes = __ballot_sync(0xffffffffu, hit);
    // integer addition commutes exactly: the count is the same in any order
    if (threadIdx.x % 32 == 0 && votes != 0) atomicAdd(count, (int32_t)__popc(votes));
  }
}

}  // namespace

void softmax_xent_forward(int n, int classes, const float* logits, const int32_t* labels, float* probs,
                          float* loss) {
  if (n > 0 && classes > 0) {
    Workspace<double> row_loss((size_t)n);
    const int blocks = grid_for(((int64_t)n + kWarps - 1) / kWarps, 1);
    softmax_xent_rows_kernel<<<blocks, kThreads, 0, stream()>>>(n, classes, logits, labels, probs, row_loss.ptr);
    CUDA_CHECK_LAUNCH("softmax_xent_forward");
    mean_kernel<<<1, kThreads, 0, stream()>>>(n, row_loss.ptr, loss);
    CUDA_CHECK_LAUNCH("softmax_xent_forward: mean");
  } else {
    // no rows: the mean of nothing, as PyTorch gives it
    const float nan = NAN;
    CUDA_CHECK(cudaMemcpyAsync(loss, &nan, sizeof nan, cudaMemcpyHostToDevice, stream()), "softmax_xent_forward");
    CUDA_CHECK(cudaStreamSynchronize(stream()), "softmax_xent_forward");  // &nan lives on this stack
  }
}

void softmax_xent_backward(int n, int classes, const float* probs, const int32_t* labels, const float* dloss,
                           float* dlogits) {
  const int64_t total = (int64_t)n * classes;
  if (total <= 0) return;
  softmax_xent_backward_kernel<<<grid_for(total, kThreads), kThreads, 0, stream()>>>(n, classes, probs, labels,
                                                                                    dloss, dlogits);
  CUDA_CHECK_LAUNCH("softmax_xent_backward");
}

void softmax_xent_smooth_forward(int n, int classes, const float* logits, const int32_t* labels, float smoothing,
                                 bool sum, float* probs, float* loss) {
  if (n > 0 && classes > 0) {
    Workspace<double> row_loss((size_t)n);
    const int blocks = grid_for(((int64_t)n + kWarps - 1) / kWarps, 1);
    softmax_xent_smooth_rows_kernel<<<blocks, kThreads, 0, stream()>>>(n, classes, logits, labels, smoothing, probs,
                                                                       row_loss.ptr);
    CUDA_CHECK_LAUNCH("softmax_xent_smooth_forward");
    reduce_rows_kernel<<<1, kThreads, 0, stream()>>>(n, sum, row_loss.ptr, loss);
    CUDA_CHECK_LAUNCH("softmax_xent_smooth_forward: reduce");
  } else {
    // no rows: the sum of nothing is 0, the mean of nothing NaN, as PyTorch gives them
    const float empty = sum ? 0.0f : NAN;
    CUDA_CHECK(cudaMemcpyAsync(loss, &empty, sizeof empty, cudaMemcpyHostToDevice, stream()),
               "softmax_xent_smooth_forward");
    CUDA_CHECK(cudaStreamSynchronize(stream()), "softmax_xent_smooth_forward");  // &empty lives on this stack
  }
}

void softmax_xent_smooth_backward(int n, int classes, const float* probs, const int32_t* labels, float smoothing,
                                  bool sum, const float* dloss, float* dlogits) {
  const int64_t total = (int64_t)n * classes;
  if (total <= 0) return;
  softmax_xent_smooth_backward_kernel<<<grid_for(total, kThreads), kThreads, 0, stream()>>>(
      n, classes, probs, labels, smooth_target(smoothing, classes), sum, dloss, dlogits);
  CUDA_CHECK_LAUNCH("softmax_xent_smooth_backward");
}

void argmax(int n, int classes, const float* x, int32_t* out) {
  if (n <= 0) return;
  if (classes <= 0) {
    CUDA_CHECK(cudaMemsetAsync(out, 0, (size_t)n * sizeof(int32_t), stream()), "argmax");
    return;
  }
  argmax_kernel<<<grid_for(n, kThreads), kThreads, 0, stream()>>>(n, classes, x, out);
  CUDA_CHECK_LAUNCH("argmax");
}

void correct_count(int n, int classes, const float* logits, const int32_t* labels, int32_t* count) {
  CUDA_CHECK(cudaMemsetAsync(count, 0, sizeof(int32_t), stream()), "correct_count");
  if (n <= 0 || classes <= 0) return;
  correct_count_kernel<<<grid_for(n, kThreads), kThreads, 0, stream()>>>(n, classes, logits, labels, count);
  CUDA_CHECK_LAUNCH("correct_count");
}

}  // namespace cuda
}  // namespace cudalab
