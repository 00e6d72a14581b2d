// gelu's compute floor on the cpu: common/gelu_formula.h's forward and
// backward over 4096 floats that stay in L1, on one thread, in process cpu
// time, beside relu over the same floats. in cache, memory costs nothing, so
// the time per element is the arithmetic's: multiplied by the bytes per
// element (8 forward, 12 backward) it bounds the GB/s the op can reach from
// memory on one core. bench/cpu/gelu-floor.sh builds it for x86-64-v3 (AVX2,
// what the addon is built for) and x86-64-v4 (AVX-512).
#include <cstdio>
#include <ctime>
#include <vector>

#include "common/gelu_formula.h"

namespace {

double cpu_ns() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

// the loops as native/cpu/eltwise.cc writes them
__attribute__((noinline)) void gelu_fwd(int n, const float* x, float* y) {
  for (int i = 0; i < n; i++) y[i] = cudalab::gelu_forward_at(x[i]);
}
__attribute__((noinline)) void gelu_bwd(int n, const float* dy, const float* x, float* dx) {
  for (int i = 0; i < n; i++) dx[i] = cudalab::gelu_backward_at(dy[i], x[i]);
}
__attribute__((noinline)) void relu(int n, const float* x, float* y) {
  for (int i = 0; i < n; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

template <class F>
double ns_per_element(int n, const F& f) {
  const int reps = 5000;
  f();
  const double a = cpu_ns();
  for (int r = 0; r < reps; r++) f();
  return (cpu_ns() - a) / ((double)reps * n);
}

}  // namespace

int main() {
  const int n = 4096;
  std::vector<float> x(n), dy(n, 0.5f), y(n);
  for (int i = 0; i < n; i++) x[i] = -6.0f + 12.0f * i / n;
  for (int round = 1; round <= 3; round++) {
    const double f = ns_per_element(n, [&] { gelu_fwd(n, x.data(), y.data()); });
    const double b = ns_per_element(n, [&] { gelu_bwd(n, dy.data(), x.data(), y.data()); });
    const double r = ns_per_element(n, [&] { relu(n, x.data(), y.data()); });
    std::printf("round %d: ns/element: gelu %.3f, gelu_bwd %.3f, relu %.3f; one-core ceiling: gelu %.1f GB/s, "
                "gelu_bwd %.1f GB/s, relu %.1f GB/s\n",
                round, f, b, r, 8 / f, 12 / b, 8 / r);
  }
}
