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
//                    M = k, N = c*r*s + 1, K = n*p*q, cut into chunks of K (split-K)
//                    that a second kernel sums in a fixed order: deterministic.
//                    the bias gradient db[ko] = sum of dy[img][ko][oh][ow] is one more
//                    column of the same product, against a column of ones, so dy is
//                    read once for both
// with ih = oh*stride_h - pad_h + ri, iw = ow*stride_w - pad_w + si.
// every output element is produced by exactly one thread with one sequential
// accumulation (per chunk, then over the chunks in order), so there are no
// atomics and results repeat bit for bit.
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

// backward weight, B: x gathered as the (n*p*q) x (c*r*s) matrix (im2col
// transposed), followed by a column of ones
struct BackwardWeightInput {
  static constexpr bool k_contiguous = true;
  const float* x;
  ConvShape s;

  __device__ __forceinline__ void fetch4(int, int outer, int extent, int k, int k_end, float (&v)[4]) const {
    v[0] = v[1] = v[2] = v[3] = 0.0f;
    if (outer >= extent) return;
    const int rs = s.r * s.s, pq = s.p * s.q;
    if (outer == s.c * rs) {  // the ones column: its product with dy is the bias gradient
#pragma unroll
      for (int j = 0; j < 4; ++j) v[j] = k + j < k_end ? 1.0f : 0.0f;
      return;
    }
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

// backward weight, unsplit: columns below c*r*s go to dw, column c*r*s (the
// ones column) to db when there is one
struct WeightGradStore {
  float* dw;
  float* db;
  int m, crs;

  template <int NV>
  __device__ __forceinline__ void store(int, int, int row, int col, const float* v) const {
    if (row >= m) return;
#pragma unroll
    for (int j = 0; j < NV; ++j) {
      const int c = col + j;
      if (c < crs) dw[(int64_t)row * crs + c] = v[j];
      else if (c == crs && db != nullptr) db[row] = v[j];
    }
  }
};

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
  const int m = s.k, crs = s.c * s.r * s.s, k = s.n * s.p * s.q;
  // the ones column gives db; it is there even when db is not asked for, so
  // that dw comes out of the same plan, bit for bit, either way
  const int n = crs + 1;
  if (m <= 0) return;
  BackwardWeightGrad la{dy, s};
  BackwardWeightInput lb{x, s};
  // the reduction (over every image and position) is long and the output
  // small: cut K so that the blocks cover the device (tiled::plan_split).
  // the seed's first layer at batch 64 (16 x (27 + 1) outputs, K = 65536) runs
  // on one tiny tile in 128 chunks of 512; expected on an H200 ~8-10 us for
  // the chunks (16 steps of 32, one block per SM) and ~2-3 us for each of
  // the two sums, against 0.127 ms before, most of which went to a bias
  // kernel with one block per channel and an unbatched sum of 256 chunks
  const tiled::SplitPlan plan = tiled::plan_split(m, n, k);
  if (plan.splits == 1) {
    tiled::launch(m, n, k, 1, 1, la, lb, WeightGradStore{dw, db, m, crs}, "conv2d_backward_weight");
    return;
  }
  const int ldp = tiled::partial_ld(n);
  Workspace<float> partial((size_t)plan.splits * m * ldp);
  tiled::launch_split(plan, m, n, k, la, lb, tiled::PartialStore{partial.ptr, m, n, ldp},
                      "conv2d_backward_weight");
  tiled::sum_partials(m, crs, ldp, plan.splits, partial.ptr, 1.0f, 0.0f, dw, crs,
                      "conv2d_backward_weight: sum the chunks");
  if (db != nullptr)
    tiled::sum_partials(m, 1, ldp, plan.splits, partial.ptr + crs, 1.0f, 0.0f, db, 1,
                        "conv2d_backward_weight: sum the bias chunks");
}

}  // namespace cuda
}  // namespace cudalab
