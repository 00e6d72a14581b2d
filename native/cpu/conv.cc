// 2-d convolution on the cpu as im2col + gemm, one image at a time.
//
// forward:          y_n  = w (k x crs) * col(x_n) (crs x pq)  (+ bias)
// backward input:   dx_n = col2im( w^T (crs x k) * dy_n (k x pq) )
// backward weight:  dw   = sum over n of dy_n (k x pq) * col(x_n)^T (pq x crs)
//
// images are spread over the threads (each thread unrolls its image into its
// own scratch buffer and runs a single-threaded gemm). with fewer images than
// threads the images run one after another and gemm itself goes parallel;
// results are the same either way, since each output is computed by the same
// arithmetic whichever thread runs it.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cpu/parallel.h"
#include "ops.h"

namespace cudalab {
namespace cpu {
namespace {

int64_t crs_of(const ConvShape& s) { return (int64_t)s.c * s.r * s.s; }
int64_t pq_of(const ConvShape& s) { return (int64_t)s.p * s.q; }

// a 1x1 kernel with unit stride and no padding needs no unrolling: col(x) = x
bool is_pointwise(const ConvShape& s) {
  return s.r == 1 && s.s == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_h == 0 &&
         s.pad_w == 0;
}

// the valid output columns [lo, hi) for kernel column kx: those whose input
// column ow*stride - pad + kx lies inside [0, w)
void valid_range(int out, int in, int stride, int pad, int kx, int* lo, int* hi) {
  // smallest o with o*stride - pad + kx >= 0
  int a = pad - kx;
  int first = a <= 0 ? 0 : (a + stride - 1) / stride;
  // largest o with o*stride - pad + kx <= in - 1
  int b = in - 1 + pad - kx;
  int last = b < 0 ? -1 : b / stride;
  *lo = std::min(first, out);
  *hi = std::max(*lo, std::min(last + 1, out));
}

// rows [row_lo, row_hi) of col (crs x pq) for one image x (c x h x w)
void im2col_rows(const ConvShape& s, const float* x, float* col, int64_t row_lo,
                 int64_t row_hi) {
  const int64_t pq = pq_of(s);
  for (int64_t row = row_lo; row < row_hi; row++) {
    const int kx = (int)(row % s.s);
    const int ky = (int)((row / s.s) % s.r);
    const int ci = (int)(row / ((int64_t)s.s * s.r));
    const float* plane = x + (int64_t)ci * s.h * s.w;
    float* out = col + row * pq;
    int q_lo, q_hi;
    valid_range(s.q, s.w, s.stride_w, s.pad_w, kx, &q_lo, &q_hi);
    for (int oh = 0; oh < s.p; oh++) {
      float* dst = out + (int64_t)oh * s.q;
      const int ih = oh * s.stride_h - s.pad_h + ky;
      if (ih < 0 || ih >= s.h) {
        std::fill(dst, dst + s.q, 0.0f);
        continue;
      }
      const float* src = plane + (int64_t)ih * s.w - s.pad_w + kx;
      std::fill(dst, dst + q_lo, 0.0f);
      if (s.stride_w == 1) {
        std::memcpy(dst + q_lo, src + q_lo, sizeof(float) * (q_hi - q_lo));
      } else {
        for (int ow = q_lo; ow < q_hi; ow++) dst[ow] = src[(int64_t)ow * s.stride_w];
      }
      std::fill(dst + q_hi, dst + s.q, 0.0f);
    }
  }
}

// dx planes [c_lo, c_hi) of one image from col (crs x pq): each plane is
// zeroed and then accumulated in a fixed (ky, kx, oh, ow) order
void col2im_channels(const ConvShape& s, const float* col, float* dx, int64_t c_lo,
                     int64_t c_hi) {
  const int64_t pq = pq_of(s);
  for (int64_t ci = c_lo; ci < c_hi; ci++) {
    float* plane = dx + ci * s.h * s.w;
    std::fill(plane, plane + (int64_t)s.h * s.w, 0.0f);
    for (int ky = 0; ky < s.r; ky++) {
      for (int kx = 0; kx < s.s; kx++) {
        const float* src = col + ((ci * s.r + ky) * s.s + kx) * pq;
        int q_lo, q_hi;
        valid_range(s.q, s.w, s.stride_w, s.pad_w, kx, &q_lo, &q_hi);
        for (int oh = 0; oh < s.p; oh++) {
          const int ih = oh * s.stride_h - s.pad_h + ky;
          if (ih < 0 || ih >= s.h) continue;
          float* dst = plane + (int64_t)ih * s.w - s.pad_w + kx;
          const float* row = src + (int64_t)oh * s.q;
          for (int ow = q_lo; ow < q_hi; ow++) dst[(int64_t)ow * s.stride_w] += row[ow];
        }
      }
    }
  }
}

// per-thread scratch for one image's unrolled columns
float* scratch(int64_t floats) {
  thread_local std::vector<float> buffer;
  if ((int64_t)buffer.size() < floats) {
    buffer.clear();
    buffer.shrink_to_fit();
    buffer.resize(floats);
  }
  return buffer.data();
}

// the unrolled image: x itself for pointwise kernels, else scratch filled by
// im2col (in parallel over rows when called outside a parallel region)
const float* unroll(const ConvShape& s, const float* x) {
  if (is_pointwise(s)) return x;
  const int64_t crs = crs_of(s), pq = pq_of(s);
  float* col = scratch(crs * pq);
  const int64_t grain = std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(pq, 1));
  parallel_for(0, crs, grain,
               [&](int64_t lo, int64_t hi) { im2col_rows(s, x, col, lo, hi); });
  return col;
}

}  // namespace

void conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* bias,
                    float* y) {
  const int64_t crs = crs_of(s), pq = pq_of(s);
  const int64_t x_image = (int64_t)s.c * s.h * s.w, y_image = (int64_t)s.k * pq;
  parallel_for(0, s.n, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t img = lo; img < hi; img++) {
      float* yn = y + img * y_image;
      const float* col = unroll(s, x + img * x_image);
      if (bias) {
        for (int kk = 0; kk < s.k; kk++) std::fill(yn + kk * pq, yn + (kk + 1) * pq, bias[kk]);
      }
      gemm(false, false, s.k, (int)pq, (int)crs, 1.0f, w, col, bias ? 1.0f : 0.0f, yn);
    }
  });
}

void conv2d_backward_input(const ConvShape& s, const float* dy, const float* w, float* dx) {
  const int64_t crs = crs_of(s), pq = pq_of(s);
  const int64_t x_image = (int64_t)s.c * s.h * s.w, y_image = (int64_t)s.k * pq;
  parallel_for(0, s.n, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t img = lo; img < hi; img++) {
      float* dxn = dx + img * x_image;
      const float* dyn = dy + img * y_image;
      if (is_pointwise(s)) {
        gemm(true, false, (int)crs, (int)pq, s.k, 1.0f, w, dyn, 0.0f, dxn);
        continue;
      }
      float* col = scratch(crs * pq);
      gemm(true, false, (int)crs, (int)pq, s.k, 1.0f, w, dyn, 0.0f, col);
      parallel_for(0, s.c, 1,
                   [&](int64_t c_lo, int64_t c_hi) { col2im_channels(s, col, dxn, c_lo, c_hi); });
    }
  });
}

void conv2d_backward_weight(const ConvShape& s, const float* x, const float* dy, float* dw,
                            float* db) {
  const int64_t crs = crs_of(s), pq = pq_of(s);
  const int64_t x_image = (int64_t)s.c * s.h * s.w, y_image = (int64_t)s.k * pq;
  const int64_t dw_size = (int64_t)s.k * crs;

  // the batch is summed in fixed-size groups of images (the group size depends
  // only on n), each group into its own partial, and the partials are added in
  // group order: the same sums in the same order for any thread count
  const int64_t group = std::max<int64_t>(1, (s.n + 15) / 16);
  const int64_t groups = num_chunks(0, s.n, group);
  std::vector<float> partials(groups > 1 ? groups * dw_size : 0);
  parallel_chunks(0, s.n, group, [&](int64_t index, int64_t lo, int64_t hi) {
    float* out = groups > 1 ? partials.data() + index * dw_size : dw;
    for (int64_t img = lo; img < hi; img++) {
      const float* col = unroll(s, x + img * x_image);
      gemm(false, true, s.k, (int)crs, (int)pq, 1.0f, dy + img * y_image, col,
           img == lo ? 0.0f : 1.0f, out);
    }
  });
  if (s.n == 0) std::fill(dw, dw + dw_size, 0.0f);
  if (groups > 1) {
    parallel_for(0, dw_size, 1 << 14, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; i++) {
        float acc = partials[i];
        for (int64_t g = 1; g < groups; g++) acc += partials[g * dw_size + i];
        dw[i] = acc;
      }
    });
  }

  if (db) {
    parallel_for(0, s.k, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t kk = lo; kk < hi; kk++) {
        float acc = 0.0f;
        for (int64_t img = 0; img < s.n; img++) {
          const float* plane = dy + img * y_image + kk * pq;
          float image_sum = 0.0f;
          for (int64_t i = 0; i < pq; i++) image_sum += plane[i];
          acc += image_sum;
        }
        db[kk] = acc;
      }
    });
  }
}

}  // namespace cpu
}  // namespace cudalab
