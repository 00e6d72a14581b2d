// the tiled matrix product every matrix-shaped op runs on: gemm itself and the
// three convolutions (as implicit GEMMs, conv.cu). what differs between them
// is only where operand elements come from and where results go, so the
// kernel takes a loader for A, a loader for B and a store, and the rest -
// tiling, shared memory, the register-blocked inner product - is written once.
//
// the shape: a block of 256 threads computes a BM x BN tile of C. its 8 warps
// sit WM x WN over the tile; a warp's 32 lanes sit 4 x 8 over the warp's
// tile; each thread owns TM x TN outputs (8x8 for 128x128 tiles), split into
// two halves in each direction so that lanes read shared memory in
// contiguous, conflict-free vectors. the K dimension goes by in steps of BK:
// each step's A and B tiles are fetched into registers while the previous
// step's are being multiplied out of shared memory (double buffering, one
// barrier per step).
//
// precision: every output is one float accumulator, updated with fmaf in
// increasing k order, so the result is that of a sequential-K FMA reference.
//
// split-K: when the output has too few tiles to occupy the device (a linear
// layer's forward with a small batch, a convolution's weight gradient), K is
// cut into fixed chunks, one block per (tile, chunk) writes its partial tile
// to a workspace, and sum_partials() adds the chunks in order 0, 1, 2, ... in
// double. the chunk count depends only on the shape and the multiprocessor
// count, so results repeat bit for bit on one GPU.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "cuda/context.cuh"

namespace cudalab {
namespace cuda {
namespace tiled {

constexpr int kThreads = 256;
constexpr int kPad = 4;  // floats of padding per shared row: no bank conflicts on transposed stores

// operand loaders provide
//   static constexpr bool k_contiguous;  // which index is contiguous in memory
//   void fetch4(int batch, int outer, int extent, int k, int k_end, float (&v)[4]) const;
// fetch4 reads 4 consecutive elements, (outer, k..k+3) when k_contiguous and
// (outer..outer+3, k) otherwise; outer indexes rows of C for A and columns of
// C for B. elements with outer >= extent or k >= k_end read as 0.
//
// stores provide
//   template <int NV> void store(int batch, int split, int row, int col, const float* v) const;
// writing v[0..NV) to C(row, col..col+NV), skipping what lies outside C.

// a thread's share of a tile: GROUPS runs of 4 elements, laid out so that
// consecutive threads read consecutive memory
template <int OUTER, int BK, bool KContig>
__device__ __forceinline__ void tile_position(int group, int& outer, int& k) {
  int e = group * kThreads + (int)threadIdx.x;
  if (KContig) {
    outer = e / (BK / 4);
    k = (e % (BK / 4)) * 4;
  } else {
    k = e / (OUTER / 4);
    outer = (e % (OUTER / 4)) * 4;
  }
}

template <int OUTER, int BK, int GROUPS, class Loader>
__device__ __forceinline__ void fetch_tile(const Loader& l, int batch, int outer0, int extent, int k0,
                                           int k_end, float (&r)[GROUPS][4]) {
#pragma unroll
  for (int g = 0; g < GROUPS; ++g) {
    int outer, k;
    tile_position<OUTER, BK, Loader::k_contiguous>(g, outer, k);
    l.fetch4(batch, outer0 + outer, extent, k0 + k, k_end, r[g]);
  }
}

// shared tiles are k-major (s[k][outer]) whichever way the operand is stored
template <int OUTER, int BK, int GROUPS, bool KContig>
__device__ __forceinline__ void stash_tile(float (*s)[OUTER + kPad], const float (&r)[GROUPS][4]) {
#pragma unroll
  for (int g = 0; g < GROUPS; ++g) {
    int outer, k;
    tile_position<OUTER, BK, KContig>(g, outer, k);
    if (KContig) {
#pragma unroll
      for (int j = 0; j < 4; ++j) s[k + j][outer] = r[g][j];
    } else {
      *reinterpret_cast<float4*>(&s[k][outer]) = make_float4(r[g][0], r[g][1], r[g][2], r[g][3]);
    }
  }
}

template <int N>
__device__ __forceinline__ void load_shared(const float* p, float* out) {
  if constexpr (N == 4) {
    float4 v = *reinterpret_cast<const float4*>(p);
    out[0] = v.x, out[1] = v.y, out[2] = v.z, out[3] = v.w;
  } else if constexpr (N == 2) {
    float2 v = *reinterpret_cast<const float2*>(p);
    out[0] = v.x, out[1] = v.y;
  } else {
#pragma unroll
    for (int i = 0; i < N; ++i) out[i] = p[i];
  }
}

template <int BM, int BN, int BK, int WM, int WN, class LoadA, class LoadB, class Store>
__global__ void __launch_bounds__(kThreads, 2)
    gemm_tiles(int M, int N, int K, int k_splits, LoadA load_a, LoadB load_b, Store store) {
  static_assert(WM * WN * 32 == kThreads, "8 warps");
  constexpr int WTM = BM / WM, WTN = BN / WN;  // a warp's tile
  constexpr int TM = WTM / 4, TN = WTN / 8;    // a thread's outputs (lanes are 4 x 8)
  constexpr int HM = TM / 2, HN = TN / 2;      // ... in two halves each way
  constexpr int A_GROUPS = BM * BK / (4 * kThreads), B_GROUPS = BN * BK / (4 * kThreads);
  static_assert(HM >= 1 && HN >= 1 && A_GROUPS >= 1 && B_GROUPS >= 1, "tile too small for 256 threads");
  static_assert(A_GROUPS * 4 * kThreads == BM * BK && B_GROUPS * 4 * kThreads == BN * BK, "uneven tile");

  __shared__ __align__(16) float As[2][BK][BM + kPad];
  __shared__ __align__(16) float Bs[2][BK][BN + kPad];

  // grouped raster order: consecutive blocks walk down 8 tile rows before
  // moving right, so the A and B panels in use at once stay in L2
  const int tiles_m = (M + BM - 1) / BM, tiles_n = (N + BN - 1) / BN;
  constexpr int GROUP = 8;
  const int pid = blockIdx.x;
  const int width = GROUP * tiles_n;
  const int first_m = (pid / width) * GROUP;
  const int group_m = min(tiles_m - first_m, GROUP);
  const int m0 = (first_m + (pid % width) % group_m) * BM;
  const int n0 = ((pid % width) / group_m) * BN;

  const int batch = blockIdx.z / k_splits, split = blockIdx.z % k_splits;
  const int k_chunk = ((K + k_splits - 1) / k_splits + BK - 1) / BK * BK;
  const int k_begin = min(K, split * k_chunk);
  const int k_end = min(K, k_begin + k_chunk);
  const int k_tiles = (k_end - k_begin + BK - 1) / BK;

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row_base = (warp / WN) * WTM + (lane / 8) * HM;  // + h*WTM/2 + i
  const int col_base = (warp % WN) * WTN + (lane % 8) * HN;  // + h*WTN/2 + j

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;

  float ra[A_GROUPS][4], rb[B_GROUPS][4];
  if (k_tiles > 0) {
    fetch_tile<BM, BK, A_GROUPS>(load_a, batch, m0, M, k_begin, k_end, ra);
    fetch_tile<BN, BK, B_GROUPS>(load_b, batch, n0, N, k_begin, k_end, rb);
    stash_tile<BM, BK, A_GROUPS, LoadA::k_contiguous>(As[0], ra);
    stash_tile<BN, BK, B_GROUPS, LoadB::k_contiguous>(Bs[0], rb);
    __syncthreads();
  }
  for (int t = 0; t < k_tiles; ++t) {
    const int cur = t & 1;
    const bool more = t + 1 < k_tiles;
    if (more) {  // next step's tiles travel from memory while this one is multiplied
      const int k0 = k_begin + (t + 1) * BK;
      fetch_tile<BM, BK, A_GROUPS>(load_a, batch, m0, M, k0, k_end, ra);
      fetch_tile<BN, BK, B_GROUPS>(load_b, batch, n0, N, k0, k_end, rb);
    }
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      float a[TM], b[TN];
      load_shared<HM>(&As[cur][kk][row_base], a);
      load_shared<HM>(&As[cur][kk][row_base + WTM / 2], a + HM);
      load_shared<HN>(&Bs[cur][kk][col_base], b);
      load_shared<HN>(&Bs[cur][kk][col_base + WTN / 2], b + HN);
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    if (more) {
      // the other buffer was last read in step t-1, which every thread has
      // left (the barrier at its end)
      stash_tile<BM, BK, A_GROUPS, LoadA::k_contiguous>(As[cur ^ 1], ra);
      stash_tile<BN, BK, B_GROUPS, LoadB::k_contiguous>(Bs[cur ^ 1], rb);
    }
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int row = m0 + row_base + (i / HM) * (WTM / 2) + i % HM;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int col = n0 + col_base + h * (WTN / 2);
      store.template store<HN>(batch, split, row, col, &acc[i][h * HN]);
    }
  }
}

// the tile shapes: 128x128 (8x8 per thread) for large products, 64x128
// (8x4 per thread) where M is small or 128x128 tiles would leave SMs idle,
// and 32x32 (2x2 per thread) for split-K products whose whole output is
// about that size (a first convolution's weight gradient: 16 x 27)
struct BigTile {
  static constexpr int BM = 128, BN = 128, BK = 8, WM = 4, WN = 2;
};
struct SmallTile {
  static constexpr int BM = 64, BN = 128, BK = 16, WM = 2, WN = 4;
};
struct TinyTile {
  static constexpr int BM = 32, BN = 32, BK = 32, WM = 4, WN = 2;
};

template <class Tile>
int64_t tile_count(int M, int N) {
  return (int64_t)((M + Tile::BM - 1) / Tile::BM) * ((N + Tile::BN - 1) / Tile::BN);
}

template <class Tile, class LoadA, class LoadB, class Store>
void launch_with(int M, int N, int K, int batches, int k_splits, const LoadA& a, const LoadB& b,
                 const Store& s, const char* what) {
  if (M <= 0 || N <= 0 || batches <= 0) return;
  int64_t tiles = (int64_t)((M + Tile::BM - 1) / Tile::BM) * ((N + Tile::BN - 1) / Tile::BN);
  int64_t depth = (int64_t)batches * k_splits;
  if (tiles > 0x7fffffff || depth > 65535)
    throw Error("ERR_ARG", std::string(what) + ": the product is too large for one launch");
  dim3 grid((unsigned)tiles, 1, (unsigned)depth);
  gemm_tiles<Tile::BM, Tile::BN, Tile::BK, Tile::WM, Tile::WN>
      <<<grid, kThreads, 0, stream()>>>(M, N, K, k_splits, a, b, s);
  CUDA_CHECK_LAUNCH(what);
}

// picks the tile shape for C = A*B (M x N, reduction K), `batches` products
// of that shape, each cut into k_splits chunks of K
template <class LoadA, class LoadB, class Store>
void launch(int M, int N, int K, int batches, int k_splits, const LoadA& a, const LoadB& b, const Store& s,
            const char* what) {
  int64_t big_tiles = (int64_t)((M + 127) / 128) * ((N + 127) / 128) * batches * k_splits;
  if (M > 64 && big_tiles >= multiprocessors())
    launch_with<BigTile>(M, N, K, batches, k_splits, a, b, s, what);
  else
    launch_with<SmallTile>(M, N, K, batches, k_splits, a, b, s, what);
}

// how a product is cut along K: `splits` chunks on the tiny or the small tile
struct SplitPlan {
  int splits;  // 1: no split
  bool tiny;
};

// about one block per multiprocessor, each chunk at least two steps of BK.
// per step of k a tiny tile costs about half a small one (its threads hold
// 2x2 outputs, so shared-memory loads, not FMAs, set its pace), hence the
// tiny tile only where it has fewer than twice the small tile's count.
inline SplitPlan plan_split(int M, int N, int K) {
  if (M <= 0 || N <= 0 || K <= 0) return SplitPlan{1, false};
  const int64_t small = tile_count<SmallTile>(M, N), tiny = tile_count<TinyTile>(M, N);
  const bool use_tiny = tiny < 2 * small;
  const int64_t tiles = use_tiny ? tiny : small;
  const int bk = use_tiny ? TinyTile::BK : SmallTile::BK;
  int64_t splits = multiprocessors() / tiles;
  splits = std::min<int64_t>(splits, K / (2 * bk));
  splits = std::min<int64_t>(splits, 65535);
  if (splits < 2) return SplitPlan{1, false};
  // whole steps per chunk, and no chunk left empty: the kernel recomputes the
  // same chunk length from K and the count (gemm_tiles, k_chunk)
  const int64_t chunk = ((K + splits - 1) / splits + bk - 1) / bk * bk;
  return SplitPlan{(int)((K + chunk - 1) / chunk), use_tiny};
}

template <class LoadA, class LoadB, class Store>
void launch_split(const SplitPlan& plan, int M, int N, int K, const LoadA& a, const LoadB& b, const Store& s,
                  const char* what) {
  if (plan.tiny)
    launch_with<TinyTile>(M, N, K, 1, plan.splits, a, b, s, what);
  else
    launch_with<SmallTile>(M, N, K, 1, plan.splits, a, b, s, what);
}

// split-K partial tiles: chunk `split`'s C(row, col) at out[(split*M + row)*ld + col].
// ld is a multiple of 4, so the pairs and quads a thread stores are aligned.
struct PartialStore {
  float* out;
  int M, N, ld;

  template <int NV>
  __device__ __forceinline__ void store(int, int split, int row, int col, const float* v) const {
    if (row >= M) return;
    float* p = out + ((int64_t)split * M + row) * ld + col;
    if (NV == 4 && col + 3 < N) {
      *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
    } else if (NV == 2 && col + 1 < N) {
      *reinterpret_cast<float2*>(p) = make_float2(v[0], v[1]);
    } else {
#pragma unroll
      for (int j = 0; j < NV; ++j)
        if (col + j < N) p[j] = v[j];
    }
  }
};

// the partials' leading dimension for N columns
inline int partial_ld(int N) { return (N + 3) / 4 * 4; }

// C(row, col) = alpha * (sum over chunks, in order, of partial[chunk][row][col]) + beta * C(row, col)
// for row < rows, col < cols; partial is splits x rows x ldp, C has leading
// dimension ldc and is not read when beta == 0 (gemm.cu)
void sum_partials(int rows, int cols, int ldp, int splits, const float* partial, float alpha, float beta,
                  float* c, int64_t ldc, const char* what);

// a dense row-major operand: element (outer, k) at p[outer*ld + k] when
// KContig (A as stored m*k, B stored n*k), at p[k*ld + outer] otherwise
template <bool KContig>
struct MatrixLoader {
  static constexpr bool k_contiguous = KContig;
  const float* p;
  int64_t ld, batch_stride;
  bool vec;  // p and batch_stride 16-byte aligned, ld a multiple of 4: float4 loads

  __device__ __forceinline__ void fetch4(int batch, int outer, int extent, int k, int k_end,
                                         float (&v)[4]) const {
    const float* base = p + batch * batch_stride;
    if (KContig) {
      if (outer < extent) {
        const float* row = base + (int64_t)outer * ld;
        if (vec && k + 3 < k_end) {
          float4 t = __ldg(reinterpret_cast<const float4*>(row + k));
          v[0] = t.x, v[1] = t.y, v[2] = t.z, v[3] = t.w;
        } else {
#pragma unroll
          for (int j = 0; j < 4; ++j) v[j] = k + j < k_end ? __ldg(row + k + j) : 0.0f;
        }
      } else {
        v[0] = v[1] = v[2] = v[3] = 0.0f;
      }
    } else {
      if (k < k_end) {
        const float* row = base + (int64_t)k * ld;
        if (vec && outer + 3 < extent) {
          float4 t = __ldg(reinterpret_cast<const float4*>(row + outer));
          v[0] = t.x, v[1] = t.y, v[2] = t.z, v[3] = t.w;
        } else {
#pragma unroll
          for (int j = 0; j < 4; ++j) v[j] = outer + j < extent ? __ldg(row + outer + j) : 0.0f;
        }
      } else {
        v[0] = v[1] = v[2] = v[3] = 0.0f;
      }
    }
  }
};

}  // namespace tiled
}  // namespace cuda
}  // namespace cudalab
