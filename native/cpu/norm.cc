// batch norm on the cpu (ops.h), PyTorch's BatchNorm2d. the per-channel sums
// are in double (precision: common/norm_formulas.h), in an order fixed by the
// shape: each (image, channel) plane summed by one thread in 8 interleaved
// lanes, then a channel's planes added image by image, so the bits never
// depend on the thread count. the per-element passes are split by plane too,
// each element written once.
#include <cstdint>
#include <vector>

#include "common/norm_formulas.h"
#include "cpu/parallel.h"
#include "cpu/dispatch.h"

namespace cudalab {
namespace cpu {
namespace CUDALAB_CPU_ISA {

constexpr int kLanes = 8;

// planes (or channels) per piece of work, so a piece touches ~32k floats
static int64_t grain_for(int64_t floats_each) { return floats_each >= 32768 ? 1 : 32768 / floats_each; }

// two double sums over one contiguous plane of hw values, term(i) giving the
// pair added for element i: 8 interleaved lanes (element i to lane i % 8),
// then the lanes in order
template <class Term>
static inline void plane_sums(int hw, const Term& term, double& a, double& b) {
  double sa[kLanes] = {}, sb[kLanes] = {};
  int i = 0;
  for (; i + kLanes <= hw; i += kLanes)
    for (int l = 0; l < kLanes; l++) term(i + l, sa[l], sb[l]);
  for (int l = 0; i < hw; i++, l++) term(i, sa[l], sb[l]);
  a = 0, b = 0;
  for (int l = 0; l < kLanes; l++) a += sa[l], b += sb[l];
}

// per channel, the two sums over its n planes: every (image, channel) plane
// summed on its own (in parallel, memory in order), then a channel's planes
// added image by image. both orders are fixed by the shape alone.
template <class PlaneFn>
static void channel_sums(int n, int c, int hw, const PlaneFn& plane_fn, std::vector<double>& a, std::vector<double>& b) {
  const int64_t planes = (int64_t)n * c;
  std::vector<double> pa(planes), pb(planes);
  parallel_for(0, planes, grain_for(hw), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; p++) plane_fn(p, pa[p], pb[p]);
  });
  a.assign(c, 0.0);
  b.assign(c, 0.0);
  for (int img = 0; img < n; img++)
    for (int ch = 0; ch < c; ch++) {
      a[ch] += pa[(int64_t)img * c + ch];
      b[ch] += pb[(int64_t)img * c + ch];
    }
}

void batch_norm2d_stats(int n, int c, int hw, const float* x, float eps, float momentum, float* running_mean,
                        float* running_var, float* mean, float* invstd) {
  const double count = (double)n * hw;
  std::vector<double> sum, sum_sq;
  channel_sums(
      n, c, hw,
      [&](int64_t p, double& s, double& q) {
        const float* xp = x + p * hw;
        plane_sums(
            hw,
            [&](int i, double& ls, double& lq) {
              const double v = xp[i];
              ls += v;
              lq += v * v;
            },
            s, q);
      },
      sum, sum_sq);
  for (int ch = 0; ch < c; ch++) {
    const NormStats s = norm_stats(sum[ch], sum_sq[ch], count);
    mean[ch] = (float)s.mean;
    invstd[ch] = norm_invstd(s.var, eps);
    if (running_mean && running_var) norm_update_running(running_mean[ch], running_var[ch], s, count, momentum);
  }
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

void batch_norm2d_backward(int n, int c, int hw, const float* x, const float* dy, const float* mean,
                           const float* invstd, const float* weight, bool batch_stats, float* dx, float* dweight,
                           float* dbias) {
  const double count = (double)n * hw;
  // per channel: sum dy and sum dy*(x - mean), the weight gradients, and dx's constants
  std::vector<double> sum_dy(c, 0.0), sum_dyxc(c, 0.0);
  if (batch_stats || dweight || dbias) {
    channel_sums(
        n, c, hw,
        [&](int64_t p, double& s, double& q) {
          const float *xp = x + p * hw, *gp = dy + p * hw;
          const double m = mean[p % c];
          plane_sums(
              hw,
              [&](int i, double& ls, double& lq) {
                const double g = gp[i];
                ls += g;
                lq += g * ((double)xp[i] - m);
              },
              s, q);
        },
        sum_dy, sum_dyxc);
  }
  std::vector<NormGrad> grads(c);
  for (int ch = 0; ch < c; ch++) {
    const double sum_dyxh = sum_dyxc[ch] * invstd[ch];
    if (dweight) dweight[ch] = (float)sum_dyxh;
    if (dbias) dbias[ch] = (float)sum_dy[ch];
    grads[ch] = norm_grad(sum_dy[ch], sum_dyxh, count, invstd[ch], weight ? weight[ch] : 1.0f);
  }
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

}  // namespace CUDALAB_CPU_ISA
}  // namespace cpu
}  // namespace cudalab
