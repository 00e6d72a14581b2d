// the fused softmax cross-entropy and the accuracy helpers on the cpu. rows are
// independent and go to threads whole; the mean loss is a sum of per-row
// losses in row order (in double), so it is the same for any thread count.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "common/xent_formula.h"
#include "cpu/parallel.h"
#include "cpu/dispatch.h"

namespace cudalab {
namespace cpu {
namespace CUDALAB_CPU_ISA {

static int64_t row_grain(int classes) { return classes >= 4096 ? 1 : 4096 / classes; }

// the plain loss is the smoothed one at smoothing 0 with the mean: the same
// operations in the same order (smooth_row_loss at 0 is log(sum) - shifted
// label logit, and the target is the one-hot), so the same bits
void softmax_xent_forward(int n, int classes, const float* logits, const int32_t* labels, float* probs,
                          float* loss) {
  softmax_xent_smooth_forward(n, classes, logits, labels, 0.0f, false, probs, loss);
}

void softmax_xent_backward(int n, int classes, const float* probs, const int32_t* labels, const float* dloss,
                           float* dlogits) {
  softmax_xent_smooth_backward(n, classes, probs, labels, 0.0f, false, dloss, dlogits);
}

// the smoothed loss: per row (in double) log of the sum of exp(x - max) and
// the shifted label logit and logit sum; the reduction's sum is in row order
void softmax_xent_smooth_forward(int n, int classes, const float* logits, const int32_t* labels, float smoothing,
                                 bool sum, float* probs, float* loss) {
  std::vector<double> row_loss(n);
  parallel_for(0, n, row_grain(classes), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
      const float* x = logits + i * classes;
      float* p = probs + i * classes;
      float max = x[0];
      for (int j = 1; j < classes; j++) max = x[j] > max ? x[j] : max;
      double total = 0.0, shifted = 0.0;
      for (int j = 0; j < classes; j++) {
        p[j] = std::exp(x[j] - max);
        total += p[j];
        shifted += (double)x[j] - (double)max;
      }
      const float inv = (float)(1.0 / total);
      for (int j = 0; j < classes; j++) p[j] *= inv;
      const int32_t label = labels[i];
      row_loss[i] = label >= 0 && label < classes
                        ? smooth_row_loss(std::log(total), (double)x[label] - (double)max, shifted, smoothing, classes)
                        : std::numeric_limits<double>::quiet_NaN();
    }
  });
  double total = 0.0;
  for (int i = 0; i < n; i++) total += row_loss[i];
  loss[0] = (float)(sum ? total : total / n);
}

void softmax_xent_smooth_backward(int n, int classes, const float* probs, const int32_t* labels, float smoothing,
                                  bool sum, const float* dloss, float* dlogits) {
  const float g = sum ? dloss[0] : dloss[0] / (float)n;
  const SmoothTarget t = smooth_target(smoothing, classes);
  parallel_for(0, n, row_grain(classes), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
      const float* p = probs + i * classes;
      float* d = dlogits + i * classes;
      for (int j = 0; j < classes; j++) d[j] = (p[j] - t.off) * g;
      const int32_t label = labels[i];
      if (label >= 0 && label < classes) d[label] = (p[label] - t.on) * g;
    }
  });
}

// first index of the row maximum
static inline int32_t row_argmax(const float* x, int classes) {
  int32_t best = 0;
  for (int j = 1; j < classes; j++)
    if (x[j] > x[best]) best = j;
  return best;
}

void argmax(int n, int classes, const float* x, int32_t* out) {
  parallel_for(0, n, row_grain(classes), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) out[i] = row_argmax(x + i * classes, classes);
  });
}

void correct_count(int n, int classes, const float* logits, const int32_t* labels, int32_t* count) {
  // integer counts add up exactly in any order; partials per chunk keep it simple
  const int64_t chunk = row_grain(classes) * 4;
  std::vector<int32_t> partial(num_chunks(0, n, chunk), 0);
  parallel_chunks(0, n, chunk, [&](int64_t index, int64_t lo, int64_t hi) {
    int32_t c = 0;
    for (int64_t i = lo; i < hi; i++) c += row_argmax(logits + i * classes, classes) == labels[i];
    partial[index] = c;
  });
  int32_t total = 0;
  for (int32_t c : partial) total += c;
  count[0] = total;
}

}  // namespace CUDALAB_CPU_ISA
}  // namespace cpu
}  // namespace cudalab
