// max and average pooling. forward: one thread per output. backward: one
// thread per input element, gathering from the outputs whose windows cover it
// in increasing output order - the order in which a sequential scatter adds
// them - so there are no atomics and the sums repeat bit for bit.
#include <cmath>
#include <cstdint>

#include "cuda/context.cuh"
#include "ops.h"

namespace cudalab {
namespace cuda {

namespace {

constexpr int kThreads = 256;

// the outputs o along one axis whose window [o*stride - pad, o*stride - pad + k)
// contains input position i: o in [first, last]
__device__ __forceinline__ void covering(int i, int k, int stride, int pad, int outputs, int& first, int& last) {
  const int t = i + pad;  // o*stride <= t < o*stride + k
  first = t < k ? 0 : (t - k) / stride + 1;
  last = min(t / stride, outputs - 1);
}

__global__ void maxpool_forward_kernel(PoolShape s, const float* __restrict__ x, float* __restrict__ y,
                                       int32_t* __restrict__ argmax) {
  const int64_t total = (int64_t)s.n * s.c * s.p * s.q;
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total;
       idx += (int64_t)gridDim.x * blockDim.x) {
    const int oq = (int)(idx % s.q), op = (int)((idx / s.q) % s.p);
    const int64_t plane = idx / ((int64_t)s.p * s.q);
    const float* xp = x + plane * s.h * s.w;
    const int h0 = op * s.stride_h - s.pad_h, w0 = oq * s.stride_w - s.pad_w;
    const int hs = max(h0, 0), he = min(h0 + s.kh, s.h);
    const int ws = max(w0, 0), we = min(w0 + s.kw, s.w);
    // padding is -inf; the first maximum wins, and a NaN propagates (as in PyTorch)
    float best = -INFINITY;
    int best_i = hs * s.w + ws;
    for (int ih = hs; ih < he; ++ih) {
      for (int iw = ws; iw < we; ++iw) {
        const float v = xp[ih * s.w + iw];
        if (v > best || isnan(v)) {
          best = v;
          best_i = ih * s.w + iw;
          if (isnan(v)) goto done;
        }
      }
    }
  done:
    y[idx] = best;
    argmax[idx] = best_i;
  }
}

__global__ void maxpool_backward_kernel(PoolShape s, const float* __restrict__ dy,
                                        const int32_t* __restrict__ argmax, float* __restrict__ dx) {
  const int64_t total = (int64_t)s.n * s.c * s.h * s.w;
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total;
       idx += (int64_t)gridDim.x * blockDim.x) {
    const int iw = (int)(idx % s.w), ih = (int)((idx / s.w) % s.h);
    const int64_t plane = idx / ((int64_t)s.h * s.w);
    const int here = ih * s.w + iw;
    int ph0, ph1, pw0, pw1;
    covering(ih, s.kh, s.stride_h, s.pad_h, s.p, ph0, ph1);
    covering(iw, s.kw, s.stride_w, s.pad_w, s.q, pw0, pw1);
    const int64_t base = plane * s.p * s.q;
    float acc = 0.0f;
    for (int op = ph0; op <= ph1; ++op)
      for (int oq = pw0; oq <= pw1; ++oq) {
        const int64_t o = base + op * s.q + oq;
        if (argmax[o] == here) acc += dy[o];
      }
    dx[idx] = acc;
  }
}

__global__ void avgpool_forward_kernel(PoolShape s, const float* __restrict__ x, float* __restrict__ y) {
  const int64_t total = (int64_t)s.n * s.c * s.p * s.q;
  const float inv = 1.0f / (float)(s.kh * s.kw);  // padding counts as zeros in the divisor
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total;
       idx += (int64_t)gridDim.x * blockDim.x) {
    const int oq = (int)(idx % s.q), op = (int)((idx / s.q) % s.p);
    const int64_t plane = idx / ((int64_t)s.p * s.q);
    const float* xp = x + plane * s.h * s.w;
    const int h0 = op * s.stride_h - s.pad_h, w0 = oq * s.stride_w - s.pad_w;
    const int hs = max(h0, 0), he = min(h0 + s.kh, s.h);
    const int ws = max(w0, 0), we = min(w0 + s.kw, s.w);
    float sum = 0.0f;
    for (int ih = hs; ih < he; ++ih)
      for (int iw = ws; iw < we; ++iw) sum += xp[ih * s.w + iw];
    y[idx] = sum * inv;
  }
}

__global__ void avgpool_backward_kernel(PoolShape s, const float* __restrict__ dy, float* __restrict__ dx) {
  const int64_t total = (int64_t)s.n * s.c * s.h * s.w;
  const float inv = 1.0f / (float)(s.kh * s.kw);
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total;
       idx += (int64_t)gridDim.x * blockDim.x) {
    const int iw = (int)(idx % s.w), ih = (int)((idx / s.w) % s.h);
    const int64_t plane = idx / ((int64_t)s.h * s.w);
    int ph0, ph1, pw0, pw1;
    covering(ih, s.kh, s.stride_h, s.pad_h, s.p, ph0, ph1);
    covering(iw, s.kw, s.stride_w, s.pad_w, s.q, pw0, pw1);
    const int64_t base = plane * s.p * s.q;
    float acc = 0.0f;
    for (int op = ph0; op <= ph1; ++op)
      for (int oq = pw0; oq <= pw1; ++oq) acc += __fmul_rn(dy[base + op * s.q + oq], inv);  // rounded product, as the scatter adds it
    dx[idx] = acc;
  }
}

}  // namespace

void maxpool2d_forward(const PoolShape& s, const float* x, float* y, int32_t* argmax) {
  const int64_t total = (int64_t)s.n * s.c * s.p * s.q;
  if (total <= 0) return;
  maxpool_forward_kernel<<<grid_for(total, kThreads), kThreads, 0, stream()>>>(s, x, y, argmax);
  CUDA_CHECK_LAUNCH("maxpool2d_forward");
}

void maxpool2d_backward(const PoolShape& s, const float* dy, const int32_t* argmax, float* dx) {
  const int64_t total = (int64_t)s.n * s.c * s.h * s.w;
  if (total <= 0) return;
  maxpool_backward_kernel<<<grid_for(total, kThreads), kThreads, 0, stream()>>>(s, dy, argmax, dx);
  CUDA_CHECK_LAUNCH("maxpool2d_backward");
}

void avgpool2d_forward(const PoolShape& s, const float* x, float* y) {
  const int64_t total = (int64_t)s.n * s.c * s.p * s.q;
  if (total <= 0) return;
  avgpool_forward_kernel<<<grid_for(total, kThreads), kThreads, 0, stream()>>>(s, x, y);
  CUDA_CHECK_LAUNCH("avgpool2d_forward");
}

void avgpool2d_backward(const PoolShape& s, const float* dy, float* dx) {
  const int64_t total = (int64_t)s.n * s.c * s.h * s.w;
  if (total <= 0) return;
  avgpool_backward_kernel<<<grid_for(total, kThreads), kThreads, 0, stream()>>>(s, dy, dx);
  CUDA_CHECK_LAUNCH("avgpool2d_backward");
}

}  // namespace cuda
}  // namespace cudalab
