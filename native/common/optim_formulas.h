// the per-element updates of the optimizers (and dropout's mask), written once
// for both backends: cpu/optim.cc and cuda/optim.cu call these functions, so
// the two compute the same operations in the same order.
//
// the formulas are PyTorch's (torch/optim/adam.py, sgd.py, the foreach path in
// float32). scalars PyTorch computes in Python (bias corrections, step size,
// 1 - lr*wd) are computed by the callers in double and rounded to float once.
//
// rounding, and what is guaranteed bit for bit between the backends:
// - every multiply-add is written as an explicit fmaf (one rounding), placed
//   where nvcc 13 fused the expressions the CUDA kernels spelled out before
//   (read off their PTX for sm_90), so the CUDA kernels keep their rounding;
//   on the cpu, fmaf is the FMA instruction (x86-64-v3, arm64) whatever the
//   build's -ffp-contract (cmake's gnu++17 contracts a*b+c by itself,
//   node-gyp's c++17 does not), so the cpu result no longer depends on it.
// - what is left is single float operations that every IEEE compiler rounds
//   alike: +, -, *, / and sqrtf (nvcc's default -prec-div/-prec-sqrt are
//   correctly rounded; we never build with --use_fast_math).
// - not guaranteed: torch_lerp's side for w >= 0.5 (Adam with beta1 <= 0.5,
//   far from the usual 0.9) is a plain multiply then subtract, which g++ under
//   -ffp-contract=fast and ptxas may each fuse or not. the cpu tests hold both
//   backends to float64 references there, not to each other.
#pragma once
#include <cmath>

#include "common/host_device.h"

namespace cudalab {

// torch.lerp: start + w*(end - start) for |w| < 0.5, else end - (end - start)*(1 - w).
// which side is a per-step choice (w = 1 - beta1), made by the caller
template <bool kLowWeight>
CUDALAB_HD float torch_lerp(float start, float end, float w) {
  if (kLowWeight) return fmaf(w, end - start, start);
  return end - (end - start) * (1.0f - w);
}

// the per-step scalars of Adam/AdamW, in float as the kernels use them
struct AdamScalars {
  float lr_decay;       // AdamW: param *= 1 - lr*wd
  float weight_decay;   // Adam: grad += wd*param
  float one_minus_beta1, beta2, one_minus_beta2;
  float neg_step_size;  // -lr / (1 - beta1^step)
  float bc2_sqrt;       // sqrt(1 - beta2^step)
  float eps;
  bool coupled_decay;  // Adam's weight decay, through the gradient
  bool param_decay;    // AdamW's, on the parameter
};

// the scalars of one Adam step, on the host (double, then float once)
inline AdamScalars adam_scalars(float lr, float beta1, float beta2, float eps, float weight_decay, bool decoupled,
                                int step) {
  const double bc1 = 1.0 - std::pow((double)beta1, (double)step);
  const double bc2 = 1.0 - std::pow((double)beta2, (double)step);
  AdamScalars k;
  k.lr_decay = (float)(1.0 - (double)lr * (double)weight_decay);
  k.weight_decay = weight_decay;
  k.one_minus_beta1 = (float)(1.0 - (double)beta1);
  k.beta2 = beta2;
  k.one_minus_beta2 = (float)(1.0 - (double)beta2);
  k.neg_step_size = (float)(-((double)lr / bc1));
  k.bc2_sqrt = (float)std::sqrt(bc2);
  k.eps = eps;
  k.coupled_decay = weight_decay != 0.0f && !decoupled;
  k.param_decay = weight_decay != 0.0f && decoupled;
  return k;
}

// one element of param, m and v, updated in place (PyTorch's order of
// operations). the flags are the step's choices (AdamScalars::coupled_decay,
// param_decay, |one_minus_beta1| < 0.5) as template arguments, so the cpu
// loops hold no branch and vectorise; adam_update picks one per element
template <bool kCoupledDecay, bool kParamDecay, bool kLowWeight>
CUDALAB_HD void adam_update_with(float& param, float grad, float& m, float& v, const AdamScalars& k) {
  const float p = param;
  float g = grad;
  if (kCoupledDecay) g = fmaf(k.weight_decay, p, g);                        // grad.add(param, alpha=wd)
  const float mi = torch_lerp<kLowWeight>(m, g, k.one_minus_beta1);         // exp_avg.lerp_(grad, 1 - beta1)
  const float vi = fmaf(k.one_minus_beta2, g * g, v * k.beta2);             // mul_(beta2).addcmul_(g, g, 1 - beta2)
  const float denom = sqrtf(vi) / k.bc2_sqrt + k.eps;                       // sqrt, div bc2_sqrt, add eps
  const float update = mi / denom;                                          // addcdiv: value * (m / denom)
  // AdamW's param.mul_(1 - lr*wd) fuses with the addcdiv that follows it
  param = kParamDecay ? fmaf(k.lr_decay, p, k.neg_step_size * update) : fmaf(k.neg_step_size, update, p);
  m = mi;
  v = vi;
}

CUDALAB_HD bool adam_low_weight(const AdamScalars& k) { return fabsf(k.one_minus_beta1) < 0.5f; }

CUDALAB_HD void adam_update(float& param, float grad, float& m, float& v, const AdamScalars& k) {
  const bool low = adam_low_weight(k);
  if (k.coupled_decay) {
    low ? adam_update_with<true, false, true>(param, grad, m, v, k) : adam_update_with<true, false, false>(param, grad, m, v, k);
  } else if (k.param_decay) {
    low ? adam_update_with<false, true, true>(param, grad, m, v, k) : adam_update_with<false, true, false>(param, grad, m, v, k);
  } else {
    low ? adam_update_with<false, false, true>(param, grad, m, v, k) : adam_update_with<false, false, false>(param, grad, m, v, k);
  }
}

// the per-step scalars of SGD
struct SgdScalars {
  float neg_lr, momentum, one_minus_dampening, weight_decay;
  bool has_decay, has_momentum, nesterov, first_step;
};

// the scalars of one SGD step; has_momentum needs a buffer to keep it in
inline SgdScalars sgd_scalars(float lr, float momentum, float dampening, float weight_decay, bool nesterov,
                              bool first_step, bool has_buffer) {
  SgdScalars k;
  k.neg_lr = -lr;
  k.momentum = momentum;
  k.one_minus_dampening = (float)(1.0 - (double)dampening);
  k.weight_decay = weight_decay;
  k.has_decay = weight_decay != 0.0f;
  k.has_momentum = momentum != 0.0f && has_buffer;
  k.nesterov = nesterov;
  k.first_step = first_step;
  return k;
}

// one element of param (and the momentum buffer), updated in place
CUDALAB_HD void sgd_update(float& param, float grad, float* buf, const SgdScalars& k) {
  const float p = param;
  float g = grad;
  if (k.has_decay) g = fmaf(k.weight_decay, p, g);  // grad.add(param, alpha=wd)
  if (k.has_momentum) {
    // the first step clones the gradient into the buffer; later ones compute
    // buf*momentum + (1 - dampening)*grad
    const float b = k.first_step ? g : fmaf(k.one_minus_dampening, g, *buf * k.momentum);
    *buf = b;
    g = k.nesterov ? fmaf(k.momentum, b, g) : b;
  }
  param = fmaf(k.neg_lr, g, p);  // param.add_(grad, alpha=-lr)
}

// dropout keeps an element when its uniform draw u is >= p, scaled by 1/(1 - p).
// uniform draws are < 1, so p = 1 keeps nothing and the infinite scale is never used
CUDALAB_HD float dropout_keep_scale(float p) { return 1.0f / (1.0f - p); }
CUDALAB_HD float dropout_mask(float u, float p, float keep_scale) { return u >= p ? keep_scale : 0.0f; }

}  // namespace cudalab
