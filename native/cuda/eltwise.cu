// elementwise ops: memory-bound, so each thread moves 16-byte vectors where
// every pointer is 16-byte aligned (the common case: buffers come from
// cudaMalloc), with a scalar loop for the tail and for unaligned views.
// out may alias an input: each element is read before it is written, by the
// same thread.
#include <cstdint>

#include "common/gelu_formula.h"
#include "cuda/context.cuh"
#include "ops.h"

namespace cudalab {
namespace cuda {

namespace {

constexpr int kThreads = 256;

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }


// f is a functor: float operator()(float) const or float operator()(float, float) const
template <class F>
__global__ void unary_kernel(int64_t n, const float* x, float* out, F f, bool vec) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  int64_t start = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  int64_t done = 0;
  if (vec) {
    const int64_t n4 = n / 4;
    for (int64_t i = start; i < n4; i += stride) {
      float4 v = reinterpret_cast<const float4*>(x)[i];
      reinterpret_cast<float4*>(out)[i] = make_float4(f(v.x), f(v.y), f(v.z), f(v.w));
    }
    done = n4 * 4;
  }
  for (int64_t i = done + start; i < n; i += stride) out[i] = f(x[i]);
}

template <class F>
__global__ void binary_kernel(int64_t n, const float* a, const float* b, float* out, F f, bool vec) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  int64_t start = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  int64_t done = 0;
  if (vec) {
    const int64_t n4 = n / 4;
    for (int64_t i = start; i < n4; i += stride) {
      float4 u = reinterpret_cast<const float4*>(a)[i];
      float4 v = reinterpret_cast<const float4*>(b)[i];
      reinterpret_cast<float4*>(out)[i] = make_float4(f(u.x, v.x), f(u.y, v.y), f(u.z, v.z), f(u.w, v.w));
    }
    done = n4 * 4;
  }
  for (int64_t i = done + start; i < n; i += stride) out[i] = f(a[i], b[i]);
}

struct Relu {  // NaN passes through, as on the cpu and in PyTorch
  __device__ float operator()(float x) const { return x < 0.0f ? 0.0f : x; }
};
struct ReluBackward {  // (dy, y)
  __device__ float operator()(float dy, float y) const { return y > 0.0f ? dy : 0.0f; }
};
struct Add {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct Mul {
  __device__ float operator()(float a, float b) const { return a * b; }
};
struct Scale {
  float alpha;
  __device__ float operator()(float x) const { return alpha * x; }
};
struct Axpby {
  float alpha, beta;
  __device__ float operator()(float a, float b) const { return alpha * a + beta * b; }
};

struct Gelu {
  __device__ float operator()(float x) const { return gelu_forward_at(x); }
};
struct GeluBackward {  // (dy, x)
  __device__ float operator()(float dy, float x) const { return gelu_backward_at(dy, x); }
};

template <class F>
void unary(const char* what, int64_t n, const float* x, float* out, F f) {
  if (n <= 0) return;
  bool vec = aligned16(x) && aligned16(out);
  unary_kernel<<<grid_for(vec ? (n + 3) / 4 : n, kThreads), kThreads, 0, stream()>>>(n, x, out, f, vec);
  CUDA_CHECK_LAUNCH(what);
}

template <class F>
void binary(const char* what, int64_t n, const float* a, const float* b, float* out, F f) {
  if (n <= 0) return;
  bool vec = aligned16(a) && aligned16(b) && aligned16(out);
  binary_kernel<<<grid_for(vec ? (n + 3) / 4 : n, kThreads), kThreads, 0, stream()>>>(n, a, b, out, f, vec);
  CUDA_CHECK_LAUNCH(what);
}

// y[o][c][i] = x[o][c][i] + bias[c], one thread per element
__global__ void bias_add_kernel(int64_t total, int channels, int inner, const float* x, const float* bias,
                                float* y) {
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total;
       idx += (int64_t)gridDim.x * blockDim.x) {
    const int c = (int)((idx / inner) % channels);
    y[idx] = x[idx] + __ldg(bias + c);
  }
}

}  // namespace

void relu_forward(int64_t n, const float* x, float* y) { unary("relu_forward", n, x, y, Relu{}); }

void relu_backward(int64_t n, const float* dy, const float* y, float* dx) {
  binary("relu_backward", n, dy, y, dx, ReluBackward{});
}

void add(int64_t n, const float* a, const float* b, float* out) { binary("add", n, a, b, out, Add{}); }

void mul(int64_t n, const float* a, const float* b, float* out) { binary("mul", n, a, b, out, Mul{}); }

void scale(int64_t n, const float* x, float alpha, float* out) { unary("scale", n, x, out, Scale{alpha}); }

void axpby(int64_t n, float alpha, const float* a, float beta, const float* b, float* out) {
  binary("axpby", n, a, b, out, Axpby{alpha, beta});
}

void bias_add(int outer, int channels, int inner, const float* x, const float* bias, float* y) {
  const int64_t total = (int64_t)outer * channels * inner;
  if (total <= 0) return;
  bias_add_kernel<<<grid_for(total, kThreads), kThreads, 0, stream()>>>(total, channels, inner, x, bias, y);
  CUDA_CHECK_LAUNCH("bias_add");
}

void gelu_forward(int64_t n, const float* x, float* y) { unary("gelu_forward", n, x, y, Gelu{}); }

void gelu_backward(int64_t n, const float* dy, const float* x, float* dx) {
  binary("gelu_backward", n, dy, x, dx, GeluBackward{});
}

}  // namespace cuda
}  // namespace cudalab
