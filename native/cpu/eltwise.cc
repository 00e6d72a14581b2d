// elementwise ops on the cpu. each is a flat loop the compiler vectorises; the
// range is cut into fixed chunks (not per-thread slices), so which elements meet
// the vector body or the scalar tail never depends on the thread count, and the
// bits stay the same for any number of threads. out may alias an input, so no
// __restrict here.
#include <cstdint>

#include "common/gelu_formula.h"
#include "cpu/parallel.h"
#include "cpu/dispatch.h"

namespace cudalab {
namespace cpu {
namespace CUDALAB_CPU_ISA {

// ~32k floats: one chunk streams about 256 KiB, worth a thread handoff
constexpr int64_t kChunk = 32768;

template <class F>
static void for_chunks(int64_t n, const F& body) {
  parallel_chunks(0, n, kChunk, [&](int64_t, int64_t lo, int64_t hi) { body(lo, hi); });
}

// written so a NaN passes through (NaN < 0 is false), as in PyTorch: a
// diverging run must not hide its NaN behind a ReLU
void relu_forward(int64_t n, const float* x, float* y) {
  for_chunks(n, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i];
  });
}

void relu_backward(int64_t n, const float* dy, const float* y, float* dx) {
  for_chunks(n, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
  });
}

void add(int64_t n, const float* a, const float* b, float* out) {
  for_chunks(n, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) out[i] = a[i] + b[i];
  });
}

void mul(int64_t n, const float* a, const float* b, float* out) {
  for_chunks(n, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) out[i] = a[i] * b[i];
  });
}

void scale(int64_t n, const float* x, float alpha, float* out) {
  for_chunks(n, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) out[i] = alpha * x[i];
  });
}

void axpby(int64_t n, float alpha, const float* a, float beta, const float* b, float* out) {
  for_chunks(n, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) out[i] = alpha * a[i] + beta * b[i];
  });
}

void fill(int64_t n, float* x, float value) {
  for_chunks(n, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) x[i] = value;
  });
}

void bias_add(int outer, int channels, int inner, const float* x, const float* bias, float* y) {
  if (inner == 1) {
    // a linear layer's bias: rows of `channels` elements, added to the bias vector
    const int64_t grain = channels >= kChunk ? 1 : kChunk / channels;
    parallel_chunks(0, outer, grain, [&](int64_t, int64_t lo, int64_t hi) {
      for (int64_t o = lo; o < hi; o++) {
        const float* xr = x + o * channels;
        float* yr = y + o * channels;
        for (int c = 0; c < channels; c++) yr[c] = xr[c] + bias[c];
      }
    });
    return;
  }
  // otherwise one unit of work is a row of `inner` elements sharing one bias value
  const int64_t rows = (int64_t)outer * channels;
  const int64_t grain = inner >= kChunk ? 1 : kChunk / inner;
  parallel_chunks(0, rows, grain, [&](int64_t, int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; row++) {
      const float b = bias[row % channels];
      const float* xr = x + row * inner;
      float* yr = y + row * inner;
      for (int i = 0; i < inner; i++) yr[i] = xr[i] + b;
    }
  });
}

// common/gelu_formula.h is branch-free float arithmetic: these loops vectorise
void gelu_forward(int64_t n, const float* x, float* y) {
  for_chunks(n, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) y[i] = gelu_forward_at(x[i]);
  });
}

void gelu_backward(int64_t n, const float* dy, const float* x, float* dx) {
  for_chunks(n, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) dx[i] = gelu_backward_at(dy[i], x[i]);
  });
}

}  // namespace CUDALAB_CPU_ISA
}  // namespace cpu
}  // namespace cudalab
