// batch norm on the cpu (ops.h), PyTorch's BatchNorm2d. the per-channel sums
// are in double (precision: common/norm_formulas.h), each channel's summed by
// one thread in a fixed order (image by image, and within an image in 8
// interleaved lanes, element i to lane i % 8, the lanes added in order), so
// the bits never depend on the thread count. the per-element passes are split
// by (image, channel) plane, each element written once.
#include <cstdint>
#include <vector>

#include "common/norm_formulas.h"
#include "cpu/parallel.h"
#include "ops.h"

namespace cudalab {
namespace cpu {

constexpr int kLanes = 8;

// channels (or planes) per piece of work, so a piece touches ~32k floats
static int64_t grain_for(int64_t floats_each) { return floats_each >= 32768 ? 1 : 32768 / floats_each; }

// sum and sum of squares of channel ch, in double
static void channel_sums(int n, int c, int hw, const float* x, int ch, double& sum, double& sum_sq) {
  double s[kLanes] = {}, q[kLanes] = {};
  for (int img = 0; img < n; img++) {
    const float* p = x + ((int64_t)img * c + ch) * hw;
    int i = 0;
    for (; i + kLanes <= hw; i += kLanes)
      for (int l = 0; l < kLanes; l++) {
        const double v = p[i + l];
        s[l] += v;
        q[l] += v * v;
      }
    for (int l = 0; i < hw; i++, l++) {
      const double v = p[i];
      s[l] += v;
      q[l] += v * v;
    }
  }
  sum = 0, sum_sq = 0;
  for (int l = 0; l < kLanes; l++) sum += s[l], sum_sq += q[l];
}

void batch_norm2d_stats(int n, int c, int hw, const float* x, float eps, float momentum, float* running_mean,
                        float* running_var, float* mean, float* invstd) {
  const double count = (double)n * hw;
  parallel_for(0, c, grain_for((int64_t)n * hw), [&](int64_t lo, int64_t hi) {
    for (int64_t ch = lo; ch < hi; ch++) {
      double sum, sum_sq;
      channel_sums(n, c, hw, x, (int)ch, sum, sum_sq);
      const NormStats s = norm_stats(sum, sum_sq, count);
      mean[ch] = (float)s.mean;
      invstd[ch] = norm_invstd(s.var, eps);
      if (running_mean && running_var) norm_update_running(running_mean[ch], running_var[ch], s, count, momentum);
    }
  });
}

void batch_norm2d_invstd(int c, const float* var, float eps, float* invstd) {
  for (int ch = 0; ch < c; ch++) invstd[ch] = norm_invstd(var[ch], eps);
}

void batch_norm2d_forward(int n, int c, int hw, const float* x, const float* mean, const float* invstd,
                          const float* weight, const float* bias, float* y) {
  parallel_for(0, (int64_t)n * c, grain_for(hw), [&](int64_t lo, int64_t hi) {
    for (int64_t plane = lo; plane < hi; plane++) {
      const int ch = (int)(plane % c);
      const float m = mean[ch], is = invstd[ch];
      const float w = weight ? weight[ch] : 1.0f, b = bias ? bias[ch] : 0.0f;
      const float* xp = x + plane * hw;
      float* yp = y + plane * hw;
      for (int i = 0; i < hw; i++) yp[i] = norm_apply(xp[i], m, is, w, b);
    }
  });
}

// sum dy and sum dy*(x - mean) of channel ch, in double
static void channel_grad_sums(int n, int c, int hw, const float* x, const float* dy, int ch, double mean,
                              double& sum_dy, double& sum_dyxc) {
  double s[kLanes] = {}, q[kLanes] = {};
  for (int img = 0; img < n; img++) {
    const int64_t base = ((int64_t)img * c + ch) * hw;
    const float *xp = x + base, *gp = dy + base;
    int i = 0;
    for (; i + kLanes <= hw; i += kLanes)
      for (int l = 0; l < kLanes; l++) {
        const double g = gp[i + l];
        s[l] += g;
        q[l] += g * ((double)xp[i + l] - mean);
      }
    for (int l = 0; i < hw; i++, l++) {
      const double g = gp[i];
      s[l] += g;
      q[l] += g * ((double)xp[i] - mean);
    }
  }
  sum_dy = 0, sum_dyxc = 0;
  for (int l = 0; l < kLanes; l++) sum_dy += s[l], sum_dyxc += q[l];
}

void batch_norm2d_backward(int n, int c, int hw, const float* x, const float* dy, const float* mean,
                           const float* invstd, const float* weight, bool batch_stats, float* dx, float* dweight,
                           float* dbias) {
  const double count = (double)n * hw;
  // per channel: the sums, the weight gradients, and dx's constants
  std::vector<NormGrad> grads(c);
  parallel_for(0, c, grain_for(2 * (int64_t)n * hw), [&](int64_t lo, int64_t hi) {
    for (int64_t ch = lo; ch < hi; ch++) {
      const float w = weight ? weight[ch] : 1.0f;
      double sum_dy = 0, sum_dyxc = 0;
      if (batch_stats || dweight || dbias) channel_grad_sums(n, c, hw, x, dy, (int)ch, mean[ch], sum_dy, sum_dyxc);
      const double sum_dyxh = sum_dyxc * invstd[ch];
      if (dweight) dweight[ch] = (float)sum_dyxh;
      if (dbias) dbias[ch] = (float)sum_dy;
      grads[ch] = norm_grad(sum_dy, sum_dyxh, count, invstd[ch], w);
    }
  });
  parallel_for(0, (int64_t)n * c, grain_for(2 * (int64_t)hw), [&](int64_t lo, int64_t hi) {
    for (int64_t plane = lo; plane < hi; plane++) {
      const int ch = (int)(plane % c);
      const NormGrad g = grads[ch];
      const float m = mean[ch], is = invstd[ch];
      const float *xp = x + plane * hw, *gp = dy + plane * hw;
      float* dp = dx + plane * hw;
      if (batch_stats) {
        for (int i = 0; i < hw; i++) dp[i] = norm_dx_batch(xp[i], gp[i], m, is, g);
      } else {
        for (int i = 0; i < hw; i++) dp[i] = gp[i] * g.scale;
      }
    }
  });
}

}  // namespace cpu
}  // namespace cudalab
