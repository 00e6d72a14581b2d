// label smoothing for the fused softmax cross-entropy, written once for both
// backends (cpu/loss.cc, cuda/loss.cu). PyTorch's definition: the target
// distribution is (1 - s) * onehot(label) + s / classes, so a row's loss is
//
//   (1 - s) * (-log p[label]) + (s / classes) * sum over j of (-log p[j])
//
// and with -log p[j] = log(sum) - (x[j] - max) (max subtracted first, so
// nothing overflows and an underflowing p stays finite):
//
//   log(sum) - (1 - s) * (x[label] - max) - (s / classes) * sum_j (x[j] - max)
//
// taken in double. with s = 0 this is log(sum) - (x[label] - max), bit for
// bit what the unsmoothed kernels compute.
#pragma once

#include "common/host_device.h"

namespace cudalab {

// the target's two values, computed in double and rounded once, the same on every backend
struct SmoothTarget {
  float on;   // the label's column: 1 - s + s / classes
  float off;  // every other column: s / classes
};

CUDALAB_HD SmoothTarget smooth_target(float s, int classes) {
  const double off = (double)s / (double)classes;
  return {(float)(1.0 - (double)s + off), (float)off};
}

// shifted_label = x[label] - max, shifted_sum = sum over the row of (x[j] - max).
// at s = 0 the smoothing term is left out rather than multiplied by 0, so a
// -inf logit off the label (shifted_sum = -inf) gives the unsmoothed loss, not NaN
CUDALAB_HD double smooth_row_loss(double log_sum, double shifted_label, double shifted_sum, float s, int classes) {
  const double nll = log_sum - (1.0 - (double)s) * shifted_label;
  return s == 0.0f ? nll : nll - ((double)s / (double)classes) * shifted_sum;
}

}  // namespace cudalab
