// batch norm's per-channel and per-element formulas, written once for both
// backends (cpu/norm.cc, cuda/norm.cu), so the two do the same operations in
// the same order on the per-channel values.
//
// precision: the per-channel sums (sum x, sum x^2, sum dy, sum dy*(x - mean))
// are accumulated in double. a float times a float is exact in double, so the
// only rounding is the additions' (~count * 2^-53 relative at worst), and the
// one-pass variance sum(x^2)/count - mean^2 loses at most what double spares:
// a channel whose mean is 1e4 times its spread still keeps ~8 digits. the
// per-channel results are finished in double and rounded to float once. the
// backends add in different orders (the cpu in lanes, cuda in chunks and a
// tree), so after rounding they agree to an ulp or so, not always to the bit.
//
// the per-element formulas are float, with every multiply-add an explicit
// fmaf (one rounding on both backends whatever -ffp-contract says).
#pragma once
#include <cmath>

#include "common/host_device.h"

namespace cudalab {

// a channel's batch statistics from its double sums over count >= 2 values
struct NormStats {
  double mean;
  double var;  // biased (divided by count), as the normalisation uses it
};

CUDALAB_HD NormStats norm_stats(double sum, double sum_sq, double count) {
  const double mean = sum / count;
  const double var = sum_sq / count - mean * mean;
  return {mean, var > 0.0 ? var : 0.0};  // rounding can take a constant channel's variance below 0
}

CUDALAB_HD float norm_invstd(double var, float eps) { return (float)(1.0 / sqrt(var + (double)eps)); }

// PyTorch's running update, in double and rounded once: the running variance
// takes the unbiased variance var * count / (count - 1)
CUDALAB_HD void norm_update_running(float& running_mean, float& running_var, const NormStats& s, double count,
                                    float momentum) {
  const double m = momentum;
  running_mean = (float)((1.0 - m) * running_mean + m * s.mean);
  running_var = (float)((1.0 - m) * running_var + m * (s.var * count / (count - 1.0)));
}

// y = (x - mean) * invstd * weight + bias
CUDALAB_HD float norm_apply(float x, float mean, float invstd, float weight, float bias) {
  return fmaf((x - mean) * invstd, weight, bias);
}

// the backward's per-channel constants from its double sums over count values
struct NormGrad {
  float scale;      // weight * invstd: dx per dy when the statistics are constants
  float mean_dy;    // sum dy / count
  float mean_dyxh;  // sum dy*xhat / count
};

CUDALAB_HD NormGrad norm_grad(double sum_dy, double sum_dyxh, double count, float invstd, float weight) {
  return {weight * invstd, (float)(sum_dy / count), (float)(sum_dyxh / count)};
}

// dx with the batch statistics differentiated too:
// weight * invstd * (dy - mean(dy) - xhat * mean(dy * xhat))
CUDALAB_HD float norm_dx_batch(float x, float dy, float mean, float invstd, const NormGrad& g) {
  const float xhat = (x - mean) * invstd;
  return g.scale * fmaf(-xhat, g.mean_dyxh, dy - g.mean_dy);
}

}  // namespace cudalab
