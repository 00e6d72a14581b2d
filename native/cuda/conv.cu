// 2-d convolution as implicit GEMMs on the tiled kernel (gemm.cuh): no
// im2col buffer, the loaders gather operand elements straight from the
// tensors (padding and out-of-range positions read as zero).
//
//   forward          y[img][ko][oh,ow]  = sum over (ci,ri,si) of w[ko][ci][ri][si] * x[img][ci][ih][iw]
//                    M = k, N = n*p*q, K = c*r*s
//   backward input   dx[img][ci][ih,iw] = sum over (ko,ri,si) of w[ko][ci][ri][si] * dy[img][ko][oh][ow]
//                    M = c, N = n*h*w, K = k*r*s (positions where (ih+pad-ri) is not a
//                    multiple of the stride, or falls outside the output, contribute zero)
//   backward weight  dw[ko][ci,ri,si]   = sum over (img,oh,ow) of dy[img][ko][oh][ow] * x[img][ci][ih][iw]
//                    M = k, N = c*r*s, K = n*p*q, cut into chunks of K (split-K) that
//                    a second kernel sums in a fixed order: deterministic
// with ih = oh*stride_h - pad_h + ri, iw = ow*stride_w - pad_w + si.
// every output element is produced by exactly one thread with one sequential
// accumulation, so there are no atomics and results repeat bit for bit.
#include <algorithm>
#include <cstdint>

#include "cuda/context.cuh"
#include "cuda/gemm.cuh"
#include "cuda/memory.cuh"
#include "ops.h"

namespace cudalab {
namespace cuda {

namespace {

// forward, B: x gathered as the (c*r*s) x (n*p*q) im2col matrix
struct ForwardInput {
  static constexpr bool k_contiguous = false;
  const float* x;
  ConvShape s;

  __device__ __forceinline__ void fetch4(int, int outer, int extent, int k, int k_end, float (&v)[4]) const {
    v[0] = v[1] = v[2] = v[3] = 0.0f;
    if (k >= k_end) return;
    const int rs = s.r * s.s, pq = s.p * s.q;
    const int ci = k / rs, rem = k - ci * rs;
    const int ri = rem / s.s, si = rem - ri * s.s;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int col = outer + j;
      if (col >= extent) break;
      const int img = col / pq, pqi = col - img * pq;
      const int oh = pqi / s.q, ow = pqi - oh * s.q;
      const int ih = oh * s.stride_h - s.pad_h + ri, iw = ow * s.stride_w - s.pad_w + si;
      if (ih >= 0 && ih < s.h && iw >= 0 && iw < s.w)
        v[j] = __ldg(x + ((img * s.c + ci) * s.h + ih) * s.w + iw);
    }
  }
};

// forward: y[img][ko][pqi] = acc + bias[ko]
struct ForwardStore {
  float* y;
  const float* bias;
  int k, n_cols, pq;

  template <int NV>
  __device__ __forceinline__ void store(int, int, int row, int col, const float* v) const {
    if (row >= k) return;
    const float b = bias ? __ldg(bias + row) : 0.0f;
#pragma unroll
    for (int j = 0; j < NV; ++j) {
      const int c = col + j;
      if (c >= n_cols) break;
      const int img = c / pq, pqi = c - img * pq;
      y[(img * k + row) * pq + pqi] = bias ? v[j] + b : v[j];
    }
  }
};

// backward input, A: w viewed as c x (k*r*s)
struct BackwardInputWeight {
  static constexpr bool k_contiguous = true;
  const float* w;
  ConvShape s;

  __device__ __forceinline__ void fetch4(int, int outer, int extent, int k, int k_end, float (&v)[4]) const {
    v[0] = v[1] = v[2] = v[3] = 0.0f;
    if (outer >= extent) return;
    const int rs = s.r * s.s;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int kk = k + j;
      if (kk >= k_end) break;
      const int ko = kk / rs, rsi = kk - ko * rs;
      v[j] = __ldg(w + (ko * s.c + outer) * rs + rsi);
    }
  }
};

// backward input, B: dy gathered as the (k*r*s) x (n*h*w) matrix of the transposed convolution
struct BackwardInputGrad {
  static constexpr bool k_contiguous = false;
  const float* dy;
  ConvShape s;

  __device__ __forceinline__ void fetch4(int, int outer, int extent, int k, int k_end, float (&v)[4]) const {
    v[0] = v[1] = v[2] = v[3] = 0.0f;
    if (k >= k_end) return;
    const int rs = s.r * s.s, hw = s.h * s.w;
    const int ko = k / rs, rem = k - ko * rs;
    const int ri = rem / s.s, si = rem - ri * s.s;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int col = outer + j;
      if (col >= extent) break;
      const int img = col / hw, hwi = col - img * hw;
      const int ih = hwi / s.w, iw = hwi - ih * s.w;
      const int th = ih + s.pad_h - ri, tw = iw + s.pad_w - si;
      if (th < 0 || tw < 0) continue;
      const int oh = th / s.stride_h, ow = tw / s.stride_w;
      if (oh * s.stride_h != th || ow * s.stride_w != tw || oh >= s.p || ow >= s.q) continue;
      v[j] = __ldg(dy + ((img * s.k + ko) * s.p + oh) * s.q + ow);
    }
  }
};

// backward input: dx[img][ci][hwi] = acc
struct BackwardInputStore {
  float* dx;
  int c, n_cols, hw;

  template <int NV>
  __device__ __forceinline__ void store(int, int, int row, int col, const float* v) const {
    if (row >= c) return;
#pragma unroll
    for (int j = 0; j < NV; ++j) {
      const int cc = col + j;
      if (cc >= n_cols) break;
      const int img = cc / hw, hwi = cc - img * hw;
      dx[(img * c + row) * hw + hwi] = v[j];
    }
  }
};

// backward weight, A: dy viewed as k x (n*p*q)
struct BackwardWeightGrad {
  static constexpr bool k_contiguous = true;
  const float* dy;
  ConvShape s;

  __device__ __forceinline__ void fetch4(int, int outer, int extent, int k, int k_end, float (&v)[4]) const {
    v[0] = v[1] = v[2] = v[3] = 0.0f;
    if (outer >= extent) return;
    const int pq = s.p * s.q;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int kk = k + j;
      if (kk >= k_end) break;
      const int img = kk / pq, pqi = kk - img * pq;
      v[j] = __ldg(dy + (img * s.k + outer) * pq + pqi);
    }
  }
};

// backward weight, B: x gathered as the (n*p*q) x (c*r*s) matrix (im2col transposed)
struct BackwardWeightInput {
  static constexpr bool k_contiguous = true;
  const float* x;
  ConvShape s;

  __device__ __forceinline__ void fetch4(int, int outer, int extent, int k, int k_end, float (&v)[4]) const {
    v[0] = v[1] = v[2] = v[3] = 0.0f;
    if (outer >= extent) return;
    const int rs = s.r * s.s, pq = s.p * s.q;
    const int ci = outer / rs, rem = outer - ci * rs;
    const int ri = rem / s.s, si = rem - ri * s.s;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int kk = k + j;
      if (kk >= k_end) break;
      const int img = kk / pq, pqi = kk - img * pq;
      const int oh = pqi / s.q, ow = pqi - oh * s.q;
      const int ih = oh * s.stride_h - s.pad_h + ri, iw = ow * s.stride_w - s.pad_w + si;
      if (ih >= 0 && ih < s.h && iw >= 0 && iw < s.w)
        v[j] = __ldg(x + ((img * s.c + ci) * s.h + ih) * s.w + iw);
    }
  }
};

// backward weight: dw (one chunk of K) or the chunk's slice of the partial sums
struct SplitStore {
  float* out;  // splits x M x N
  int m, n;

  template <int NV>
  __device__ __forceinline__ void store(int, int split, int row, int col, const float* v) const {
    if (row >= m) return;
    float* p = out + ((int64_t)split * m + row) * n + col;
#pragma unroll
    for (int j = 0; j < NV; ++j)
      if (col + j < n) p[j] = v[j];
  }
};

// dw[i] = partial[0][i] + partial[1][i] + ... in that order
__global__ void sum_splits_kernel(int64_t count, int splits, const float* __restrict__ partial,
                                  float* __restrict__ out) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < count;
       i += (int64_t)gridDim.x * blockDim.x) {
    double acc = 0.0;
    for (int sp = 0; sp < splits; ++sp) acc += partial[sp * count + i];
    out[i] = (float)acc;
  }
}

// db[ko] = sum over images and positions of dy[img][ko][...]: one block per
// channel, each thread sums a fixed stride of elements, then a fixed tree
constexpr int kBiasThreads = 256;
__global__ void __launch_bounds__(kBiasThreads) bias_grad_kernel(int n, int k, int pq, const float* __restrict__ dy,
                                                                 float* __restrict__ db) {
  __shared__ double partial[kBiasThreads];  // double: exact enough that the order hardly matters
  const int ko = blockIdx.x;
  const int64_t total = (int64_t)n * pq;
  double acc = 0.0;
  for (int64_t e = threadIdx.x; e < total; e += kBiasThreads) {
    const int64_t img = e / pq, pqi = e - img * pq;
    acc += dy[(img * k + ko) * pq + pqi];
  }
  partial[threadIdx.x] = acc;
  __syncthreads();
  for (int stride = kBiasThreads / 2; stride > 0; stride /= 2) {
    if ((int)threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) db[ko] = (float)partial[0];
}

}  // namespace

void conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* bias, float* y) {
  const int m = s.k, n = s.n * s.p * s.q, k = s.c * s.r * s.s;
  if (m <= 0 || n <= 0) return;
  tiled::MatrixLoader<true> la{w, k, 0, (reinterpret_cast<uintptr_t>(w) & 15) == 0 && k % 4 == 0};
  ForwardInput lb{x, s};
  ForwardStore st{y, bias, s.k, n, s.p * s.q};
  tiled::launch(m, n, k, 1, 1, la, lb, st, "conv2d_forward");
}

void conv2d_backward_input(const ConvShape& s, const float* dy, const float* w, float* dx) {
  const int m = s.c, n = s.n * s.h * s.w, k = s.k * s.r * s.s;
  if (m <= 0 || n <= 0) return;
  BackwardInputWeight la{w, s};
  BackwardInputGrad lb{dy, s};
  BackwardInputStore st{dx, s.c, n, s.h * s.w};
  tiled::launch(m, n, k, 1, 1, la, lb, st, "conv2d_backward_input");
}

void conv2d_backward_weight(const ConvShape& s, const float* x, const float* dy, float* dw, float* db) {
  const int m = s.k, n = s.c * s.r * s.s, k = s.n * s.p * s.q;
  if (m > 0 && n > 0) {
    // the reduction (over every image and position) is long and the output
    // small: cut K so that the grid covers the device about twice
    const int64_t tiles = (int64_t)((m + 63) / 64) * ((n + 127) / 128);
    const int64_t want = (2 * (int64_t)multiprocessors() + tiles - 1) / tiles;
    const int64_t by_length = std::max<int64_t>(1, k / 256);  // chunks of at least 256
    const int64_t by_memory = std::max<int64_t>(1, ((int64_t)64 << 20) / ((int64_t)m * n * 4));  // 64 MiB of partials
    const int splits = (int)std::max<int64_t>(1, std::min<int64_t>({want, by_length, by_memory, 256}));
    BackwardWeightGrad la{dy, s};
    BackwardWeightInput lb{x, s};
    if (splits == 1) {
      tiled::launch(m, n, k, 1, 1, la, lb, SplitStore{dw, m, n}, "conv2d_backward_weight");
    } else {
      Workspace<float> partial((size_t)splits * m * n);
      tiled::launch(m, n, k, 1, splits, la, lb, SplitStore{partial.ptr, m, n}, "conv2d_backward_weight");
      const int64_t count = (int64_t)m * n;
      sum_splits_kernel<<<grid_for(count, 256), 256, 0, stream()>>>(count, splits, partial.ptr, dw);
      CUDA_CHECK_LAUNCH("conv2d_backward_weight: sum the chunks");
    }
  }
  if (db != nullptr && s.k > 0) {
    bias_grad_kernel<<<s.k, kBiasThreads, 0, stream()>>>(s.n, s.k, s.p * s.q, dy, db);
    CUDA_CHECK_LAUNCH("conv2d_backward_weight: bias gradient");
  }
}

}  // namespace cuda
}  // namespace cudalab
