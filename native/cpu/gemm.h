// the cpu gemm's blocked driver, opened up for kernels that feed it from
// something other than a plain row-major matrix (conv packs its unrolled image
// straight from the input tensor, without materialising im2col).
//
// the driver computes C = alpha * A * B + beta * C for an m x k matrix A and
// a k x n matrix B that it never reads itself: it asks an operand object to
// pack blocks of them into the layout its micro-kernel consumes.
//
//   A blocks: rows [i0, i0 + rows) x depth [p0, p0 + kc), as MR-tall
//     micro-panels. element (i0 + t*MR + r, p0 + p) goes to
//     out[t*MR*kc + p*MR + r]; rows past m are written as zeros.
//   B blocks: depth [p0, p0 + kc) x columns [j0, j0 + cols), as NR-wide
//     micro-panels. element (p0 + p, j0 + t*NR + j) goes to
//     out[t*NR*kc + p*NR + j]; columns past n are written as zeros.
//
// i0 is a multiple of MR and j0 a multiple of NR; out is 64-byte aligned.
// pack_a and pack_b are called concurrently from several threads.
//
// determinism: each element of C is the same sequence of operations for any
// thread count (see gemm.cc); k is cut into GEMM_KC-deep blocks in order.
#pragma once
#include <climits>
#include <cstdint>

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace cudalab {
namespace cpu {
// one copy per instruction-set build (see dispatch.h): the tile sizes differ
namespace CUDALAB_CPU_ISA {

// the micro-tile: MR rows x NR columns of C in registers. AVX-512 holds 16
// rows of one zmm each (16 of its 32 registers); AVX2 and the portable code
// 6 rows of two ymm. the packed layouts below follow MR and NR, so each build
// packs for its own micro-kernel.
#ifdef __AVX512F__
constexpr int GEMM_MR = 16;
constexpr int GEMM_KC = 512;
#else
constexpr int GEMM_MR = 6;
constexpr int GEMM_KC = 384;
#endif
constexpr int GEMM_NR = 16;

//
// B panels may also be read in place, without packing: when reads_b_in_place()
// is true the driver asks b_in_place(j0, p0, ...) for every full NR-wide
// panel; true, with base and offsets, means element (p0 + p, j0 + j) is
// base[offsets[p] + j] for p < kc, j < NR (the NR floats of a row are
// contiguous). panels for which it returns false are packed with pack_b.
struct GemmOperands {
  virtual void pack_a(int i0, int rows, int p0, int kc, float* out) const = 0;
  virtual void pack_b(int j0, int cols, int p0, int kc, float* out) const = 0;
  virtual bool reads_b_in_place() const { return false; }
  virtual bool b_in_place(int j0, int p0, const float** base, const int32_t** offsets) const {
    return false;
  }
  // likewise A, all of it: when reads_a_in_place() is true pack_a is never
  // called, and a_in_place(i0, p0, rows, depth_offset) describes the MR rows
  // from i0 over depth block p0: element (i0 + r, p0 + p) is
  // rows[r][depth_offset[p]] for p < kc. rows past m may point at any
  // readable row (their results are not stored).
  virtual bool reads_a_in_place() const { return false; }
  virtual void a_in_place(int i0, int p0, const float** rows, const int32_t** depth_offset) const {}
  virtual ~GemmOperands() = default;
};

// where C lives. a plain row-major C is {c, ldc}. a batch of row-major
// matrices laid side by side as one wide C (conv's n*k*p*q output seen as
// k x (n*p*q)) also sets segment (the columns of one matrix) and
// segment_stride (the distance between matrices): element (i, j) is at
// c[(j / segment) * segment_stride + i * ldc + j % segment].
//
// row_bias (m values, optional) replaces beta*C: C = alpha*A*B + row_bias[i],
// computed as fma(alpha, acc, row_bias[i]) for the first depth block, which is
// bit for bit what filling C with the bias and passing beta = 1 would give.
struct GemmOutput {
  float* c;
  int64_t ldc;
  int64_t segment = INT64_MAX;
  int64_t segment_stride = 0;
  const float* row_bias = nullptr;
  float* at(int64_t i, int64_t j) const {
    const int64_t s = j / segment;
    return c + s * segment_stride + i * ldc + (j - s * segment);
  }
};

// C (m x n) = alpha * A * B + beta * C; C is not read when beta == 0. runs in
// parallel over tiles of C unless called from inside a parallel region (then
// on the calling thread).
void gemm_operands(int m, int n, int k, float alpha, const GemmOperands& ops, float beta,
                   const GemmOutput& out);

// the packers for plain row-major operands, for GemmOperands implementations
// that have one ordinary side: op(A) of a stored m x k matrix (k x m when
// trans), and op(B) of a stored k x n matrix (n x k when trans).
void pack_a_plain(bool trans, const float* a, int64_t lda, int m, int i0, int rows, int p0,
                  int kc, float* out);
void pack_b_plain(bool trans, const float* b, int64_t ldb, int n, int j0, int cols, int p0,
                  int kc, float* out);

// building blocks for packers whose operand is a set of contiguous rows
// (transposed as they are packed, 8 x 8 at a time in registers):
//   pack_a_rows: out[p*MR + r] = rows[r][p] for p < len, r < MR; rows past
//     count are zeros. out is a depth position inside an A micro-panel.
//   pack_b_rows: one whole B micro-panel, out[p*NR + j] = rows[j][p] for
//     p < kc, j < NR; rows past count are zeros. out is 64-byte aligned.
void pack_a_rows(const float* const* rows, int count, int len, float* out);
void pack_b_rows(const float* const* rows, int count, int kc, float* out);

#ifdef __AVX2__
// transposes 8 rows of 8 floats in registers: r[i][j] becomes r[j][i]
inline void transpose8(__m256 r[8]) {
  __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// stores the first `count` (1 to 8) floats of v
inline void store_first(float* dst, __m256 v, int count) {
  if (count >= 8) {
    _mm256_storeu_ps(dst, v);
  } else if (count == 6) {
    _mm_storeu_ps(dst, _mm256_castps256_ps128(v));
    _mm_storel_pi(reinterpret_cast<__m64*>(dst + 4), _mm256_extractf128_ps(v, 1));
  } else {
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(count),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    _mm256_maskstore_ps(dst, mask, v);
  }
}
#endif

}  // namespace CUDALAB_CPU_ISA
}  // namespace cpu
}  // namespace cudalab
