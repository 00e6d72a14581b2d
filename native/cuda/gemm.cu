// C = alpha*op(A)*op(B) + beta*C on the tiled kernel (gemm.cuh). the four
// transpose cases are four loader combinations: a stored operand is either
// contiguous along k (A as m*k, B transposed as n*k) or along its outer index
// (A transposed as k*m, B as k*n), and the loader fetches accordingly.
#include <cstdint>

#include "cuda/context.cuh"
#include "cuda/gemm.cuh"
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

template <bool AKContig, bool BKContig>
void run(int m, int n, int k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
         float beta, float* c) {
  tiled::MatrixLoader<AKContig> la{a, lda, 0, aligned16(a) && lda % 4 == 0};
  tiled::MatrixLoader<BKContig> lb{b, ldb, 0, aligned16(b) && ldb % 4 == 0};
  ScaledStore st{c, (int64_t)n, m, n, alpha, beta, aligned16(c) && n % 4 == 0};
  tiled::launch(m, n, k, 1, 1, la, lb, st, "gemm");
}

}  // namespace

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
