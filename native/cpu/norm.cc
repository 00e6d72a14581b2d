// batch norm on the cpu (ops.h), PyTorch's BatchNorm2d. the per-channel sums
// are in double (precision: common/norm_formulas.h), in 8 interleaved lanes
// and an order fixed by the shape (channel_sums), so the bits never depend on
// the thread count. the per-element passes are split by plane, each element
// written once.
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

// adds 4 floats (or their squares) into 4 double lanes: written as 4-wide
// loops because gcc turns those into one conversion and one add (or fma: a
// float's square is exact in double, so fused or not the bits agree) per 4
// lanes, where an 8-wide loop came out as a mix of vector and scalar pieces
static inline void add_lanes4(double* s, const float* x) {
  for (int l = 0; l < 4; l++) s[l] += (double)x[l];
}
static inline void add_squares4(double* s, const float* x) {
  for (int l = 0; l < 4; l++) {
    const double v = x[l];
    s[l] += v * v;
  }
}
// s += g * (x - m) in 4 lanes, the backward's sum of dy * (x - mean)
static inline void add_products4(double* s, const float* g, const float* x, double m) {
  for (int l = 0; l < 4; l++) s[l] += (double)g[l] * ((double)x[l] - m);
}

// the 8 lanes in order, into one sum
static inline double lanes_total(const double* s) {
  double t = 0;
  for (int l = 0; l < kLanes; l++) t += s[l];
  return t;
}

// adds one contiguous plane of hw values into 8 lanes of sum x (sa) and 8 of
// sum x^2 (sb): element i to lane i % 8
static inline void add_plane_x(int hw, const float* xp, double* sa, double* sb) {
  int i = 0;
  for (; i + kLanes <= hw; i += kLanes) {
    add_lanes4(sa, xp + i);
    add_lanes4(sa + 4, xp + i + 4);
    add_squares4(sb, xp + i);
    add_squares4(sb + 4, xp + i + 4);
  }
  for (int l = 0; i < hw; i++, l++) {
    const double v = xp[i];
    sa[l] += v;
    sb[l] += v * v;
  }
}

// the same for sum dy (sa) and sum dy * (x - m) (sb)
static inline void add_plane_dy(int hw, const float* xp, const float* gp, double m, double* sa, double* sb) {
  int i = 0;
  for (; i + kLanes <= hw; i += kLanes) {
    add_lanes4(sa, gp + i);
    add_lanes4(sa + 4, gp + i + 4);
    add_products4(sb, gp + i, xp + i, m);
    add_products4(sb + 4, gp + i + 4, xp + i + 4, m);
  }
  for (int l = 0; i < hw; i++, l++) {
    const double g = gp[i];
    sa[l] += g;
    sb[l] += g * ((double)xp[i] - m);
  }
}

// calls fn(plane, channel) for the planes lo..hi-1 of an n x c grid, the
// channel counted along (no division per plane: a 4x4 plane is 16 values)
template <class Fn>
static inline void for_planes(int64_t lo, int64_t hi, int c, const Fn& fn) {
  int ch = (int)(lo % c);
  for (int64_t p = lo; p < hi; p++) {
    fn(p, ch);
    if (++ch == c) ch = 0;
  }
}

// from this many channels on, the sums are split by channel
constexpr int kChannelSplit = 16;

// per channel, the two sums over its n planes, add_plane(p, ch, sa, sb)
// adding plane p's values into 8 + 8 lanes. the order of the additions is
// fixed by the shape alone, never by the thread count:
// - with kChannelSplit channels or more, each thread takes a block of
//   channels and walks the images (memory in order, one block per image),
//   each channel's 8 lanes gathering its values across all its planes; the
//   lanes are added in order at the end. no per-plane reduction: with 4x4
//   planes that would cost more than the 16 values.
// - with fewer channels (too few to go round the threads), every plane is
//   summed on its own in parallel (its lanes, then the lanes in order), then
//   a channel's planes are added image by image.
template <class AddPlane>
static void channel_sums(int n, int c, int hw, const AddPlane& add_plane, std::vector<double>& a,
                         std::vector<double>& b) {
  a.assign(c, 0.0);
  b.assign(c, 0.0);
  if (c >= kChannelSplit) {
    std::vector<double> lanes((int64_t)c * 2 * kLanes, 0.0);  // per channel: 8 lanes of a, then 8 of b
    parallel_for(0, c, grain_for((int64_t)n * hw), [&](int64_t lo, int64_t hi) {
      for (int img = 0; img < n; img++)
        for (int64_t ch = lo; ch < hi; ch++) {
          double* l = lanes.data() + ch * 2 * kLanes;
          add_plane((int64_t)img * c + ch, (int)ch, l, l + kLanes);
        }
      for (int64_t ch = lo; ch < hi; ch++) {
        a[ch] = lanes_total(lanes.data() + ch * 2 * kLanes);
        b[ch] = lanes_total(lanes.data() + ch * 2 * kLanes + kLanes);
      }
    });
    return;
  }
  const int64_t planes = (int64_t)n * c;
  std::vector<double> pa(planes), pb(planes);
  parallel_for(0, planes, grain_for(hw), [&](int64_t lo, int64_t hi) {
    for_planes(lo, hi, c, [&](int64_t p, int ch) {
      alignas(32) double sa[kLanes] = {}, sb[kLanes] = {};
      add_plane(p, ch, sa, sb);
      pa[p] = lanes_total(sa);
      pb[p] = lanes_total(sb);
    });
  });
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
      n, c, hw, [&](int64_t p, int, double* sa, double* sb) { add_plane_x(hw, x + p * hw, sa, sb); }, sum, sum_sq);
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
    for_planes(lo, hi, c, [&](int64_t plane, int ch) {
      const float m = mean[ch], is = invstd[ch];
      const float w = weight ? weight[ch] : 1.0f, b = bias ? bias[ch] : 0.0f;
      const float* xp = x + plane * hw;
      float* yp = y + plane * hw;
      for (int i = 0; i < hw; i++) yp[i] = norm_apply(xp[i], m, is, w, b);
    });
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
        [&](int64_t p, int ch, double* sa, double* sb) { add_plane_dy(hw, x + p * hw, dy + p * hw, mean[ch], sa, sb); },
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
    for_planes(lo, hi, c, [&](int64_t plane, int ch) {
      const NormGrad g = grads[ch];
      const float m = mean[ch], is = invstd[ch];
      const float *xp = x + plane * hw, *gp = dy + plane * hw;
      float* dp = dx + plane * hw;
      if (batch_stats) {
        for (int i = 0; i < hw; i++) dp[i] = norm_dx_batch(xp[i], gp[i], m, is, g);
      } else {
        for (int i = 0; i < hw; i++) dp[i] = gp[i] * g.scale;
      }
    });
  });
}

}  // namespace CUDALAB_CPU_ISA
}  // namespace cpu
}  // namespace cudalab
