// 2-d convolution on the cpu as gemm over the unrolled image (im2col), with
// the unrolling done inside gemm's packing step (gemm.h), so the im2col matrix
// is never written out in full.
//
// the whole batch is one gemm, its columns running over (image, p, q):
//   col(x)   the c*r*s x n*p*q unrolled input: element (ci*r*s + ky*s + kx,
//            (img*p + oh)*q + ow) = x[img][ci][oh*stride - pad + ky][ow*stride - pad + kx]
//            (zero in the padding)
//   dy       read as a k x n*p*q matrix
//
// forward:          y  = w (k x crs) * col(x)          (+ bias, in gemm's store)
// backward weight:  dw = dy * col(x)^T, or its transpose dw^T = col(x) * dy^T,
//                   whichever fits the tile grid better (the batch is gemm's k)
// backward input:   dx = col2im(w^T (crs x k) * dy)     (a group of images at a
//                        time, so the unrolled gradient stays small), or, with
//                        unit stride and shapes that suit it, the forward
//                        convolution of dy with the flipped kernel
//
// the packers read col(x) straight from x: 8 or 16 neighbouring pixels of an
// input row at a time where the columns allow it (stride 1, within one output
// row), AVX2 gathers elsewhere, register transposes where gemm wants col(x)^T.
//
// determinism: y, dw and the unrolled gradient are gemm outputs (one thread
// per element, fixed summation order; see gemm.cc). the batch reduction of dw
// is gemm's k loop, in order; col2im adds each image's unrolled gradient in a
// fixed (ky, kx, oh, ow) order; db sums each plane in order, then the images in
// order. so nothing depends on the thread count.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

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

constexpr int MR = GEMM_MR;
constexpr int NR = GEMM_NR;

// gathers and in-place reads address the input with 32-bit offsets; larger
// inputs take the packing paths. a build can lower the limit to run those
// paths on small shapes: EXTRA_FLAGS=-DCUDALAB_CONV_OFFSET_LIMIT=0 bench/cpu/build.sh
#ifndef CUDALAB_CONV_OFFSET_LIMIT
#define CUDALAB_CONV_OFFSET_LIMIT ((int64_t)1 << 31)
#endif
constexpr int64_t kOffsetLimit = CUDALAB_CONV_OFFSET_LIMIT;

// the geometry of the batch's unrolled columns
struct Columns {
  const ConvShape& s;
  int64_t pq, chw, hw;
  explicit Columns(const ConvShape& shape)
      : s(shape),
        pq((int64_t)shape.p * shape.q),
        chw((int64_t)shape.c * shape.h * shape.w),
        hw((int64_t)shape.h * shape.w) {}
  int64_t count() const { return (int64_t)s.n * pq; }
  int64_t crs() const { return (int64_t)s.c * s.r * s.s; }
};

// a run of consecutive columns that share one image and one output row, so
// that (for stride 1) they read consecutive input pixels
struct Run {
  int offset;  // first column, relative to where the walk started
  int len;
  int64_t image;  // offset of the image in x (or in dy)
  int ih0, iw0;   // input coordinates of the first column for ky = kx = 0
};

// splits columns [j, j + len) into runs; returns how many (at most len)
int split_runs(const Columns& g, int64_t j, int len, int64_t image_stride, Run* runs) {
  int count = 0;
  for (int off = 0; off < len;) {
    const int64_t col = j + off;
    const int64_t img = col / g.pq, pos = col - img * g.pq;
    const int oh = (int)(pos / g.s.q), ow = (int)(pos - (int64_t)oh * g.s.q);
    const int n = std::min(len - off, g.s.q - ow);
    runs[count++] = {off, n, img * image_stride, oh * g.s.stride_h - g.s.pad_h,
                     ow * g.s.stride_w - g.s.pad_w};
    off += n;
  }
  return count;
}

// the unrolled row index ci*r*s + ky*s + kx, stepped one at a time
struct Tap {
  int ci, ky, kx;
  Tap(const ConvShape& s, int64_t row)
      : ci((int)(row / ((int64_t)s.r * s.s))),
        ky((int)(row / s.s % s.r)),
        kx((int)(row % s.s)) {}
  void next(const ConvShape& s) {
    if (++kx == s.s) {
      kx = 0;
      if (++ky == s.r) {
        ky = 0;
        ci++;
      }
    }
  }
};

// dst[0..len) = one run of an unrolled row: input row ih of plane `plane`,
// columns iw, iw + stride, ... with zeros outside the image
inline void copy_run(const ConvShape& s, const float* plane, int ih, int iw, int len,
                     float* dst) {
  if (ih < 0 || ih >= s.h) {
    std::fill(dst, dst + len, 0.0f);
    return;
  }
  const float* row = plane + (int64_t)ih * s.w;
  if (s.stride_w == 1) {
    // valid l: 0 <= iw + l < w
    const int lo = std::min(len, std::max(0, -iw));
    const int hi = std::max(lo, std::min(len, s.w - iw));
    std::fill(dst, dst + lo, 0.0f);
    std::memcpy(dst + lo, row + iw + lo, sizeof(float) * (hi - lo));
    std::fill(dst + hi, dst + len, 0.0f);
  } else {
    for (int l = 0; l < len; l++) {
      const int x = iw + l * s.stride_w;
      dst[l] = x >= 0 && x < s.w ? row[x] : 0.0f;
    }
  }
}

#ifdef __AVX2__
// 8 consecutive pixels of input row ih starting at column iw (stride 1), with
// zeros outside the image. masked loads never touch the lanes outside it.
inline __m256 load8(const ConvShape& s, const float* plane, int ih, int iw) {
  if (ih < 0 || ih >= s.h) return _mm256_setzero_ps();
  const float* row = plane + (int64_t)ih * s.w;
  if (iw >= 0 && iw + 8 <= s.w) return _mm256_loadu_ps(row + iw);
  // lane l is valid when 0 <= iw + l < w, i.e. (iw + l > -1) and (w > iw + l)
  const __m256i x = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                     _mm256_set1_epi32(iw));
  const __m256i mask = _mm256_and_si256(_mm256_cmpgt_epi32(x, _mm256_set1_epi32(-1)),
                                        _mm256_cmpgt_epi32(_mm256_set1_epi32(s.w), x));
  const float* base = reinterpret_cast<const float*>(reinterpret_cast<uintptr_t>(row) +
                                                     (intptr_t)iw * (intptr_t)sizeof(float));
  return _mm256_maskload_ps(base, mask);
}

inline void load16(const ConvShape& s, const float* plane, int ih, int iw, float* dst) {
  _mm256_store_ps(dst, load8(s, plane, ih, iw));
  _mm256_store_ps(dst + 8, load8(s, plane, ih, iw + 8));
}

// 8 arbitrary columns of col(x), for any stride and any split across output
// rows and images: per lane, the column's image offset (from a base pointer)
// and its input coordinates for ky = kx = 0. lanes past the end never load.
struct Lanes8 {
  __m256i image, ih0, iw0;
};

inline Lanes8 lanes8(const Columns& g, int64_t col, int count, int64_t base_image) {
  alignas(32) int32_t image[8], ih0[8], iw0[8];
  int64_t img = col / g.pq;
  const int64_t pos = col - img * g.pq;
  int oh = (int)(pos / g.s.q), ow = (int)(pos - (int64_t)oh * g.s.q);
  for (int l = 0; l < 8; l++) {
    if (l < count) {
      image[l] = (int32_t)((img - base_image) * g.chw);
      ih0[l] = oh * g.s.stride_h - g.s.pad_h;
      iw0[l] = ow * g.s.stride_w - g.s.pad_w;
      if (++ow == g.s.q) {
        ow = 0;
        if (++oh == g.s.p) {
          oh = 0;
          img++;
        }
      }
    } else {
      image[l] = 0;
      ih0[l] = -(1 << 29);  // far outside the image: the lane is masked off
      iw0[l] = 0;
    }
  }
  return {_mm256_load_si256(reinterpret_cast<const __m256i*>(image)),
          _mm256_load_si256(reinterpret_cast<const __m256i*>(ih0)),
          _mm256_load_si256(reinterpret_cast<const __m256i*>(iw0))};
}

// the 8 columns' values for one tap, zeros in the padding
inline __m256 gather8(const ConvShape& s, const float* base, const Lanes8& l, int32_t plane,
                      int ky, int kx) {
  const __m256i minus1 = _mm256_set1_epi32(-1);
  const __m256i h = _mm256_set1_epi32(s.h), w = _mm256_set1_epi32(s.w);
  const __m256i ih = _mm256_add_epi32(l.ih0, _mm256_set1_epi32(ky));
  const __m256i iw = _mm256_add_epi32(l.iw0, _mm256_set1_epi32(kx));
  const __m256i rows_in =
      _mm256_and_si256(_mm256_cmpgt_epi32(ih, minus1), _mm256_cmpgt_epi32(h, ih));
  const __m256i cols_in =
      _mm256_and_si256(_mm256_cmpgt_epi32(iw, minus1), _mm256_cmpgt_epi32(w, iw));
  const __m256i inside = _mm256_and_si256(rows_in, cols_in);
  // masked-off lanes may compute any index: they are never loaded
  const __m256i index = _mm256_add_epi32(_mm256_add_epi32(l.image, _mm256_set1_epi32(plane)),
                                         _mm256_add_epi32(_mm256_mullo_epi32(ih, w), iw));
  return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), base, index, _mm256_castsi256_ps(inside),
                                  4);
}

// gathers index a span of up to 16 images with 32-bit offsets
bool gathers_fit(const Columns& g) { return 17 * g.chw < kOffsetLimit; }
#endif

// x with its zero padding written out (n x c x hp x wp), or x itself when
// there is no padding: with unit stride along w, 16 neighbouring columns of
// col(x) in one output row are then 16 consecutive floats of it, for every tap,
// and gemm reads its B panels in place (no packing) through a tap offset table
struct PaddedInput {
  const float* data = nullptr;  // null: not used
  int hp = 0, wp = 0;
  std::vector<int32_t> tap_offset;  // ci*hp*wp + ky*wp + kx, per unrolled row

  PaddedInput() = default;  // not used
  // for_rows: the caller reads whole rows of 16 columns (needs unit stride
  // along w and output rows at least 16 wide); otherwise single values
  PaddedInput(const ConvShape& s, const float* x, bool for_rows) {
    if (for_rows && (s.stride_w != 1 || s.q < NR)) return;
    hp = s.h + 2 * s.pad_h;
    wp = s.w + 2 * s.pad_w;
    const int64_t plane = (int64_t)hp * wp, planes = (int64_t)s.n * s.c;
    if (plane * s.c >= kOffsetLimit) return;
    if (s.pad_h == 0 && s.pad_w == 0) {
      data = x;
    } else {
      float* padded = buffer(planes * plane);
      parallel_for(0, planes, std::max<int64_t>(1, (1 << 14) / plane), [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; i++) {
          float* dst = padded + i * plane;
          const float* src = x + i * s.h * s.w;
          std::fill(dst, dst + (int64_t)s.pad_h * wp, 0.0f);
          for (int row = 0; row < s.h; row++) {
            float* d = dst + (int64_t)(row + s.pad_h) * wp;
            std::fill(d, d + s.pad_w, 0.0f);
            std::memcpy(d + s.pad_w, src + (int64_t)row * s.w, sizeof(float) * s.w);
            std::fill(d + s.pad_w + s.w, d + wp, 0.0f);
          }
          std::fill(dst + (int64_t)(s.pad_h + s.h) * wp, dst + plane, 0.0f);
        }
      });
      data = padded;
    }
    tap_offset.resize((size_t)s.c * s.r * s.s);
    for (int ci = 0, t = 0; ci < s.c; ci++)
      for (int ky = 0; ky < s.r; ky++)
        for (int kx = 0; kx < s.s; kx++) tap_offset[t++] = (int32_t)(ci * plane + ky * wp + kx);
  }

  // the calling thread's buffer, kept between calls
  static float* buffer(int64_t floats) {
    thread_local std::vector<float> b;
    if ((int64_t)b.size() < floats) {
      b.clear();
      b.shrink_to_fit();
      b.resize(floats);
    }
    return b.data();
  }
};

// y = w * col(x): A is w (plain), B is col(x), read in place from the padded
// input where it can be, else packed straight from x
struct ForwardOperands final : GemmOperands {
  Columns g;
  const float* x;
  const float* w;
  const PaddedInput& padded;
  ForwardOperands(const ConvShape& s, const float* x_, const float* w_, const PaddedInput& p)
      : g(s), x(x_), w(w_), padded(p) {}

  bool reads_b_in_place() const override { return padded.data != nullptr; }

  bool b_in_place(int j0, int p0, const float** base, const int32_t** offsets) const override {
    const ConvShape& s = g.s;
    const int64_t img = j0 / g.pq, pos = j0 - img * g.pq;
    const int oh = (int)(pos / s.q), ow = (int)(pos - (int64_t)oh * s.q);
    if (ow + NR > s.q) return false;  // the panel wraps onto the next output row
    // padded row oh*stride + ky, padded column ow + kx
    *base = padded.data + img * s.c * ((int64_t)padded.hp * padded.wp) +
            (int64_t)oh * s.stride_h * padded.wp + ow;
    *offsets = padded.tap_offset.data() + p0;
    return true;
  }

  void pack_a(int i0, int rows, int p0, int kc, float* out) const override {
    pack_a_plain(false, w, g.crs(), g.s.k, i0, rows, p0, kc, out);
  }

  // depth p0.. are unrolled rows (taps), columns j0.. are output positions
  void pack_b(int j0, int cols, int p0, int kc, float* out) const override {
    const ConvShape& s = g.s;
    for (int t = 0; t * NR < cols; t++, out += (int64_t)NR * kc) {
      const int64_t base = (int64_t)j0 + t * NR;
      const int valid = (int)std::min<int64_t>(std::min(NR, cols - t * NR), g.count() - base);
      Run runs[NR];
      const int nruns = split_runs(g, base, valid, g.chw, runs);
      Tap tap(s, p0);
#ifdef __AVX2__
      if (nruns == 1 && valid == NR && s.stride_w == 1) {
        const float* img = x + runs[0].image;
        for (int p = 0; p < kc; p++, tap.next(s))
          load16(s, img + tap.ci * g.hw, runs[0].ih0 + tap.ky, runs[0].iw0 + tap.kx, out + p * NR);
        continue;
      }
      if (gathers_fit(g)) {
        const int64_t first_image = base / g.pq;
        const float* img = x + first_image * g.chw;
        const Lanes8 lo = lanes8(g, base, std::min(valid, 8), first_image);
        const Lanes8 hi = lanes8(g, base + 8, std::max(valid - 8, 0), first_image);
        for (int p = 0; p < kc; p++, tap.next(s)) {
          const int32_t plane = (int32_t)(tap.ci * g.hw);
          _mm256_store_ps(out + p * NR, gather8(s, img, lo, plane, tap.ky, tap.kx));
          _mm256_store_ps(out + p * NR + 8, gather8(s, img, hi, plane, tap.ky, tap.kx));
        }
        continue;
      }
#endif
      for (int p = 0; p < kc; p++, tap.next(s)) {
        float* dst = out + p * NR;
        for (int r = 0; r < nruns; r++) {
          const Run& run = runs[r];
          copy_run(s, x + run.image + tap.ci * g.hw, run.ih0 + tap.ky, run.iw0 + tap.kx, run.len,
                   dst + run.offset);
        }
        std::fill(dst + valid, dst + NR, 0.0f);
      }
    }
  }
};

// up to 8 consecutive taps (unrolled rows) of col(x)
struct TapSet {
  int count = 0;
  int32_t plane[8];
  int ky[8], kx[8];
  TapSet(const ConvShape& s, const Columns& g, int64_t first, int n) : count(n) {
    Tap tap(s, first);
    for (int i = 0; i < n; i++, tap.next(s)) {
      plane[i] = (int32_t)(tap.ci * g.hw);
      ky[i] = tap.ky;
      kx[i] = tap.kx;
    }
  }
};

#ifdef __AVX2__
// an 8 x 8 block of col(x): taps x (columns col .. col + npos), transposed, so
// that v[q] holds the taps' values at column col + q. taps past taps.count and
// columns past npos are zeros.
inline void unrolled_block(const Columns& g, const float* x, const TapSet& taps, int64_t col,
                           int npos, __m256 v[8]) {
  const ConvShape& s = g.s;
  const int64_t img = col / g.pq, pos = col - img * g.pq;
  const int oh = (int)(pos / s.q), ow = (int)(pos - (int64_t)oh * s.q);
  const float* base = x + img * g.chw;
  if (s.stride_w == 1 && npos == 8 && ow + 8 <= s.q) {
    // one output row: 8 neighbouring pixels per tap
    const int ih0 = oh * s.stride_h - s.pad_h, iw0 = ow - s.pad_w;
    for (int i = 0; i < 8; i++)
      v[i] = i < taps.count ? load8(s, base + taps.plane[i], ih0 + taps.ky[i], iw0 + taps.kx[i])
                            : _mm256_setzero_ps();
  } else if (gathers_fit(g)) {
    const Lanes8 lanes = lanes8(g, col, npos, img);
    for (int i = 0; i < 8; i++)
      v[i] = i < taps.count ? gather8(s, base, lanes, taps.plane[i], taps.ky[i], taps.kx[i])
                            : _mm256_setzero_ps();
  } else {
    alignas(32) float block[8][8] = {};
    for (int q = 0; q < npos; q++) {
      const int64_t c = col + q, im = c / g.pq, ps = c - im * g.pq;
      const int ih0 = (int)(ps / s.q) * s.stride_h - s.pad_h;
      const int iw0 = (int)(ps % s.q) * s.stride_w - s.pad_w;
      for (int i = 0; i < taps.count; i++) {
        const int ih = ih0 + taps.ky[i], iw = iw0 + taps.kx[i];
        if (ih >= 0 && ih < s.h && iw >= 0 && iw < s.w)
          block[i][q] = x[im * g.chw + taps.plane[i] + (int64_t)ih * s.w + iw];
      }
    }
    for (int i = 0; i < 8; i++) v[i] = _mm256_load_ps(block[i]);
  }
  transpose8(v);
}
#endif

// the weight gradient as a gemm whose depth is the batch's n*p*q output
// positions, so the batch sum is gemm's k loop. it runs one of two ways round,
// whichever pads less to the MR x NR tile grid:
//   transposed: dw^T (crs x k) = col(x) * dy^T   (many taps; k a multiple of 16)
//   plain:      dw   (k x crs) = dy * col(x)^T   (few output channels, e.g. 6)
//
// A is read in place when a column offset table is given: col(x) from the
// padded input (transposed), or dy itself (plain); column (img, oh, ow) of
// the depth is at column_offset[(img*p + oh)*q + ow] from the row's start.
struct WeightOperands final : GemmOperands {
  Columns g;
  const float* x;
  const float* dy;
  bool transposed;
  const PaddedInput* padded;      // transposed, A in place: taps of the padded x
  const int32_t* column_offset;  // null: A is packed
  WeightOperands(const ConvShape& s, const float* x_, const float* dy_, bool transposed_,
                 const PaddedInput* padded_, const int32_t* column_offset_)
      : g(s), x(x_), dy(dy_), transposed(transposed_), padded(padded_),
        column_offset(column_offset_) {}

  bool reads_a_in_place() const override { return column_offset != nullptr; }
  void a_in_place(int i0, int p0, const float** rows, const int32_t** depth) const override {
    for (int r = 0; r < MR; r++) {
      if (transposed) {
        const int64_t tap = std::min<int64_t>(i0 + r, g.crs() - 1);
        rows[r] = padded->data + padded->tap_offset[tap];
      } else {
        rows[r] = dy + (int64_t)std::min(i0 + r, g.s.k - 1) * g.pq;
      }
    }
    *depth = column_offset + p0;
  }

  void pack_a(int i0, int rows, int p0, int kc, float* out) const override {
    if (transposed) {
      pack_taps(i0, rows, p0, kc, MR, out);
    } else {
      pack_channels(i0, rows, p0, kc, MR, out);
    }
  }
  void pack_b(int j0, int cols, int p0, int kc, float* out) const override {
    if (transposed) {
      pack_channels(j0, cols, p0, kc, NR, out);
    } else {
      pack_taps(j0, cols, p0, kc, NR, out);
    }
  }

  // micro-panels `width` taps wide (MR for A, NR for B) of col(x)^T: element
  // (position p0 + p, tap first + j) at out[p*width + j]
  void pack_taps(int first, int count, int p0, int kc, int width, float* out) const {
    const ConvShape& s = g.s;
    for (int t = 0; t * width < count; t++, out += (int64_t)width * kc) {
      const int64_t base = (int64_t)first + t * width;
      const int valid =
          (int)std::min<int64_t>(std::min(width, count - t * width), g.crs() - base);
#ifdef __AVX2__
      // 8 taps x 8 positions at a time
      for (int half = 0; half * 8 < width; half++) {
        const TapSet taps(s, g, base + half * 8, std::max(0, std::min(8, valid - half * 8)));
        for (int p = 0; p < kc; p += 8) {
          const int npos = std::min(8, kc - p);
          __m256 v[8];
          unrolled_block(g, x, taps, (int64_t)p0 + p, npos, v);
          float* dst = out + (int64_t)p * width + half * 8;
          const int lanes = std::min(8, width - half * 8);
          for (int q = 0; q < npos; q++) store_first(dst + q * width, v[q], lanes);
        }
      }
#else
      for (int p = 0; p < kc; p++) {
        const int64_t col = (int64_t)p0 + p, img = col / g.pq, pos = col - img * g.pq;
        const int ih0 = (int)(pos / s.q) * s.stride_h - s.pad_h;
        const int iw0 = (int)(pos % s.q) * s.stride_w - s.pad_w;
        Tap tap(s, base);
        for (int j = 0; j < width; j++) {
          float v = 0.0f;
          if (j < valid) {
            const int ih = ih0 + tap.ky, iw = iw0 + tap.kx;
            if (ih >= 0 && ih < s.h && iw >= 0 && iw < s.w)
              v = x[img * g.chw + tap.ci * g.hw + (int64_t)ih * s.w + iw];
            tap.next(s);
          }
          out[(int64_t)p * width + j] = v;
        }
      }
#endif
    }
  }

  // micro-panels `width` output channels wide of dy^T (dy read as
  // k x n*p*q): one stretch per image, dy's rows transposed into place
  void pack_channels(int first, int count, int p0, int kc, int width, float* out) const {
    const ConvShape& s = g.s;
    const int64_t image_stride = (int64_t)s.k * g.pq;
    for (int t = 0; t * width < count; t++, out += (int64_t)width * kc) {
      const int ch0 = first + t * width;
      const int valid = std::min({width, count - t * width, s.k - ch0});
      for (int off = 0; off < kc;) {
        const int64_t col = (int64_t)p0 + off;
        const int64_t img = col / g.pq, pos = col - img * g.pq;
        const int len = (int)std::min<int64_t>(kc - off, g.pq - pos);
        const float* src[NR];
        for (int j = 0; j < valid; j++) src[j] = dy + img * image_stride + (ch0 + j) * g.pq + pos;
        if (width == MR) {
          pack_a_rows(src, valid, len, out + (int64_t)off * MR);
        } else if (off == 0 && len == kc) {
          pack_b_rows(src, valid, kc, out);
        } else {
          // a stretch inside the panel: pack it into a small panel, copy it in
          alignas(64) float part[GEMM_KC * NR];
          pack_b_rows(src, valid, len, part);
          std::memcpy(out + (int64_t)off * NR, part, sizeof(float) * NR * len);
        }
        off += len;
      }
    }
  }
};

// the unrolled gradient of a group of images: w^T (crs x k) * dy, B being
// dy read as k x (group's p*q columns)
struct InputOperands final : GemmOperands {
  Columns g;
  const float* w;
  const float* dy;  // the group's first image
  int64_t columns;  // images in the group * p*q
  // (B is packed, not read in place: its panels serve c*r*s/MR tiles each,
  // and dy's rows p*q apart alias in the caches when p*q is a power of two)
  InputOperands(const ConvShape& s, const float* w_, const float* dy_, int64_t columns_)
      : g(s), w(w_), dy(dy_), columns(columns_) {}

  void pack_a(int i0, int rows, int p0, int kc, float* out) const override {
    pack_a_plain(true, w, g.crs(), (int)g.crs(), i0, rows, p0, kc, out);
  }

  // depth p0.. are output channels, columns j0.. are output positions
  void pack_b(int j0, int cols, int p0, int kc, float* out) const override {
    const int64_t image_stride = (int64_t)g.s.k * g.pq;
    for (int t = 0; t * NR < cols; t++, out += (int64_t)NR * kc) {
      const int64_t base = (int64_t)j0 + t * NR;
      const int valid = (int)std::min<int64_t>(std::min(NR, cols - t * NR), columns - base);
      const int64_t img = base / g.pq, pos = base - img * g.pq;
      const float* src = dy + img * image_stride + (int64_t)p0 * g.pq + pos;
      if (valid == NR && pos + NR <= g.pq) {
        for (int p = 0; p < kc; p++, src += g.pq)
          std::memcpy(out + p * NR, src, sizeof(float) * NR);
        continue;
      }
      for (int j = 0; j < NR; j++) {
        if (j >= valid) {
          for (int p = 0; p < kc; p++) out[p * NR + j] = 0.0f;
          continue;
        }
        const int64_t col = base + j, im = col / g.pq, ps = col - im * g.pq;
        const float* from = dy + im * image_stride + (int64_t)p0 * g.pq + ps;
        for (int p = 0; p < kc; p++) out[p * NR + j] = from[(int64_t)p * g.pq];
      }
    }
  }
};

// the valid output columns [q_lo[kx], q_hi[kx]) for each kernel column kx:
// those whose input column ow*stride - pad + kx lies inside the image
struct ValidColumns {
  std::vector<int> lo, hi;
  explicit ValidColumns(const ConvShape& s) : lo(s.s), hi(s.s) {
    for (int kx = 0; kx < s.s; kx++) {
      const int a = s.pad_w - kx, b = s.w - 1 + s.pad_w - kx;
      lo[kx] = std::min(s.q, a <= 0 ? 0 : (a + s.stride_w - 1) / s.stride_w);
      hi[kx] = std::max(lo[kx], std::min(s.q, b < 0 ? 0 : b / s.stride_w + 1));
    }
  }
};

// dx plane ci of one image from its unrolled gradient col (crs x p*q, row
// stride ld): the plane is zeroed and then accumulated in a fixed
// (ky, kx, oh, ow) order
void col2im_plane(const ConvShape& s, const ValidColumns& valid, const float* col, int64_t ld,
                  float* dx, int64_t ci) {
  float* plane = dx + ci * s.h * s.w;
  std::fill(plane, plane + (int64_t)s.h * s.w, 0.0f);
  for (int ky = 0; ky < s.r; ky++) {
    for (int kx = 0; kx < s.s; kx++) {
      const float* src = col + ((ci * s.r + ky) * s.s + kx) * ld;
      const int q_lo = valid.lo[kx], q_hi = valid.hi[kx];
      for (int oh = 0; oh < s.p; oh++) {
        const int ih = oh * s.stride_h - s.pad_h + ky;
        if (ih < 0 || ih >= s.h) continue;
        float* __restrict dst = plane + (int64_t)ih * s.w - s.pad_w + kx;
        const float* __restrict row = src + (int64_t)oh * s.q;
        if (s.stride_w == 1) {
          for (int ow = q_lo; ow < q_hi; ow++) dst[ow] += row[ow];
        } else {
          for (int ow = q_lo; ow < q_hi; ow++) dst[(int64_t)ow * s.stride_w] += row[ow];
        }
      }
    }
  }
}

// the sum of n floats in a fixed order: 32 running lanes (i mod 32), added
// together in a fixed tree, then the tail in order
float plane_sum(const float* x, int64_t n) {
  int64_t i = 0;
  float total = 0.0f;
#ifdef __AVX2__
  if (n >= 32) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (; i + 32 <= n; i += 32) {
      a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
      a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
      a2 = _mm256_add_ps(a2, _mm256_loadu_ps(x + i + 16));
      a3 = _mm256_add_ps(a3, _mm256_loadu_ps(x + i + 24));
    }
    const __m256 sum = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, sum);
    total = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
            ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
  }
#else
  if (n >= 32) {
    float a[32] = {};
    for (; i + 32 <= n; i += 32)
      for (int l = 0; l < 32; l++) a[l] += x[i + l];
    float lanes[8];
    for (int l = 0; l < 8; l++) lanes[l] = (a[l] + a[l + 8]) + (a[l + 16] + a[l + 24]);
    total = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
            ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
  }
#endif
  for (; i < n; i++) total += x[i];
  return total;
}

// per-thread scratch for a group's unrolled gradient
float* scratch(int64_t floats) {
  thread_local std::vector<float> buffer;
  if ((int64_t)buffer.size() < floats) {
    buffer.clear();
    buffer.shrink_to_fit();
    buffer.resize(floats);
  }
  return buffer.data();
}

}  // namespace

void conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* bias,
                    float* y) {
  const Columns g(s);
  // y seen as k x n*p*q: one p*q segment per image, images k*p*q apart; the
  // bias goes in as gemm's row bias, in the same pass
  GemmOutput out{y, g.pq, g.pq, (int64_t)s.k * g.pq, bias};
  const PaddedInput padded(s, x, true);
  gemm_operands(s.k, (int)g.count(), (int)g.crs(), 1.0f, ForwardOperands(s, x, w, padded), 0.0f,
                out);
}

void conv2d_backward_weight(const ConvShape& s, const float* x, const float* dy, float* dw,
                            float* db) {
  const Columns g(s);
  const int64_t crs = g.crs();
  // which way round (the shape alone decides): transposed, with col(x) read
  // in place from the padded input, whenever the batch's padded input fits
  // 32-bit offsets (it needs no packing of col(x), which outweighs padding a
  // few output channels to 16); else whichever wastes fewer tile lanes
  auto round_up = [](int64_t v, int64_t tile) { return (v + tile - 1) / tile * tile; };
  const int64_t padded_image = s.c * ((int64_t)(s.h + 2 * s.pad_h) * (s.w + 2 * s.pad_w));
  const bool transposed =
      s.n * padded_image < kOffsetLimit ||
      round_up(crs, MR) * round_up(s.k, NR) <= round_up(s.k, MR) * round_up(crs, NR);

  // A read in place (no packing): each depth column's offset from the start
  // of an A row, when they fit 32 bits
  const PaddedInput input = transposed ? PaddedInput(s, x, false) : PaddedInput();
  const int64_t image_span = transposed ? padded_image : s.k * g.pq;
  thread_local std::vector<int32_t> offsets;
  const int32_t* column_offset = nullptr;
  if ((!transposed || input.data) && s.n * image_span < kOffsetLimit) {
    offsets.resize(g.count());
    // (the lambda must not name the thread_local: each worker would see its own)
    int32_t* table = offsets.data();
    parallel_for(0, s.n, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t img = lo; img < hi; img++) {
        int32_t* o = table + img * g.pq;
        for (int oh = 0; oh < s.p; oh++)
          for (int ow = 0; ow < s.q; ow++)
            *o++ = transposed ? (int32_t)(img * image_span + (int64_t)oh * s.stride_h * input.wp +
                                          (int64_t)ow * s.stride_w)
                              : (int32_t)(img * image_span + (int64_t)oh * s.q + ow);
      }
    });
    column_offset = table;
  }
  const WeightOperands ops(s, x, dy, transposed, &input, column_offset);

  if (transposed) {
    // dw^T goes to scratch, then is transposed into dw
    std::vector<float> dw_t(crs * s.k);
    gemm_operands((int)crs, s.k, (int)g.count(), 1.0f, ops, 0.0f, GemmOutput{dw_t.data(), s.k});
    parallel_for(0, s.k, std::max<int64_t>(1, (1 << 14) / crs), [&](int64_t lo, int64_t hi) {
      for (int64_t kk = lo; kk < hi; kk++)
        for (int64_t i = 0; i < crs; i++) dw[kk * crs + i] = dw_t[i * s.k + kk];
    });
  } else {
    gemm_operands(s.k, (int)crs, (int)g.count(), 1.0f, ops, 0.0f, GemmOutput{dw, crs});
  }
  if (db) {
    parallel_for(0, s.k, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t kk = lo; kk < hi; kk++) {
        float acc = 0.0f;
        for (int64_t img = 0; img < s.n; img++)
          acc += plane_sum(dy + (img * s.k + kk) * g.pq, g.pq);
        db[kk] = acc;
      }
    });
  }
}

void conv2d_backward_input(const ConvShape& s, const float* dy, const float* w, float* dx) {
  // with unit stride the input gradient is a forward convolution of dy with
  // the kernel flipped and its channel axes swapped, padded by r-1-pad. that
  // skips col2im and reads dy in place, and wins when its gemm fits the tiles:
  // c output rows (c >= 16, or few k where the col2im gemm's depth would be
  // only k) and rows at least 16 wide. (the same sums in another order than
  // col2im; which way runs depends on the shape alone.)
  if (s.stride_h == 1 && s.stride_w == 1 && s.pad_h <= s.r - 1 && s.pad_w <= s.s - 1 &&
      s.w >= NR && (s.c >= 16 || s.k < 16)) {
    std::vector<float> flipped((size_t)s.c * s.k * s.r * s.s);
    for (int kk = 0; kk < s.k; kk++)
      for (int ci = 0; ci < s.c; ci++)
        for (int ky = 0; ky < s.r; ky++)
          for (int kx = 0; kx < s.s; kx++)
            flipped[(((size_t)ci * s.k + kk) * s.r + (s.r - 1 - ky)) * s.s + (s.s - 1 - kx)] =
                w[(((size_t)kk * s.c + ci) * s.r + ky) * s.s + kx];
    ConvShape t{s.n, s.k, s.p, s.q, s.c, s.r, s.s, 1, 1, s.r - 1 - s.pad_h, s.s - 1 - s.pad_w,
                s.h, s.w};
    conv2d_forward(t, dy, flipped.data(), nullptr, dx);
    return;
  }
  const Columns g(s);
  const int64_t crs = g.crs();
  const int64_t y_image = (int64_t)s.k * g.pq;
  // groups of images whose unrolled gradient stays around a MiB; how the
  // batch is grouped does not change any result
  const ValidColumns valid(s);
  const int64_t per_group =
      std::max<int64_t>(1, std::min<int64_t>(s.n, (1 << 18) / std::max<int64_t>(1, crs * g.pq)));
  parallel_chunks(0, s.n, per_group, [&](int64_t, int64_t lo, int64_t hi) {
    const int64_t columns = (hi - lo) * g.pq;
    float* col = scratch(crs * columns);
    const InputOperands ops(s, w, dy + lo * y_image, columns);
    gemm_operands((int)crs, (int)columns, s.k, 1.0f, ops, 0.0f, GemmOutput{col, columns});
    // every (image, channel) plane of the group, in one parallel region
    const int64_t planes = (hi - lo) * s.c;
    const int64_t plane_work = crs / std::max(1, s.c) * g.pq;
    parallel_for(0, planes, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, plane_work)),
                 [&](int64_t a, int64_t b) {
                   for (int64_t plane = a; plane < b; plane++) {
                     const int64_t img = plane / s.c, ci = plane % s.c;
                     col2im_plane(s, valid, col + img * g.pq, columns, dx + (lo + img) * g.chw,
                                  ci);
                   }
                 });
  });
}

}  // namespace CUDALAB_CPU_ISA
}  // namespace cpu
}  // namespace cudalab
