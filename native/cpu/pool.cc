// max and average pooling on the cpu, PyTorch's semantics (ops.h): max pooling
// pads with -inf and remembers the first maximum of each window (a NaN wins,
// as in PyTorch); average pooling counts padding as zeros in the divisor.
// work is split by (n, c) plane: a plane's outputs, and in the backward its
// input gradient, belong to one thread, so the scatter-adds of the backward run
// in a fixed order and the result does not depend on the thread count.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "cpu/parallel.h"
#include "cpu/dispatch.h"

namespace cudalab {
namespace cpu {
namespace CUDALAB_CPU_ISA {

// planes per piece of work, so a piece is worth a thread handoff (~32k touched floats)
static int64_t plane_grain(const PoolShape& s) {
  int64_t work = (int64_t)s.p * s.q * s.kh * s.kw + (int64_t)s.h * s.w;
  return work >= 32768 ? 1 : 32768 / work;
}

// the window of output (op, oq) clipped to the input: rows [h0, h1), columns [w0, w1)
struct Window {
  int h0, h1, w0, w1;
};
static inline Window window(const PoolShape& s, int op, int oq) {
  int hs = op * s.stride_h - s.pad_h, ws = oq * s.stride_w - s.pad_w;
  Window win;
  win.h0 = hs < 0 ? 0 : hs;
  win.w0 = ws < 0 ? 0 : ws;
  win.h1 = hs + s.kh > s.h ? s.h : hs + s.kh;
  win.w1 = ws + s.kw > s.w ? s.w : ws + s.kw;
  return win;
}

// the comparison every max-pool path uses: a larger value wins, and a NaN
// beats a number (PyTorch propagates NaN); ties keep the first index.
// on real data which element wins is a coin toss, and the branches gcc made
// of a plain `if` (or even of ?:) mispredicted so often that pooling took
// longer than the convolution before it. so the winner is picked with
// all-ones/all-zeros masks on the bits, which leaves nothing to branch on.
struct PoolMax {
  float value;
  int32_t index;
  inline void offer(float v, int32_t i) {
    uint32_t beats = (uint32_t)(v > value) | ((uint32_t)(v != v) & (uint32_t)(value == value));
    uint32_t mask = 0u - beats;
    uint32_t vb, bb;
    std::memcpy(&vb, &v, 4);
    std::memcpy(&bb, &value, 4);
    bb = (vb & mask) | (bb & ~mask);
    std::memcpy(&value, &bb, 4);
    index = (int32_t)(((uint32_t)i & mask) | ((uint32_t)index & ~mask));
  }
};

// the 2x2, stride 2, unpadded window of every CNN here, without the general
// path's window clipping: the same comparisons in the same order (row by row),
// so the same values and argmax
static void maxpool2x2_plane(const PoolShape& s, const float* xp, float* yp, int32_t* ap) {
  for (int op = 0; op < s.p; op++) {
    const float* r0 = xp + (2 * op) * s.w;
    const float* r1 = r0 + s.w;
    const int i0 = 2 * op * s.w, i1 = i0 + s.w;
    for (int oq = 0; oq < s.q; oq++) {
      const int iw = 2 * oq;
      PoolMax m{r0[iw], i0 + iw};
      m.offer(r0[iw + 1], i0 + iw + 1);
      m.offer(r1[iw], i1 + iw);
      m.offer(r1[iw + 1], i1 + iw + 1);
      yp[op * s.q + oq] = m.value;
      ap[op * s.q + oq] = m.index;
    }
  }
}

void maxpool2d_forward(const PoolShape& s, const float* x, float* y, int32_t* argmax) {
  const int64_t planes = (int64_t)s.n * s.c, in_plane = (int64_t)s.h * s.w, out_plane = (int64_t)s.p * s.q;
  const bool two_by_two = s.kh == 2 && s.kw == 2 && s.stride_h == 2 && s.stride_w == 2 && s.pad_h == 0 && s.pad_w == 0;
  parallel_for(0, planes, plane_grain(s), [&](int64_t lo, int64_t hi) {
    for (int64_t pl = lo; pl < hi; pl++) {
      const float* xp = x + pl * in_plane;
      float* yp = y + pl * out_plane;
      int32_t* ap = argmax + pl * out_plane;
      if (two_by_two) {
        maxpool2x2_plane(s, xp, yp, ap);
        continue;
      }
      for (int op = 0; op < s.p; op++) {
        for (int oq = 0; oq < s.q; oq++) {
          Window win = window(s, op, oq);
          // the validated shape guarantees a non-empty window (pad <= kernel/2)
          PoolMax m{xp[win.h0 * s.w + win.w0], win.h0 * s.w + win.w0};
          for (int ih = win.h0; ih < win.h1; ih++) {
            for (int iw = win.w0; iw < win.w1; iw++) m.offer(xp[ih * s.w + iw], ih * s.w + iw);
          }
          yp[op * s.q + oq] = m.value;
          ap[op * s.q + oq] = m.index;
        }
      }
    }
  });
}

void maxpool2d_backward(const PoolShape& s, const float* dy, const int32_t* argmax, float* dx) {
  const int64_t planes = (int64_t)s.n * s.c, in_plane = (int64_t)s.h * s.w, out_plane = (int64_t)s.p * s.q;
  parallel_for(0, planes, plane_grain(s), [&](int64_t lo, int64_t hi) {
    for (int64_t pl = lo; pl < hi; pl++) {
      float* dxp = dx + pl * in_plane;
      const float* dyp = dy + pl * out_plane;
      const int32_t* ap = argmax + pl * out_plane;
      std::memset(dxp, 0, sizeof(float) * in_plane);
      for (int64_t o = 0; o < out_plane; o++) {
        int32_t idx = ap[o];
        // argmax comes from native memory; an index outside the plane is dropped
        // rather than written out of bounds
        if (idx >= 0 && idx < in_plane) dxp[idx] += dyp[o];
      }
    }
  });
}

void avgpool2d_forward(const PoolShape& s, const float* x, float* y) {
  const int64_t planes = (int64_t)s.n * s.c, in_plane = (int64_t)s.h * s.w, out_plane = (int64_t)s.p * s.q;
  const float inv = 1.0f / (float)(s.kh * s.kw);
  parallel_for(0, planes, plane_grain(s), [&](int64_t lo, int64_t hi) {
    for (int64_t pl = lo; pl < hi; pl++) {
      const float* xp = x + pl * in_plane;
      float* yp = y + pl * out_plane;
      for (int op = 0; op < s.p; op++) {
        for (int oq = 0; oq < s.q; oq++) {
          Window win = window(s, op, oq);
          float sum = 0.0f;
          for (int ih = win.h0; ih < win.h1; ih++)
            for (int iw = win.w0; iw < win.w1; iw++) sum += xp[ih * s.w + iw];
          yp[op * s.q + oq] = sum * inv;
        }
      }
    }
  });
}

void avgpool2d_backward(const PoolShape& s, const float* dy, float* dx) {
  const int64_t planes = (int64_t)s.n * s.c, in_plane = (int64_t)s.h * s.w, out_plane = (int64_t)s.p * s.q;
  const float inv = 1.0f / (float)(s.kh * s.kw);
  parallel_for(0, planes, plane_grain(s), [&](int64_t lo, int64_t hi) {
    for (int64_t pl = lo; pl < hi; pl++) {
      float* dxp = dx + pl * in_plane;
      const float* dyp = dy + pl * out_plane;
      std::memset(dxp, 0, sizeof(float) * in_plane);
      for (int op = 0; op < s.p; op++) {
        for (int oq = 0; oq < s.q; oq++) {
          Window win = window(s, op, oq);
          const float g = dyp[op * s.q + oq] * inv;
          for (int ih = win.h0; ih < win.h1; ih++)
            for (int iw = win.w0; iw < win.w1; iw++) dxp[ih * s.w + iw] += g;
        }
      }
    }
  });
}

}  // namespace CUDALAB_CPU_ISA
}  // namespace cpu
}  // namespace cudalab
