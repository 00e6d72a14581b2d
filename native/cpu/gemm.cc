// C = alpha*op(A)*op(B) + beta*C on the cpu, the way BLIS / GotoBLAS do it:
//
//   for each column block of C (NC wide)
//     for each depth block of K (KC deep), in order
//       pack op(B)[depth block, column block] into NR-wide micro-panels (L3)
//       for each row block of C (MC tall)
//         pack op(A)[row block, depth block] into MR-tall micro-panels (L2)
//         for each NR micro-panel of B (L1), for each MR micro-panel of A:
//           the micro-kernel: an MR x NR tile of C held in 12 ymm registers,
//           updated with one rank-1 FMA step per k
//
// threads: C is cut into one rectangle per thread (rows and columns aligned to
// the MR x NR tile grid) and each thread runs the loops above over its own
// rectangle, packing what it needs into its own buffers. no barriers, no
// shared writes.
//
// determinism: every element of C is computed by exactly one micro-kernel call
// per depth block, with k summed in order inside a block and the blocks
// applied in order, all fixed by (m, n, k) alone. which thread owns a tile, and
// whether a tile is a full one written in place or an edge tile staged in a
// small buffer, changes nothing: the same vector instructions see the same
// values. so results are bitwise identical for any thread count.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "cpu/parallel.h"
#include "ops.h"

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace cudalab {
namespace cpu {
namespace {

constexpr int MR = 6;      // micro-tile rows
constexpr int NR = 16;     // micro-tile columns (two ymm registers)
constexpr int KC = 256;    // depth block: a B micro-panel (KC x NR) is 16 KiB, fits L1
constexpr int MC = 144;    // row block: the packed A block (MC x KC) is 144 KiB, fits L2
constexpr int NC = 3072;   // column block: the packed B panel (KC x NC) is 3 MiB, in L3

// below this many flops a gemm runs on the calling thread: waking the pool
// would cost more than it saves
constexpr double kParallelFlops = 3e5;

// a grow-only, 64-byte aligned scratch buffer, one per thread and purpose
struct Scratch {
  float* data = nullptr;
  size_t size = 0;
  float* get(size_t floats) {
    if (floats > size) {
      std::free(data);
      size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
      data = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!data) {
        size = 0;
        throw std::bad_alloc();
      }
      size = floats;
    }
    return data;
  }
  ~Scratch() { std::free(data); }
};

// packs rows [i0, i0 + rows) x depth [p0, p0 + kc) of op(A) into MR-tall
// micro-panels: panel t holds element (i0 + t*MR + r, p0 + p) at t*MR*kc + p*MR + r.
// rows past the end of the matrix are zero.
void pack_a(bool trans, const float* a, int m, int k, int i0, int rows, int p0, int kc,
            float* out) {
  for (int t = 0; t * MR < rows; t++, out += MR * kc) {
    const int base = i0 + t * MR;
    const int valid = std::min(MR, i0 + rows - base);
    if (trans) {
      // A is stored k x m: a row of storage holds MR consecutive rows of op(A)
      for (int p = 0; p < kc; p++) {
        const float* src = a + (int64_t)(p0 + p) * m + base;
        float* dst = out + p * MR;
        int r = 0;
        for (; r < valid; r++) dst[r] = src[r];
        for (; r < MR; r++) dst[r] = 0.0f;
      }
    } else {
      // A is stored m x k: MR rows of storage, read side by side
      const float* src[MR];
      for (int r = 0; r < MR; r++) src[r] = a + (int64_t)(base + std::min(r, valid - 1)) * k + p0;
      if (valid == MR) {
        for (int p = 0; p < kc; p++)
          for (int r = 0; r < MR; r++) out[p * MR + r] = src[r][p];
      } else {
        for (int p = 0; p < kc; p++)
          for (int r = 0; r < MR; r++) out[p * MR + r] = r < valid ? src[r][p] : 0.0f;
      }
    }
  }
}

// packs depth [p0, p0 + kc) x columns [j0, j0 + cols) of op(B) into NR-wide
// micro-panels: panel t holds element (p0 + p, j0 + t*NR + j) at t*NR*kc + p*NR + j.
// columns past the end are zero.
void pack_b(bool trans, const float* b, int n, int k, int j0, int cols, int p0, int kc,
            float* out) {
  for (int t = 0; t * NR < cols; t++, out += NR * kc) {
    const int base = j0 + t * NR;
    const int valid = std::min(NR, j0 + cols - base);
    if (!trans) {
      // B is stored k x n: NR consecutive columns are contiguous
      for (int p = 0; p < kc; p++) {
        const float* src = b + (int64_t)(p0 + p) * n + base;
        float* dst = out + p * NR;
        if (valid == NR) {
          std::memcpy(dst, src, sizeof(float) * NR);
        } else {
          int j = 0;
          for (; j < valid; j++) dst[j] = src[j];
          for (; j < NR; j++) dst[j] = 0.0f;
        }
      }
    } else {
      // B is stored n x k: each column of op(B) is a contiguous row of storage
      for (int j = 0; j < NR; j++) {
        if (j < valid) {
          const float* src = b + (int64_t)(base + j) * k + p0;
          for (int p = 0; p < kc; p++) out[p * NR + j] = src[p];
        } else {
          for (int p = 0; p < kc; p++) out[p * NR + j] = 0.0f;
        }
      }
    }
  }
}

// the micro-kernel: acc = sum over p < kc of a[p*MR + r] * b[p*NR + j], then
// C[r][j] = fma(alpha, acc, cb*C[r][j]); C is not read when cb == 0.
#ifdef __AVX2__
void micro_kernel(int kc, const float* __restrict a, const float* __restrict b, float* c,
                  int64_t ldc, float alpha, float cb) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int p = 0; p < kc; p++) {
    const __m256 b0 = _mm256_load_ps(b);
    const __m256 b1 = _mm256_load_ps(b + 8);
    __m256 av = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(av, b0, c00);
    c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(av, b0, c10);
    c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(av, b0, c20);
    c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(av, b0, c30);
    c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(av, b0, c40);
    c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(av, b0, c50);
    c51 = _mm256_fmadd_ps(av, b1, c51);
    a += MR;
    b += NR;
  }
  const __m256 va = _mm256_set1_ps(alpha);
  auto store = [&](float* row, __m256 lo, __m256 hi) {
    if (cb == 0.0f) {
      _mm256_storeu_ps(row, _mm256_mul_ps(va, lo));
      _mm256_storeu_ps(row + 8, _mm256_mul_ps(va, hi));
    } else {
      const __m256 vb = _mm256_set1_ps(cb);
      _mm256_storeu_ps(row, _mm256_fmadd_ps(va, lo, _mm256_mul_ps(vb, _mm256_loadu_ps(row))));
      _mm256_storeu_ps(row + 8,
                       _mm256_fmadd_ps(va, hi, _mm256_mul_ps(vb, _mm256_loadu_ps(row + 8))));
    }
  };
  store(c + 0 * ldc, c00, c01);
  store(c + 1 * ldc, c10, c11);
  store(c + 2 * ldc, c20, c21);
  store(c + 3 * ldc, c30, c31);
  store(c + 4 * ldc, c40, c41);
  store(c + 5 * ldc, c50, c51);
}
#else
// portable version: the same sums in the same order; the compiler vectorises
// the j loops
void micro_kernel(int kc, const float* __restrict a, const float* __restrict b, float* c,
                  int64_t ldc, float alpha, float cb) {
  float acc[MR][NR] = {};
  for (int p = 0; p < kc; p++, a += MR, b += NR)
    for (int r = 0; r < MR; r++)
      for (int j = 0; j < NR; j++) acc[r][j] += a[r] * b[j];
  for (int r = 0; r < MR; r++)
    for (int j = 0; j < NR; j++) {
      float base = cb == 0.0f ? 0.0f : cb * c[r * ldc + j];
      c[r * ldc + j] = alpha * acc[r][j] + base;
    }
}
#endif

// an edge tile (rows x cols, smaller than MR x NR): staged through a full
// MR x NR buffer so that it goes through exactly the same micro-kernel
void edge_tile(int kc, const float* a, const float* b, float* c, int64_t ldc, int rows, int cols,
               float alpha, float cb) {
  alignas(64) float tile[MR * NR];
  if (cb != 0.0f) {
    std::memset(tile, 0, sizeof tile);
    for (int r = 0; r < rows; r++) std::memcpy(tile + r * NR, c + r * ldc, sizeof(float) * cols);
  }
  micro_kernel(kc, a, b, tile, NR, alpha, cb);
  for (int r = 0; r < rows; r++) std::memcpy(c + r * ldc, tile + r * NR, sizeof(float) * cols);
}

struct Problem {
  bool trans_a, trans_b;
  int m, n, k;
  float alpha, beta;
  const float* a;
  const float* b;
  float* c;
};

// runs the blocked loops over rows [row0, row1) x columns [col0, col1) of C
// (both aligned to the tile grid, row1/col1 possibly clipped to m/n)
void gemm_rectangle(const Problem& pr, int row0, int row1, int col0, int col1) {
  thread_local Scratch packed_a, packed_b;
  const int kc_max = std::min(KC, pr.k);
  float* pa = packed_a.get((size_t)MC * kc_max);
  const int nc_max = std::min(NC, (col1 - col0 + NR - 1) / NR * NR);
  float* pb = packed_b.get((size_t)nc_max * kc_max);

  for (int jc = col0; jc < col1; jc += NC) {
    const int nc = std::min(NC, col1 - jc);
    for (int pc = 0; pc < pr.k; pc += KC) {
      const int kc = std::min(KC, pr.k - pc);
      const float cb = pc == 0 ? pr.beta : 1.0f;
      pack_b(pr.trans_b, pr.b, pr.n, pr.k, jc, nc, pc, kc, pb);
      for (int ic = row0; ic < row1; ic += MC) {
        const int mc = std::min(MC, row1 - ic);
        pack_a(pr.trans_a, pr.a, pr.m, pr.k, ic, mc, pc, kc, pa);
        for (int jr = 0; jr < nc; jr += NR) {
          const int cols = std::min(NR, nc - jr);
          const float* bp = pb + (int64_t)jr * kc;
          for (int ir = 0; ir < mc; ir += MR) {
            const int rows = std::min(MR, mc - ir);
            const float* ap = pa + (int64_t)ir * kc;
            float* ct = pr.c + (int64_t)(ic + ir) * pr.n + jc + jr;
            if (rows == MR && cols == NR) {
              micro_kernel(kc, ap, bp, ct, pr.n, pr.alpha, cb);
            } else {
              edge_tile(kc, ap, bp, ct, pr.n, rows, cols, pr.alpha, cb);
            }
          }
        }
      }
    }
  }
}

// C = beta*C (or 0 when beta == 0, without reading C): the k == 0 and
// alpha == 0 cases
void scale_c(int m, int n, float beta, float* c) {
  const int64_t total = (int64_t)m * n;
  parallel_for(0, total, 1 << 15, [&](int64_t lo, int64_t hi) {
    if (beta == 0.0f) {
      std::fill(c + lo, c + hi, 0.0f);
    } else {
      for (int64_t i = lo; i < hi; i++) c[i] = beta * c[i];
    }
  });
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
          const float* b, float beta, float* c) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) {
    scale_c(m, n, beta, c);
    return;
  }
  const Problem pr{trans_a, trans_b, m, n, k, alpha, beta, a, b, c};

  // cut C into tm x tn rectangles on the tile grid, one per thread, choosing
  // the split whose largest rectangle holds the fewest tiles (ties: split rows,
  // which shares packed B panels instead of re-packing A)
  const int64_t row_tiles = (m + MR - 1) / MR, col_tiles = (n + NR - 1) / NR;
  int threads = num_threads();
  if (2.0 * m * n * k < kParallelFlops || detail::inside_parallel_region()) threads = 1;
  threads = (int)std::min<int64_t>(threads, row_tiles * col_tiles);
  int tm = 1, tn = 1;
  int64_t best = -1;
  for (int t = threads; t >= 1; t--) {
    if (threads % t != 0) continue;
    const int64_t rows = (row_tiles + t - 1) / t;
    const int64_t cols = (col_tiles + threads / t - 1) / (threads / t);
    if (best < 0 || rows * cols < best) {
      best = rows * cols;
      tm = t;
      tn = threads / t;
    }
  }
  parallel_for(0, (int64_t)tm * tn, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t task = lo; task < hi; task++) {
      const int64_t ti = task / tn, tj = task % tn;
      const int row0 = (int)(row_tiles * ti / tm * MR);
      const int row1 = (int)std::min<int64_t>(m, row_tiles * (ti + 1) / tm * MR);
      const int col0 = (int)(col_tiles * tj / tn * NR);
      const int col1 = (int)std::min<int64_t>(n, col_tiles * (tj + 1) / tn * NR);
      if (row0 < row1 && col0 < col1) gemm_rectangle(pr, row0, row1, col0, col1);
    }
  });
}

}  // namespace cpu
}  // namespace cudalab
