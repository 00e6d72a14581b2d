// the op table: every backend (cpu::, cuda::) implements exactly these
// functions with exactly these signatures. the table is written once, as a
// macro, and declared in each backend's namespace, so the two cannot drift.
//
// conventions:
// - float32, row-major, NCHW. pointers point into the backend's own memory
//   (host memory for cpu::, device memory for cuda::).
// - cuda:: functions enqueue work on the backend's stream and return at once;
//   only synchronize() and copy_to_host() wait for the GPU.
// - outputs are overwritten, never accumulated into (gemm's beta aside), and
//   every output element is written: tests poison outputs with NaN first.
// - when gemm's beta is 0, C is not read (a NaN there does not leak through).
// - elementwise ops allow out to alias an input; nothing else aliases.
// - shapes are validated by the caller (addon.cc) before any op runs.
#pragma once
#include <cstddef>
#include <cstdint>

namespace cudalab {

// a 2-d convolution, cross-correlation as PyTorch defines it.
// x: n*c*h*w, w: k*c*r*s, bias: k, y: n*k*p*q
// p = (h + 2*pad_h - r) / stride_h + 1, q = (w + 2*pad_w - s) / stride_w + 1
struct ConvShape {
  int n, c, h, w;
  int k, r, s;
  int stride_h, stride_w, pad_h, pad_w;
  int p, q;
};

// a 2-d pooling window. x: n*c*h*w, y: n*c*p*q; padding counts as -inf for
// max pooling and as zeros (included in the divisor) for average pooling,
// PyTorch's defaults. p = (h + 2*pad_h - kh) / stride_h + 1, likewise q.
struct PoolShape {
  int n, c, h, w;
  int kh, kw, stride_h, stride_w, pad_h, pad_w;
  int p, q;
};

}  // namespace cudalab

#define CUDALAB_OP_TABLE                                                                  \
  /* memory */                                                                            \
  void* alloc(size_t bytes);                                                              \
  void release(void* ptr);                                                                \
  void copy_from_host(void* dst, const void* host_src, size_t bytes);                    \
  void copy_to_host(void* host_dst, const void* src, size_t bytes); /* waits */           \
  void copy(void* dst, const void* src, size_t bytes);                                    \
  void synchronize();                                                                     \
                                                                                          \
  /* C = alpha*op(A)*op(B) + beta*C; op(A) is m*k, op(B) is k*n, C is m*n.             */ \
  /* A is stored m*k (k*m when trans_a), B is stored k*n (n*k when trans_b).           */ \
  void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, \
            const float* b, float beta, float* c);                                        \
                                                                                          \
  /* convolution; bias and db may be null. backward_weight writes dw (and db).       */   \
  void conv2d_forward(const ConvShape& s, const float* x, const float* w,                 \
                      const float* bias, float* y);                                       \
  void conv2d_backward_input(const ConvShape& s, const float* dy, const float* w,         \
                             float* dx);                                                  \
  void conv2d_backward_weight(const ConvShape& s, const float* x, const float* dy,        \
                              float* dw, float* db);                                      \
                                                                                          \
  /* pooling. argmax holds, per output, the index (ih*w + iw) of the max in its plane */  \
  void maxpool2d_forward(const PoolShape& s, const float* x, float* y, int32_t* argmax);   \
  void maxpool2d_backward(const PoolShape& s, const float* dy, const int32_t* argmax,     \
                          float* dx);                                                     \
  void avgpool2d_forward(const PoolShape& s, const float* x, float* y);                   \
  void avgpool2d_backward(const PoolShape& s, const float* dy, float* dx);                \
                                                                                          \
  /* elementwise. relu_backward takes the forward output y: dx = y > 0 ? dy : 0       */  \
  void relu_forward(int64_t n, const float* x, float* y);                                 \
  void relu_backward(int64_t n, const float* dy, const float* y, float* dx);              \
  void add(int64_t n, const float* a, const float* b, float* out);                        \
  void mul(int64_t n, const float* a, const float* b, float* out);                        \
  void scale(int64_t n, const float* x, float alpha, float* out);                         \
  /* out = alpha*a + beta*b */                                                            \
  void axpby(int64_t n, float alpha, const float* a, float beta, const float* b,          \
             float* out);                                                                 \
  /* y[o][c][i] = x[o][c][i] + bias[c], for x viewed as outer*channels*inner          */  \
  void bias_add(int outer, int channels, int inner, const float* x, const float* bias,    \
                float* y);                                                                \
  /* y[o][i] = sum over r of x[o][r][i], for x viewed as outer*reduce*inner.          */  \
  /* the summation order is fixed, so results do not depend on the thread count.     */   \
  void sum_axis(int outer, int reduce, int inner, const float* x, float* y);              \
                                                                                          \
  /* softmax cross-entropy, fused. logits n*classes, labels n (0..classes-1).         */  \
  /* forward writes probs (n*classes) and loss[0] = mean of -log p[label].            */  \
  /* backward: dlogits = (probs - onehot(label)) * dloss[0] / n; dloss is a 1-element */  \
  /* buffer on the same device, so the backward never waits on the host.             */  \
  void softmax_xent_forward(int n, int classes, const float* logits, const int32_t* labels, \
                            float* probs, float* loss);                                   \
  void softmax_xent_backward(int n, int classes, const float* probs, const int32_t* labels, \
                             const float* dloss, float* dlogits);                         \
  /* out[i] = first index of the row maximum */                                           \
  void argmax(int n, int classes, const float* x, int32_t* out);                          \
  /* count[0] = number of rows whose argmax equals the label */                           \
  void correct_count(int n, int classes, const float* logits, const int32_t* labels,      \
                     int32_t* count);                                                     \
                                                                                          \
  /* optimizers, PyTorch's formulas. adam: decoupled=false adds weight_decay*param to  */ \
  /* the gradient (Adam), decoupled=true multiplies param by (1 - lr*weight_decay)     */ \
  /* first (AdamW). step counts from 1. sgd: first_step initialises the momentum buffer */ \
  /* to the gradient, as PyTorch does.                                                 */ \
  void adam_step(int64_t n, float* param, const float* grad, float* m, float* v, float lr, \
                 float beta1, float beta2, float eps, float weight_decay, bool decoupled, \
                 int step);                                                               \
  void sgd_step(int64_t n, float* param, const float* grad, float* momentum_buf, float lr, \
                float momentum, float dampening, float weight_decay, bool nesterov,       \
                bool first_step);                                                         \
                                                                                          \
  /* randomness: counter-based (philox4x32-10, common/philox.h), so element i of a      */ \
  /* (seed, offset) stream has the same value on every backend and thread count.        */ \
  /* dropout: mask[i] = (uniform(i) >= p) / (1 - p); y = x * mask; dx = dy * mask       */ \
  void dropout_forward(int64_t n, const float* x, float* y, float* mask, float p,         \
                       uint64_t seed, uint64_t offset);                                   \
  void dropout_backward(int64_t n, const float* dy, const float* mask, float* dx);        \
  void fill(int64_t n, float* x, float value);                                            \
  void uniform(int64_t n, float* x, float lo, float hi, uint64_t seed, uint64_t offset);  \
  void normal(int64_t n, float* x, float mean, float stddev, uint64_t seed,               \
              uint64_t offset);                                                           \
                                                                                          \
  /* data: a batch built from a data set kept in the backend's memory.                  */ \
  /* images: count images of channels*plane uint8 each (CHW); labels: count uint8.      */ \
  /* batch item i is image idx = order ? order[first + i] : first + i, and              */ \
  /*   out[i][c][p] = table[c*256 + images[idx][c][p]], out_labels[i] = labels[idx].    */ \
  /* a table lookup, no arithmetic: bit-identical on every backend, and to a host       */ \
  /* loader using the same table. an idx outside [0, count) (the binding rejects        */ \
  /* it on cpu; a cuda kernel cannot stop to ask) gives NaN pixels and label -1,        */ \
  /* never a read outside images, so it surfaces as a non-finite loss.                  */ \
  void gather_images(int batch, int count, int channels, int plane, const uint8_t* images, \
                     const uint8_t* labels, const int32_t* order, int first,              \
                     const float* table, float* out, int32_t* out_labels);               \
                                                                                          \
  /* augmentation (common/augment.h): x and out are batch*channels*height*width. item i  */ \
  /* is image ids[i] of the data set; its choices are philox draws of (seed, epoch,     */ \
  /* ids[i]): a translation by up to `translate` pixels in each direction with reflect  */ \
  /* padding, a mirror (flip 0 none, 1 random, 2 alternating: a coin per image, then    */ \
  /* every image toggled every other epoch) and a cutout square of side `cutout` set    */ \
  /* to 0 (0: none). copies only: bit-identical on every backend.                       */ \
  void augment_images(int batch, int channels, int height, int width, const float* x,     \
                      const int32_t* ids, uint64_t seed, int epoch, int translate, int flip, \
                      int cutout, float* out);                                            \
  /* every image translated by (dy, dx) with reflect padding, then mirrored when flip   */ \
  /* (test-time augmentation's views)                                                   */ \
  void shift_flip_images(int batch, int channels, int height, int width, const float* x,  \
                         int dy, int dx, bool flip, float* out);                          \
                                                                                          \
  /* batch norm over x viewed as n*c*hw, per channel c, PyTorch's BatchNorm2d.          */ \
  /* stats (training): mean[c] and invstd[c] = 1/sqrt(biased var + eps) of the batch;   */ \
  /* running_mean/var (both or neither) become (1-momentum)*running + momentum*stat,    */ \
  /* with the unbiased variance. needs n*hw >= 2. invstd (eval): 1/sqrt(var + eps).     */ \
  /* forward: y = (x - mean)*invstd*weight + bias (weight, bias may be null: 1, 0).     */ \
  /* backward: dweight = sum dy*xhat, dbias = sum dy (each may be null); batch_stats:   */ \
  /* dx also flows through the batch's mean and variance (training), else through y.    */ \
  void batch_norm2d_stats(int n, int c, int hw, const float* x, float eps, float momentum, \
                          float* running_mean, float* running_var, float* mean,           \
                          float* invstd);                                                 \
  void batch_norm2d_invstd(int c, const float* var, float eps, float* invstd);            \
  void batch_norm2d_forward(int n, int c, int hw, const float* x, const float* mean,      \
                            const float* invstd, const float* weight, const float* bias,  \
                            float* y);                                                    \
  void batch_norm2d_backward(int n, int c, int hw, const float* x, const float* dy,       \
                             const float* mean, const float* invstd, const float* weight, \
                             bool batch_stats, float* dx, float* dweight, float* dbias);  \
                                                                                          \
  /* gelu, exact (erf) form: y = x * phi(x); dx = dy * (phi(x) + x * pdf(x)), from the   */ \
  /* forward input x (common/gelu_formula.h)                                            */ \
  void gelu_forward(int64_t n, const float* x, float* y);                                 \
  void gelu_backward(int64_t n, const float* dy, const float* x, float* dx);              \
                                                                                          \
  /* softmax cross-entropy with label smoothing s, PyTorch's definition: the target is */ \
  /* (1 - s) * onehot(label) + s / classes. forward writes probs and loss[0], the sum   */ \
  /* over rows (sum) or their mean. backward: dlogits = (probs - target) * g, with      */ \
  /* g = dloss[0] (sum) or dloss[0] / n (mean). s = 0 with the mean gives the same bits */ \
  /* as softmax_xent_forward/backward on the cpu.                                       */ \
  void softmax_xent_smooth_forward(int n, int classes, const float* logits,               \
                                   const int32_t* labels, float smoothing, bool sum,      \
                                   float* probs, float* loss);                            \
  void softmax_xent_smooth_backward(int n, int classes, const float* probs,               \
                                    const int32_t* labels, float smoothing, bool sum,     \
                                    const float* dloss, float* dlogits);

namespace cudalab {
namespace cpu {
// the cpu table is declared in cpu/dispatch.h: one build of the kernels per
// instruction set, chosen at run time
// threads the CPU kernels use (default: the machine's cores)
void set_num_threads(int n);
int num_threads();
}  // namespace cpu
#ifdef CUDALAB_WITH_CUDA
namespace cuda {
CUDALAB_OP_TABLE
}  // namespace cuda
#endif
}  // namespace cudalab
