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
// (with at most MC rows the column blocks are 256 wide instead, so packed B
// is used while it is still in L2.) the packing goes through GemmOperands
// (gemm.h), so conv can pack its unrolled input straight from the image, or
// let the micro-kernel read A or B in place through offset tables.
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

#include "cpu/gemm.h"
#include "cpu/parallel.h"
#include "cpu/dispatch.h"

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace cudalab {
namespace cpu {
namespace CUDALAB_CPU_ISA {
namespace {

constexpr int MR = GEMM_MR;  // micro-tile rows
constexpr int NR = GEMM_NR;  // micro-tile columns (two ymm registers)
constexpr int KC = GEMM_KC;  // depth block: a B micro-panel (KC x NR) is 24-32 KiB, fits L1
// row block, a multiple of MR: the packed A block (MC x KC) is 128-180 KiB, in L2.
// the AVX-512 build's 64 rows (4 micro-panels) measured ~5% faster at 4096^3
// than 128 on a Zen 4, one thread by cpu time and two by wall time
constexpr int MC = MR == 16 ? 64 : 120;
static_assert(MC % MR == 0, "a row block holds whole micro-panels");
// column block: the packed B panel (KC x NC) is 1.5-2 MiB, in L3. 1024 rather
// than 2048 measured 3-4% faster at 2048^3 and 4096^3 on a Zen 4 (one thread
// by cpu time and two by wall time, both builds): the A block is re-packed
// twice as often, but the B panel the tiles stream through is half as large
constexpr int NC = 1024;
constexpr int kNarrowNC = 256;  // column block when C has at most kNarrowRows rows
constexpr int kNarrowRows = MR == 16 ? 128 : 120;

// below this many flops a gemm runs on the calling thread: waking the pool
// would cost more than it saves
constexpr double kParallelFlops = 1e6;

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

// how a micro-kernel writes its tile: C[r][j] = alpha*acc + base, where base is
// bias[r] when there is a row bias (first depth block only), else cb*C[r][j]
// (cb = beta for the first depth block, 1 after it), and C is not read when
// cb == 0. only the first `rows` rows and `cols` columns are touched.
struct TileStore {
  float alpha, cb;
  const float* bias;  // MR values, or null
  int rows, cols;
};

// where a micro-kernel reads row p (NR floats) of its B micro-panel: a packed
// panel, or a panel read in place through a table of row offsets
struct PackedB {
  const float* b;
  const float* row(int p) const { return b + p * NR; }
  static constexpr bool aligned = true;
};
struct InPlaceB {
  const float* base;
  const int32_t* offsets;
  const float* row(int p) const { return base + offsets[p]; }
  static constexpr bool aligned = false;
};

// where a micro-kernel reads its A values: a packed micro-panel (a[p*MR + r]),
// or in place, element r of step p at rows[r][depth_offset[p]]
struct PackedA {
  const float* a;
  struct Step {
    const float* at;
    float operator[](int r) const { return at[r]; }
    const float* ptr(int r) const { return at + r; }
  };
  Step step(int p) const { return {a + p * MR}; }
};
struct InPlaceA {
  const float* rows[MR];
  const int32_t* depth_offset;
  struct Step {
    const InPlaceA* self;
    int32_t d;
    const float* ptr(int r) const { return self->rows[r] + d; }
  };
  Step step(int p) const { return {this, depth_offset[p]}; }
};

#if defined(__AVX512F__)
// writes a finished tile (see TileStore): one zmm per row, partial tiles
// through a lane mask
__attribute__((noinline)) void store_tile(const __m512* acc, float* c, int64_t ldc,
                                          const TileStore& st) {
  const __m512 va = _mm512_set1_ps(st.alpha);
  const __m512 vb = _mm512_set1_ps(st.cb);
  const __mmask16 mask = st.cols >= NR ? (__mmask16)0xffff : (__mmask16)((1u << st.cols) - 1);
  for (int r = 0; r < st.rows; r++) {
    float* row = c + r * ldc;
    __m512 v;
    if (st.bias) {
      v = _mm512_fmadd_ps(va, acc[r], _mm512_set1_ps(st.bias[r]));
    } else if (st.cb == 0.0f) {
      v = _mm512_mul_ps(va, acc[r]);
    } else {
      v = _mm512_fmadd_ps(va, acc[r], _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(mask, row)));
    }
    _mm512_mask_storeu_ps(row, mask, v);
  }
}

// the micro-kernel for the first ROWS rows of a tile: acc[r] = sum over
// p < kc of A[r][p] * B[p][0..16), in order of p, one FMA per step, the A
// value broadcast from memory into the FMA itself; then store_tile. (the same
// contract as the AVX2 kernel below.) rows past ROWS are not computed: a
// tile of C with few rows (a conv with 3 or 6 output channels) would
// otherwise cost a whole 16-row tile.
template <int ROWS, class A, class B>
__attribute__((noinline)) void micro_kernel_rows(int kc, const A& a, B b, float* c, int64_t ldc,
                                                 const TileStore& st) {
  // C's rows (a cache line each, on as many pages when ldc is large) are
  // fetched while the loop runs, not when the tile is stored
  for (int r = 0; r < st.rows; r++) _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
  __m512 acc[ROWS];
#pragma GCC unroll 16
  for (int r = 0; r < ROWS; r++) acc[r] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int p = 0; p < kc; p++) {
    const float* br = b.row(p);
    const __m512 bv = B::aligned ? _mm512_load_ps(br) : _mm512_loadu_ps(br);
    const auto as = a.step(p);
    // the packed A panel streams from L2: ask for it 8 steps (8 lines) ahead
    _mm_prefetch(reinterpret_cast<const char*>(as.ptr(0) + 8 * MR), _MM_HINT_T0);
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; r++) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(*as.ptr(r)), bv, acc[r]);
  }
  store_tile(acc, c, ldc, st);
}

// each row's sum is the same whichever variant computes it, so which one runs
// changes no result
template <class A, class B>
inline void micro_kernel(int kc, const A& a, B b, float* c, int64_t ldc, const TileStore& st) {
  if (st.rows <= 4) {
    micro_kernel_rows<4>(kc, a, b, c, ldc, st);
  } else if (st.rows <= 6) {
    micro_kernel_rows<6>(kc, a, b, c, ldc, st);
  } else if (st.rows <= 8) {
    micro_kernel_rows<8>(kc, a, b, c, ldc, st);
  } else if (st.rows <= 12) {
    micro_kernel_rows<12>(kc, a, b, c, ldc, st);
  } else {
    micro_kernel_rows<MR>(kc, a, b, c, ldc, st);
  }
}
#elif defined(__AVX2__)
// writes a finished tile (see TileStore)
__attribute__((noinline)) void store_tile(const __m256 (&acc)[MR][2], float* c, int64_t ldc,
                                          const TileStore& st) {
  const __m256 va = _mm256_set1_ps(st.alpha);
  const __m256 vb = _mm256_set1_ps(st.cb);
  if (st.cols == NR) {
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
      if (r >= st.rows) break;
      float* row = c + r * ldc;
      __m256 lo, hi;
      if (st.bias) {
        const __m256 base = _mm256_set1_ps(st.bias[r]);
        lo = _mm256_fmadd_ps(va, acc[r][0], base);
        hi = _mm256_fmadd_ps(va, acc[r][1], base);
      } else if (st.cb == 0.0f) {
        lo = _mm256_mul_ps(va, acc[r][0]);
        hi = _mm256_mul_ps(va, acc[r][1]);
      } else {
        lo = _mm256_fmadd_ps(va, acc[r][0], _mm256_mul_ps(vb, _mm256_loadu_ps(row)));
        hi = _mm256_fmadd_ps(va, acc[r][1], _mm256_mul_ps(vb, _mm256_loadu_ps(row + 8)));
      }
      _mm256_storeu_ps(row, lo);
      _mm256_storeu_ps(row + 8, hi);
    }
    return;
  }
  // a partial tile: the same arithmetic, through lane masks
  const __m256i limit = _mm256_set1_epi32(st.cols);
  const __m256i m_lo = _mm256_cmpgt_epi32(limit, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const __m256i m_hi = _mm256_cmpgt_epi32(limit, _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15));
  for (int r = 0; r < st.rows; r++) {
    float* row = c + r * ldc;
    __m256 lo, hi;
    if (st.bias) {
      const __m256 base = _mm256_set1_ps(st.bias[r]);
      lo = _mm256_fmadd_ps(va, acc[r][0], base);
      hi = _mm256_fmadd_ps(va, acc[r][1], base);
    } else if (st.cb == 0.0f) {
      lo = _mm256_mul_ps(va, acc[r][0]);
      hi = _mm256_mul_ps(va, acc[r][1]);
    } else {
      lo = _mm256_fmadd_ps(va, acc[r][0], _mm256_mul_ps(vb, _mm256_maskload_ps(row, m_lo)));
      hi = _mm256_fmadd_ps(va, acc[r][1], _mm256_mul_ps(vb, _mm256_maskload_ps(row + 8, m_hi)));
    }
    _mm256_maskstore_ps(row, m_lo, lo);
    _mm256_maskstore_ps(row + 8, m_hi, hi);
  }
}

// the micro-kernel: acc = sum over p < kc of a[p*MR + r] * B[p][j], in order
// of p, one FMA per step; then store_tile. every element of C goes through
// this same arithmetic whatever the tile's position or size, and whether its
// B panel was packed or read in place (the same values either way).
//
// kept out of line: inlined into the driver, the register allocator spilled an
// accumulator to the stack, which puts a store-to-load round trip into that
// accumulator's dependency chain on every step.
template <class A, class B>
__attribute__((noinline)) void micro_kernel(int kc, const A& a, B b, float* c, int64_t ldc,
                                            const TileStore& st) {
  // C's rows fetched early, as in the AVX-512 kernel
  for (int r = 0; r < st.rows; r++) _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
  // twelve named accumulators, so that they stay in registers through the loop
  // (an indexed array here was spilled to the stack on every step)
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int p = 0; p < kc; p++) {
    const float* br = b.row(p);
    const __m256 b0 = B::aligned ? _mm256_load_ps(br) : _mm256_loadu_ps(br);
    const __m256 b1 = B::aligned ? _mm256_load_ps(br + 8) : _mm256_loadu_ps(br + 8);
    const auto as = a.step(p);
    __m256 av = _mm256_broadcast_ss(as.ptr(0));
    c00 = _mm256_fmadd_ps(av, b0, c00);
    c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(as.ptr(1));
    c10 = _mm256_fmadd_ps(av, b0, c10);
    c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(as.ptr(2));
    c20 = _mm256_fmadd_ps(av, b0, c20);
    c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(as.ptr(3));
    c30 = _mm256_fmadd_ps(av, b0, c30);
    c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(as.ptr(4));
    c40 = _mm256_fmadd_ps(av, b0, c40);
    c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(as.ptr(5));
    c50 = _mm256_fmadd_ps(av, b0, c50);
    c51 = _mm256_fmadd_ps(av, b1, c51);
  }
  __m256 acc[MR][2];
  acc[0][0] = c00, acc[0][1] = c01, acc[1][0] = c10, acc[1][1] = c11;
  acc[2][0] = c20, acc[2][1] = c21, acc[3][0] = c30, acc[3][1] = c31;
  acc[4][0] = c40, acc[4][1] = c41, acc[5][0] = c50, acc[5][1] = c51;
  store_tile(acc, c, ldc, st);
}
#else
// portable version: the same sums in the same order; the compiler vectorises
// the j loops
template <class A, class B>
void micro_kernel(int kc, const A& a, B b, float* c, int64_t ldc, const TileStore& st) {
  float acc[MR][NR] = {};
  for (int p = 0; p < kc; p++) {
    const float* br = b.row(p);
    const auto as = a.step(p);
    for (int r = 0; r < MR; r++)
      for (int j = 0; j < NR; j++) acc[r][j] += *as.ptr(r) * br[j];
  }
  for (int r = 0; r < st.rows; r++)
    for (int j = 0; j < st.cols; j++) {
      float* x = c + r * ldc + j;
      if (st.bias) {
        *x = st.alpha * acc[r][j] + st.bias[r];
      } else if (st.cb == 0.0f) {
        *x = st.alpha * acc[r][j];
      } else {
        *x = st.alpha * acc[r][j] + st.cb * *x;
      }
    }
}
#endif

// a tile that straddles two matrices of a segmented C: staged through a
// contiguous MR x NR buffer so that it goes through the same micro-kernel
template <class A, class B>
void staged_tile(int kc, const A& a, B b, const GemmOutput& out, int64_t i, int64_t j,
                 const TileStore& st) {
  alignas(64) float tile[MR * NR];
  auto each_piece = [&](auto fn) {
    for (int r = 0; r < st.rows; r++)
      for (int jj = 0; jj < st.cols;) {
        const int64_t col = j + jj;
        const int len = (int)std::min<int64_t>(st.cols - jj, out.segment - col % out.segment);
        fn(out.at(i + r, col), tile + r * NR + jj, len);
        jj += len;
      }
  };
  if (!st.bias && st.cb != 0.0f)
    each_piece([](float* c, float* t, int len) { std::memcpy(t, c, sizeof(float) * len); });
  micro_kernel(kc, a, b, tile, NR, st);
  each_piece([](float* c, float* t, int len) { std::memcpy(c, t, sizeof(float) * len); });
}

// one tile of C, wherever it lives
template <class A, class B>
inline void tile(int kc, const A& a, B b, const GemmOutput& out, int64_t i, int64_t j,
                 const TileStore& st) {
  if (j / out.segment == (j + st.cols - 1) / out.segment) {
    micro_kernel(kc, a, b, out.at(i, j), out.ldc, st);
  } else {
    staged_tile(kc, a, b, out, i, j, st);
  }
}

// runs the blocked loops over rows [row0, row1) x columns [col0, col1) of C
// (both starting on the tile grid; row1 and col1 may be clipped to m and n)
void gemm_rectangle(int k, float alpha, const GemmOperands& ops, float beta,
                    const GemmOutput& out, int row0, int row1, int col0, int col1) {
  thread_local Scratch packed_a, packed_b;
  const int kc_max = std::min(KC, k);
  float* pa = packed_a.get((size_t)MC * kc_max);
  // with few rows (one or two A blocks) the packed B block is used by few
  // tiles and then dropped: a narrow one stays in L2 from packing to use, and
  // the A block re-packed per column block is small
  const int nc_step = row1 - row0 <= kNarrowRows ? kNarrowNC : NC;
  const int nc_max = std::min(nc_step, (col1 - col0 + NR - 1) / NR * NR);
  float* pb = packed_b.get((size_t)nc_max * kc_max);

  for (int jc = col0; jc < col1; jc += nc_step) {
    const int nc = std::min(nc_step, col1 - jc);
    for (int pc = 0; pc < k; pc += KC) {
      const int kc = std::min(KC, k - pc);
      const float cb = pc == 0 ? beta : 1.0f;
      const bool with_bias = pc == 0 && out.row_bias;
      // B panels read in place need no packing; the rest are packed
      const float* in_place[NC / NR];
      const int32_t* offsets[NC / NR];
      if (ops.reads_b_in_place()) {
        for (int jr = 0; jr < nc; jr += NR) {
          const int t = jr / NR, cols = std::min(NR, nc - jr);
          in_place[t] = nullptr;
          if (cols < NR || !ops.b_in_place(jc + jr, pc, &in_place[t], &offsets[t])) {
            in_place[t] = nullptr;
            ops.pack_b(jc + jr, cols, pc, kc, pb + (int64_t)jr * kc);
          }
        }
      } else {
        for (int jr = 0; jr < nc; jr += NR) in_place[jr / NR] = nullptr;
        ops.pack_b(jc, nc, pc, kc, pb);
      }
      const bool a_in_place = ops.reads_a_in_place();
      for (int ic = row0; ic < row1; ic += MC) {
        const int mc = std::min(MC, row1 - ic);
        if (!a_in_place) ops.pack_a(ic, mc, pc, kc, pa);
        for (int jr = 0; jr < nc; jr += NR) {
          const int t = jr / NR, cols = std::min(NR, nc - jr);
          const int64_t j = jc + jr;
          for (int ir = 0; ir < mc; ir += MR) {
            const TileStore st{alpha, cb, with_bias ? out.row_bias + ic + ir : nullptr,
                               std::min(MR, mc - ir), cols};
            auto with_b = [&](const auto& a) {
              if (in_place[t]) {
                tile(kc, a, InPlaceB{in_place[t], offsets[t]}, out, ic + ir, j, st);
              } else {
                tile(kc, a, PackedB{pb + (int64_t)jr * kc}, out, ic + ir, j, st);
              }
            };
            if (a_in_place) {
              InPlaceA a;
              ops.a_in_place(ic + ir, pc, a.rows, &a.depth_offset);
              with_b(a);
            } else {
              with_b(PackedA{pa + (int64_t)ir * kc});
            }
          }
        }
      }
    }
  }
}

// C = beta*C (or 0 when beta == 0, without reading C; or the row bias): the
// k == 0 and alpha == 0 cases
void scale_c(int m, int n, float beta, const GemmOutput& out) {
  parallel_for(0, m, std::max<int64_t>(1, (1 << 15) / n), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
      for (int64_t j = 0; j < n;) {
        // one matrix's part of the row at a time
        float* row = out.at(i, j);
        const int64_t len = std::min<int64_t>(n - j, out.segment - j % out.segment);
        if (out.row_bias) {
          std::fill(row, row + len, out.row_bias[i]);
        } else if (beta == 0.0f) {
          std::fill(row, row + len, 0.0f);
        } else {
          for (int64_t t = 0; t < len; t++) row[t] = beta * row[t];
        }
        j += len;
      }
    }
  });
}


}  // namespace

// the packers for stored row-major matrices

void pack_a_rows(const float* const* rows, int count, int len, float* out) {
  int p = 0;
#ifdef __AVX2__
  // 8 depth steps at a time: MR rows, 8 at a time (padded with zero rows),
  // transposed in registers
  for (; p + 8 <= len; p += 8) {
    for (int g = 0; g < MR; g += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; i++)
        r[i] = g + i < count && g + i < MR ? _mm256_loadu_ps(rows[g + i] + p) : _mm256_setzero_ps();
      transpose8(r);
      const int lanes = std::min(8, MR - g);
      for (int q = 0; q < 8; q++) store_first(out + (p + q) * MR + g, r[q], lanes);
    }
  }
#endif
  for (; p < len; p++)
    for (int i = 0; i < MR; i++) out[p * MR + i] = i < count ? rows[i][p] : 0.0f;
}

void pack_b_rows(const float* const* rows, int count, int kc, float* out) {
  int p = 0;
#ifdef __AVX2__
  // 8 x 8 blocks transposed in registers
  for (; p + 8 <= kc; p += 8) {
    for (int half = 0; half < 2; half++) {
      __m256 r[8];
      for (int i = 0; i < 8; i++) {
        const int j = half * 8 + i;
        r[i] = j < count ? _mm256_loadu_ps(rows[j] + p) : _mm256_setzero_ps();
      }
      transpose8(r);
      for (int q = 0; q < 8; q++) _mm256_store_ps(out + (p + q) * NR + half * 8, r[q]);
    }
  }
#endif
  for (; p < kc; p++)
    for (int j = 0; j < NR; j++) out[p * NR + j] = j < count ? rows[j][p] : 0.0f;
}

void pack_a_plain(bool trans, const float* a, int64_t lda, int m, int i0, int rows, int p0,
                  int kc, float* out) {
  for (int t = 0; t * MR < rows; t++, out += MR * kc) {
    const int base = i0 + t * MR;
    const int valid = std::max(0, std::min({MR, i0 + rows - base, m - base}));
    if (trans) {
      // stored k x m: a row of storage holds MR consecutive rows of op(A)
      for (int p = 0; p < kc; p++) {
        const float* src = a + (int64_t)(p0 + p) * lda + base;
        float* dst = out + p * MR;
        if (valid == MR) {
          for (int r = 0; r < MR; r++) dst[r] = src[r];
        } else {
          for (int r = 0; r < MR; r++) dst[r] = r < valid ? src[r] : 0.0f;
        }
      }
    } else {
      // stored m x k: MR rows of storage, read side by side
      const float* src[MR];
      for (int r = 0; r < valid; r++) src[r] = a + (int64_t)(base + r) * lda + p0;
      pack_a_rows(src, valid, kc, out);
    }
  }
}

void pack_b_plain(bool trans, const float* b, int64_t ldb, int n, int j0, int cols, int p0,
                  int kc, float* out) {
  for (int t = 0; t * NR < cols; t++, out += NR * kc) {
    const int base = j0 + t * NR;
    const int valid = std::max(0, std::min({NR, j0 + cols - base, n - base}));
    if (!trans) {
      // stored k x n: NR consecutive columns are contiguous
      const float* src = b + (int64_t)p0 * ldb + base;
      if (valid == NR) {
        for (int p = 0; p < kc; p++, src += ldb) {
#ifdef __AVX2__
          _mm256_store_ps(out + p * NR, _mm256_loadu_ps(src));
          _mm256_store_ps(out + p * NR + 8, _mm256_loadu_ps(src + 8));
#else
          for (int j = 0; j < NR; j++) out[p * NR + j] = src[j];
#endif
        }
      } else {
        for (int p = 0; p < kc; p++, src += ldb)
          for (int j = 0; j < NR; j++) out[p * NR + j] = j < valid ? src[j] : 0.0f;
      }
    } else {
      // stored n x k: each column of op(B) is a contiguous row of storage
      const float* src[NR];
      for (int j = 0; j < valid; j++) src[j] = b + (int64_t)(base + j) * ldb + p0;
      pack_b_rows(src, valid, kc, out);
    }
  }
}

void gemm_operands(int m, int n, int k, float alpha, const GemmOperands& ops, float beta,
                   const GemmOutput& out) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) {
    scale_c(m, n, beta, out);
    return;
  }
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
      if (row0 < row1 && col0 < col1)
        gemm_rectangle(k, alpha, ops, beta, out, row0, row1, col0, col1);
    }
  });
}

namespace {
struct PlainOperands final : GemmOperands {
  bool trans_a, trans_b;
  int m, n, k;
  const float* a;
  const float* b;
  PlainOperands(bool ta, bool tb, int m_, int n_, int k_, const float* a_, const float* b_)
      : trans_a(ta), trans_b(tb), m(m_), n(n_), k(k_), a(a_), b(b_) {}
  void pack_a(int i0, int rows, int p0, int kc, float* out) const override {
    pack_a_plain(trans_a, a, trans_a ? m : k, m, i0, rows, p0, kc, out);
  }
  void pack_b(int j0, int cols, int p0, int kc, float* out) const override {
    pack_b_plain(trans_b, b, trans_b ? k : n, n, j0, cols, p0, kc, out);
  }
};
}  // namespace

void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
          const float* b, float beta, float* c) {
  gemm_operands(m, n, k, alpha, PlainOperands(trans_a, trans_b, m, n, k, a, b), beta,
                GemmOutput{c, n});
}

}  // namespace CUDALAB_CPU_ISA
}  // namespace cpu
}  // namespace cudalab
