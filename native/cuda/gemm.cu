// C = alpha*op(A)*op(B) + beta*C on the tiled kernel (gemm.cuh). the four
// transpose cases are four loader combinations: a stored operand is either
// contiguous along k (A as m*k, B transposed as n*k) or along its outer index
// (A transposed as k*m, B as k*n), and the loader fetches accordingly.
//
// products with few output tiles and a long K go through split-K (gemm.cuh,
// plan_split): partial tiles into a workspace, then sum_partials adds them in
// chunk order and applies alpha and beta. the shape it is for, a linear
// layer's forward at batch 64 (m=64, n=256, k=2048, B transposed), has 2
// tiles of 64x128; unsplit, 2 of the H200's 132 SMs did all the work (0.139
// ms). split into 64 chunks of 32, it runs as 128 blocks of 2 steps each.
// expected on an H200: the floor is max(2.6 MB of A, B and C at ~4.8 TB/s =
// 0.55 us, 67 MFLOP at ~60 TFLOP/s = 1.1 us); the tile kernel runs at ~1 block
// per SM, ~1 us of load latency plus 2 steps of ~0.5 us, then writes 4 MB of
// partials into L2; the sum reads them back in 4 batches of 16 loads a thread
// (~1-2 us). so ~4-6 us of GPU time; the benchmark, which times calls from
// the host, should then show ~0.008-0.012 ms (two launches, like the 0.008 ms
// of the single-launch dW product), against 0.139 ms before.
#include <cstdint>

#include "cuda/context.cuh"
#include "cuda/gemm.cuh"
#include "cuda/memory.cuh"
#include "ops.h"

namespace cudalab {
namespace cuda {

namespace {

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

// C(row, col) = alpha*acc + beta*C(row, col); C is not read when beta == 0
struct ScaledStore {
  float* c;
  int64_t ldc;
  int M, N;
  float alpha, beta;
  bool vec;  // c 16-byte aligned and ldc a multiple of 4

  template <int NV>
  __device__ __forceinline__ void store(int, int, int row, int col, const float* v) const {
    if (row >= M) return;
    float* p = c + (int64_t)row * ldc + col;
    if (NV == 4 && vec && col + 3 < N) {
      float4 out;
      if (beta == 0.0f) {
        out = make_float4(alpha * v[0], alpha * v[1], alpha * v[2], alpha * v[3]);
      } else {
        float4 old = *reinterpret_cast<const float4*>(p);
        out = make_float4(alpha * v[0] + beta * old.x, alpha * v[1] + beta * old.y,
                          alpha * v[2] + beta * old.z, alpha * v[3] + beta * old.w);
      }
      *reinterpret_cast<float4*>(p) = out;
      return;
    }
#pragma unroll
    for (int j = 0; j < NV; ++j) {
      if (col + j < N) p[j] = beta == 0.0f ? alpha * v[j] : alpha * v[j] + beta * p[j];
    }
  }
};

// below this depth a product takes a few microseconds whatever its shape, and
// split-K's second launch would cost more than the split saves
constexpr int kSplitMinDepth = 256;

template <bool AKContig, bool BKContig>
void run(int m, int n, int k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
         float beta, float* c) {
  tiled::MatrixLoader<AKContig> la{a, lda, 0, aligned16(a) && lda % 4 == 0};
  tiled::MatrixLoader<BKContig> lb{b, ldb, 0, aligned16(b) && ldb % 4 == 0};
  const tiled::SplitPlan plan = k >= kSplitMinDepth ? tiled::plan_split(m, n, k) : tiled::SplitPlan{1, false};
  if (plan.splits == 1) {
    ScaledStore st{c, (int64_t)n, m, n, alpha, beta, aligned16(c) && n % 4 == 0};
    tiled::launch(m, n, k, 1, 1, la, lb, st, "gemm");
    return;
  }
  const int ldp = tiled::partial_ld(n);
  Workspace<float> partial((size_t)plan.splits * m * ldp);
  tiled::launch_split(plan, m, n, k, la, lb, tiled::PartialStore{partial.ptr, m, n, ldp}, "gemm");
  tiled::sum_partials(m, n, ldp, plan.splits, partial.ptr, alpha, beta, c, n, "gemm: sum the chunks");
}

// loads a batch at a time so that many are in flight, then adds them in order
constexpr int kSumThreads = 128, kSumBatch = 16;
__global__ void __launch_bounds__(kSumThreads)
    sum_partials_kernel(int rows, int cols, int ldp, int splits, const float* __restrict__ partial,
                        float alpha, float beta, float* __restrict__ c, int64_t ldc) {
  const int i = blockIdx.x * kSumThreads + threadIdx.x;
  if (i >= rows * cols) return;
  const int row = i / cols, col = i - row * cols;
  const int64_t split_stride = (int64_t)rows * ldp;
  const float* p = partial + (int64_t)row * ldp + col;
  double acc = 0.0;
  int sp = 0;
  for (; sp + kSumBatch <= splits; sp += kSumBatch) {
    float v[kSumBatch];
#pragma unroll
    for (int j = 0; j < kSumBatch; ++j) v[j] = __ldg(p + (sp + j) * split_stride);
#pragma unroll
    for (int j = 0; j < kSumBatch; ++j) acc += v[j];
  }
  for (; sp < splits; ++sp) acc += __ldg(p + sp * split_stride);
  const float sum = (float)acc;
  float* out = c + row * ldc + col;
  *out = beta == 0.0f ? alpha * sum : alpha * sum + beta * *out;
}

}  // namespace

namespace tiled {

void sum_partials(int rows, int cols, int ldp, int splits, const float* partial, float alpha, float beta,
                  float* c, int64_t ldc, const char* what) {
  const int64_t count = (int64_t)rows * cols;
  if (count <= 0) return;
  if (count > 0x7fffffff - kSumThreads)
    throw Error("ERR_ARG", std::string(what) + ": too many partial sums for one launch");
  const int blocks = (int)((count + kSumThreads - 1) / kSumThreads);
  sum_partials_kernel<<<blocks, kSumThreads, 0, stream()>>>(rows, cols, ldp, splits, partial, alpha, beta, c,
                                                            ldc);
  CUDA_CHECK_LAUNCH(what);
}

}  // namespace tiled

void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, const float* b,
          float beta, float* c) {
  if (m <= 0 || n <= 0) return;
  // A stored m*k is contiguous along k (lda = k); transposed, stored k*m, along m (lda = m).
  // B stored k*n is contiguous along n (ldb = n); transposed, stored n*k, along k (ldb = k).
  if (!trans_a && !trans_b) run<true, false>(m, n, k, alpha, a, k, b, n, beta, c);
  else if (!trans_a && trans_b) run<true, true>(m, n, k, alpha, a, k, b, k, beta, c);
  else if (trans_a && !trans_b) run<false, false>(m, n, k, alpha, a, m, b, n, beta, c);
  else run<false, true>(m, n, k, alpha, a, m, b, k, beta, c);
}

}  // namespace cuda
}  // namespace cudalab
