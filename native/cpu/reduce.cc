// sum over the middle axis of x viewed as outer*reduce*inner. every output
// element is summed over r = 0, 1, ..., reduce-1 in that order by one thread,
// so the bits never depend on the thread count. the loop runs over whole rows
// of `inner` elements at a time (y_row += x_row), which vectorises; when inner
// is 1 each output is a contiguous sum, done in interleaved lanes instead.
#include <algorithm>
#include <cstdint>

#include "cpu/parallel.h"
#include "cpu/dispatch.h"

namespace cudalab {
namespace cpu {
namespace CUDALAB_CPU_ISA {

// columns per block: 1024 floats of accumulators stay in l1
constexpr int64_t kColumns = 1024;

// a contiguous sum in 16 interleaved lanes (element i goes to lane i % 16), then
// the lanes in order: a fixed order that vectorises and loses less precision
// than one running sum
static float sum_contiguous(const float* x, int64_t n) {
  constexpr int kLanes = 16;
  float lane[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; l++) lane[l] += x[i + l];
  for (int l = 0; i < n; i++, l++) lane[l] += x[i];
  float sum = 0.0f;
  for (int l = 0; l < kLanes; l++) sum += lane[l];
  return sum;
}

void sum_axis(int outer, int reduce, int inner, const float* x, float* y) {
  if (inner == 1) {
    const int64_t grain = reduce >= 32768 ? 1 : 32768 / reduce;
    parallel_for(0, outer, grain, [&](int64_t lo, int64_t hi) {
      for (int64_t o = lo; o < hi; o++) y[o] = sum_contiguous(x + o * reduce, reduce);
    });
    return;
  }
  const int64_t col_blocks = (inner + kColumns - 1) / kColumns;
  const int64_t blocks = (int64_t)outer * col_blocks;
  const int64_t work = (int64_t)reduce * std::min<int64_t>(inner, kColumns);
  const int64_t grain = work >= 32768 ? 1 : 32768 / work;
  parallel_for(0, blocks, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; b++) {
      const int64_t o = b / col_blocks, c0 = (b % col_blocks) * kColumns;
      const int64_t c1 = std::min<int64_t>(inner, c0 + kColumns);
      const float* xo = x + o * reduce * inner;
      float* yo = y + o * inner;
      for (int64_t i = c0; i < c1; i++) yo[i] = xo[i];
      for (int r = 1; r < reduce; r++) {
        const float* xr = xo + (int64_t)r * inner;
        for (int64_t i = c0; i < c1; i++) yo[i] += xr[i];
      }
    }
  });
}

}  // namespace CUDALAB_CPU_ISA
}  // namespace cpu
}  // namespace cudalab
