// times the cpu batch norm kernels (stats, forward, backward) beside relu at
// the same element count, on one thread, in process cpu time (what the
// kernel itself costs, less sensitive than wall time to other work sharing
// the machine), and prints a hash of every output's bits, so two builds of
// norm.cc can be compared for speed and for identical results.
// standalone: bench/cpu/norm-bandwidth.sh builds it straight from the sources.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <vector>

#include "ops.h"

namespace cpu = cudalab::cpu;

namespace {

// fnv-1a over the floats' bits
uint64_t bits_hash(const std::vector<float>& v, uint64_t h) {
  for (float f : v) {
    uint32_t b;
    std::memcpy(&b, &f, sizeof b);
    h = (h ^ b) * 1099511628211ull;
  }
  return h;
}

double cpu_ms() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

// median over runs, after one warm-up call
template <class F>
double median_ms(int runs, const F& f) {
  f();
  std::vector<double> t;
  for (int r = 0; r < runs; r++) {
    const double a = cpu_ms();
    f();
    t.push_back(cpu_ms() - a);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 7;
  cpu::set_num_threads(1);
  // the models' layers (resnet18 bn1, airbench94 block1 and block3), one long channel, odd sizes
  const int shapes[][3] = {{128, 64, 1024}, {1024, 64, 256}, {1024, 256, 16}, {64, 1, 4096}, {3, 5, 63}};
  std::printf("%-16s %8s %6s %8s %6s %8s %6s %6s  %s\n", "n x c x hw", "stats ms", "GB/s", "fwd ms", "GB/s", "bwd ms",
              "GB/s", "relu", "output bits");
  for (const auto& s : shapes) {
    const int n = s[0], c = s[1], hw = s[2];
    const size_t count = (size_t)n * c * hw;
    std::vector<float> x(count), dy(count), y(count), dx(count), mean(c), invstd(c), rm(c, 0.0f), rv(c, 1.0f), w(c),
        dw(c), db(c);
    std::mt19937 g(1);
    std::uniform_real_distribution<float> u(-1, 1);
    for (auto& v : x) v = 1.5f + u(g);
    for (auto& v : dy) v = u(g);
    for (auto& v : w) v = 1 + 0.3f * u(g);
    const double stats = median_ms(runs, [&] {
      cpu::batch_norm2d_stats(n, c, hw, x.data(), 1e-5f, 0.1f, nullptr, nullptr, mean.data(), invstd.data());
    });
    const double fwd = median_ms(runs, [&] {
      cpu::batch_norm2d_forward(n, c, hw, x.data(), mean.data(), invstd.data(), w.data(), nullptr, y.data());
    });
    const double bwd = median_ms(runs, [&] {
      cpu::batch_norm2d_backward(n, c, hw, x.data(), dy.data(), mean.data(), invstd.data(), w.data(), true, dx.data(),
                                 dw.data(), db.data());
    });
    const double relu = median_ms(runs, [&] { cpu::relu_forward((int64_t)count, x.data(), y.data()); });
    // every output once more, for the hash
    cpu::batch_norm2d_stats(n, c, hw, x.data(), 1e-5f, 0.1f, rm.data(), rv.data(), mean.data(), invstd.data());
    cpu::batch_norm2d_forward(n, c, hw, x.data(), mean.data(), invstd.data(), w.data(), nullptr, y.data());
    cpu::batch_norm2d_backward(n, c, hw, x.data(), dy.data(), mean.data(), invstd.data(), w.data(), true, dx.data(),
                               dw.data(), db.data());
    uint64_t h = 1469598103934665603ull;
    for (const auto* v : {&mean, &invstd, &rm, &rv, &y, &dx, &dw, &db}) h = bits_hash(*v, h);
    const double mb = count * 4e-6;  // one pass over the tensor, MB
    char shape[32];
    std::snprintf(shape, sizeof shape, "%dx%dx%d", n, c, hw);
    std::printf("%-16s %8.3f %6.1f %8.3f %6.1f %8.3f %6.1f %6.1f  %016llx\n", shape, stats, mb / stats, fwd,
                2 * mb / fwd, bwd, 5 * mb / bwd, 2 * mb / relu, (unsigned long long)h);
  }
}
