// C = alpha*op(A)*op(B) + beta*C on the cpu: a straightforward row-parallel
// version (each row of C belongs to one thread, k summed in order).
#include <cstdint>

#include "cpu/parallel.h"
#include "ops.h"

namespace cudalab {
namespace cpu {

// one row of C. kept out of line so the compiler vectorises (or not) the same
// way for every row, whichever thread's range the row falls in
__attribute__((noinline)) static void gemm_row(bool trans_a, bool trans_b, int m, int n, int k,
                                               float alpha, const float* a, const float* b,
                                               float beta, float* c, int64_t i) {
  float* crow = c + i * n;
  for (int j = 0; j < n; j++) {
    float acc = 0.0f;
    for (int p = 0; p < k; p++) {
      float av = trans_a ? a[(int64_t)p * m + i] : a[i * k + p];
      float bv = trans_b ? b[(int64_t)j * k + p] : b[(int64_t)p * n + j];
      acc += av * bv;
    }
    crow[j] = beta == 0.0f ? alpha * acc : alpha * acc + beta * crow[j];
  }
}

void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
          const float* b, float beta, float* c) {
  if (m <= 0 || n <= 0) return;
  parallel_for(0, m, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) gemm_row(trans_a, trans_b, m, n, k, alpha, a, b, beta, c, i);
  });
}

}  // namespace cpu
}  // namespace cudalab
