// checks the cpu gemm and conv kernels against a float64 reference, then
// times them. standalone: compiled straight from native/cpu/*.cc by build.sh,
// no node needed.
//
// every output is poisoned with NaN before each call, so an element the kernel
// forgets to write fails the check; every check also runs with 1, 2 and 3
// threads and demands bitwise-identical results.
//
//   bench/cpu/build.sh && build-bench/gemm_conv_check [--check-only|--bench-only] [--quick]
//       [--threads N] [--runs N] [--only SUBSTRING] [--cpu-time]
//
// EXTRA_FLAGS="-fsanitize=address,undefined -g" OUT=/tmp/asan bench/cpu/build.sh
// (or -fsanitize=thread, or -mno-avx2 -mno-fma for the portable paths) builds
// the same checks under a sanitizer; -DCUDALAB_CONV_OFFSET_LIMIT=0 sends conv
// down the packing paths that otherwise only inputs past 2^31 floats take.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <limits>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cpu/parallel.h"
#include "ops.h"

using cudalab::ConvShape;
// the kernels of one instruction-set build (build.sh's ISA), called directly,
// beside the thread pool's functions
namespace cudalab {
namespace cpu {
namespace CUDALAB_CPU_ISA {
CUDALAB_OP_TABLE
}
}  // namespace cpu
}  // namespace cudalab
namespace cpu {
using namespace cudalab::cpu;
using namespace cudalab::cpu::CUDALAB_CPU_ISA;
}  // namespace cpu

namespace {

int failures = 0;
constexpr double kTolerance = 1e-5;
const float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<float> random_vector(int64_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

// max |got - want| / max |want|; NaN anywhere in got counts as a failure
double relative_error(const std::vector<float>& got, const std::vector<double>& want) {
  double err = 0.0, scale = 0.0;
  for (size_t i = 0; i < want.size(); i++) {
    if (!std::isfinite(got[i])) return std::numeric_limits<double>::infinity();
    err = std::max(err, std::fabs(got[i] - want[i]));
    scale = std::max(scale, std::fabs(want[i]));
  }
  return scale == 0.0 ? err : err / scale;
}

// runs fn (which fills its output, poisoned first) at 1, 2 and 3 threads and
// compares each result to want and to the single-thread result bit for bit
void check(const std::string& name, size_t out_size, const std::vector<double>& want,
           const std::function<void(std::vector<float>&)>& fn) {
  const int saved = cpu::num_threads();
  std::vector<float> first;
  double worst = 0.0;
  bool same = true;
  for (int threads : {1, 2, 3}) {
    cpu::set_num_threads(threads);
    std::vector<float> out(out_size, kNaN);
    fn(out);
    worst = std::max(worst, relative_error(out, want));
    if (first.empty()) {
      first = out;
    } else if (std::memcmp(first.data(), out.data(), out_size * sizeof(float)) != 0) {
      same = false;
    }
  }
  cpu::set_num_threads(saved);
  const bool ok = worst <= kTolerance && same;
  if (!ok) failures++;
  std::printf("%-4s %-58s rel err %.2e%s\n", ok ? "ok" : "FAIL", name.c_str(), worst,
              same ? "" : "  (differs across thread counts)");
}

// ---------------------------------------------------------------- the pool

void expect(bool ok, const char* what) {
  if (!ok) failures++;
  std::printf("%-4s %s\n", ok ? "ok" : "FAIL", what);
}

void check_pool() {
  const int saved = cpu::num_threads();
  bool covered = true, chunks_ok = true, nested_ok = true;
  for (int threads : {1, 2, 3, 7}) {
    cpu::set_num_threads(threads);
    // every index exactly once, ranges of at least `grain`
    for (int64_t n : {0, 1, 5, 100, 1001}) {
      std::vector<std::atomic<int>> hits(n);
      for (auto& h : hits) h = 0;
      cpu::parallel_for(3, 3 + n, 7, [&](int64_t lo, int64_t hi) {
        if (hi - lo < std::min<int64_t>(7, n)) covered = false;
        for (int64_t i = lo; i < hi; i++) hits[i - 3]++;
      });
      for (auto& h : hits) covered = covered && h == 1;
    }
    // chunk boundaries depend on (begin, end, chunk) only
    std::vector<int64_t> seen(cpu::num_chunks(10, 1010, 64), -1);
    cpu::parallel_chunks(10, 1010, 64, [&](int64_t index, int64_t lo, int64_t hi) {
      if (lo != 10 + index * 64 || hi != std::min<int64_t>(1010, lo + 64)) chunks_ok = false;
      seen[index] = lo;
    });
    for (auto v : seen) chunks_ok = chunks_ok && v >= 0;
    // a nested call runs inline and still covers its range
    std::atomic<int64_t> total{0};
    cpu::parallel_for(0, 8, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; i++)
        cpu::parallel_for(0, 100, 1, [&](int64_t a, int64_t b) { total += b - a; });
    });
    nested_ok = nested_ok && total == 800;
  }
  expect(covered, "pool: parallel_for covers every index once, in pieces of at least grain");
  expect(chunks_ok, "pool: parallel_chunks boundaries are fixed by (begin, end, chunk)");
  expect(nested_ok, "pool: nested parallel_for runs inline");

  // an exception in a piece reaches the caller, and the pool still works after
  cpu::set_num_threads(2);
  bool thrown = false;
  try {
    cpu::parallel_for(0, 100, 1, [&](int64_t lo, int64_t) {
      if (lo > 0) throw std::runtime_error("piece failed");
    });
  } catch (const std::runtime_error&) {
    thrown = true;
  }
  int64_t after = 0;
  std::mutex m;
  cpu::parallel_for(0, 100, 1, [&](int64_t lo, int64_t hi) {
    std::lock_guard<std::mutex> lock(m);
    after += hi - lo;
  });
  expect(thrown && after == 100, "pool: an exception in a worker is rethrown on the caller");

  // two threads calling at once: one gets the pool, the other runs inline
  std::atomic<int64_t> sum{0};
  auto caller = [&] {
    for (int rep = 0; rep < 200; rep++)
      cpu::parallel_for(0, 1000, 10, [&](int64_t lo, int64_t hi) { sum += hi - lo; });
  };
  std::thread t1(caller), t2(caller);
  t1.join();
  t2.join();
  expect(sum == 2 * 200 * 1000, "pool: concurrent callers from two threads");
  cpu::set_num_threads(saved);
}

// ---------------------------------------------------------------- gemm

void reference_gemm(bool ta, bool tb, int m, int n, int k, double alpha, const float* a,
                    const float* b, double beta, const float* c0, std::vector<double>& c) {
  c.assign((size_t)m * n, 0.0);
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double acc = 0.0;
      for (int p = 0; p < k; p++) {
        double av = ta ? a[(int64_t)p * m + i] : a[(int64_t)i * k + p];
        double bv = tb ? b[(int64_t)j * k + p] : b[(int64_t)p * n + j];
        acc += av * bv;
      }
      c[(size_t)i * n + j] = alpha * acc + (beta == 0.0 ? 0.0 : beta * c0[(size_t)i * n + j]);
    }
}

void check_gemm(bool ta, bool tb, int m, int n, int k, float alpha, float beta) {
  auto a = random_vector((int64_t)m * k, 1 + m);
  auto b = random_vector((int64_t)k * n, 2 + n);
  auto c0 = random_vector((int64_t)m * n, 3 + k);
  std::vector<double> want;
  reference_gemm(ta, tb, m, n, k, alpha, a.data(), b.data(), beta, c0.data(), want);
  char name[128];
  std::snprintf(name, sizeof name, "gemm %c%c m=%d n=%d k=%d alpha=%g beta=%g", ta ? 'T' : 'N',
                tb ? 'T' : 'N', m, n, k, alpha, beta);
  check(name, want.size(), want, [&](std::vector<float>& c) {
    // with beta == 0 the NaN poison stays in C: it must not be read
    if (beta != 0.0f) c = c0;
    cpu::gemm(ta, tb, m, n, k, alpha, a.data(), b.data(), beta, c.data());
  });
}

// ---------------------------------------------------------------- conv

ConvShape make_shape(int n, int c, int h, int w, int k, int r, int s, int stride, int pad) {
  ConvShape sh{n, c, h, w, k, r, s, stride, stride, pad, pad, 0, 0};
  sh.p = (h + 2 * pad - r) / stride + 1;
  sh.q = (w + 2 * pad - s) / stride + 1;
  return sh;
}

// x(n, c, ih, iw) for an output position and kernel tap, or -1 in the padding
int64_t input_index(const ConvShape& s, int img, int ci, int oh, int ow, int ky, int kx) {
  int ih = oh * s.stride_h - s.pad_h + ky, iw = ow * s.stride_w - s.pad_w + kx;
  if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) return -1;
  return (((int64_t)img * s.c + ci) * s.h + ih) * s.w + iw;
}

std::string shape_name(const char* op, const ConvShape& s) {
  char name[160];
  std::snprintf(name, sizeof name, "%s x%dx%dx%dx%d w%dx%dx%dx%d s%d p%d", op, s.n, s.c, s.h,
                s.w, s.k, s.c, s.r, s.s, s.stride_h, s.pad_h);
  return name;
}

void check_conv(const ConvShape& s, bool with_bias) {
  auto x = random_vector((int64_t)s.n * s.c * s.h * s.w, 11);
  auto w = random_vector((int64_t)s.k * s.c * s.r * s.s, 12);
  auto bias = random_vector(s.k, 13);
  auto dy = random_vector((int64_t)s.n * s.k * s.p * s.q, 14);
  const int64_t y_size = (int64_t)s.n * s.k * s.p * s.q;
  const int64_t x_size = x.size(), w_size = w.size();

  std::vector<double> y(y_size, 0.0), dx(x_size, 0.0), dw(w_size, 0.0), db(s.k, 0.0);
  for (int img = 0; img < s.n; img++)
    for (int kk = 0; kk < s.k; kk++)
      for (int oh = 0; oh < s.p; oh++)
        for (int ow = 0; ow < s.q; ow++) {
          const int64_t yi = (((int64_t)img * s.k + kk) * s.p + oh) * s.q + ow;
          double acc = with_bias ? bias[kk] : 0.0;
          for (int ci = 0; ci < s.c; ci++)
            for (int ky = 0; ky < s.r; ky++)
              for (int kx = 0; kx < s.s; kx++) {
                int64_t xi = input_index(s, img, ci, oh, ow, ky, kx);
                if (xi < 0) continue;
                int64_t wi = (((int64_t)kk * s.c + ci) * s.r + ky) * s.s + kx;
                acc += (double)x[xi] * w[wi];
                dx[xi] += (double)dy[yi] * w[wi];
                dw[wi] += (double)dy[yi] * x[xi];
              }
          y[yi] = acc;
          db[kk] += dy[yi];
        }

  check(shape_name(with_bias ? "conv fwd+bias" : "conv fwd", s), y_size, y,
        [&](std::vector<float>& out) {
          cpu::conv2d_forward(s, x.data(), w.data(), with_bias ? bias.data() : nullptr,
                              out.data());
        });
  check(shape_name("conv bwd-input", s), x_size, dx, [&](std::vector<float>& out) {
    cpu::conv2d_backward_input(s, dy.data(), w.data(), out.data());
  });
  check(shape_name("conv bwd-weight", s), w_size, dw, [&](std::vector<float>& out) {
    std::vector<float> db_out(s.k, kNaN);
    cpu::conv2d_backward_weight(s, x.data(), dy.data(), out.data(),
                                with_bias ? db_out.data() : nullptr);
    // fold db into the check: a wrong db poisons dw so the comparison fails
    if (with_bias) {
      for (int kk = 0; kk < s.k; kk++)
        if (!(std::fabs(db_out[kk] - db[kk]) <= kTolerance * (1.0 + std::fabs(db[kk]))))
          out[0] = kNaN;
    }
  });
}

// ---------------------------------------------------------------- timing

// the machine's load, printed with the timings: they mean little when other
// programs share the cores
std::string load_average() {
  std::FILE* f = std::fopen("/proc/loadavg", "r");
  if (!f) return "load average unknown";
  double one = 0, five = 0, fifteen = 0;
  const int read = std::fscanf(f, "%lf %lf %lf", &one, &five, &fifteen);
  std::fclose(f);
  if (read != 3) return "load average unknown";
  char text[96];
  std::snprintf(text, sizeof text, "load average %.2f %.2f %.2f", one, five, fifteen);
  return text;
}

// --only SUBSTRING: time just the benchmarks whose name contains it
std::string only_filter;
bool wanted(const std::string& name) {
  return only_filter.empty() || name.find(only_filter) != std::string::npos;
}

struct Timing {
  double median, best;
};

// --cpu-time: measure the process's cpu time instead of wall time. with
// --threads 1 that is the kernel's own time even while other programs share
// the cores (for comparing versions on a busy machine; not a throughput figure)
bool use_cpu_time = false;
double now_seconds() {
  if (use_cpu_time) {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// median and best of `runs` timed calls, after one untimed warm-up call
Timing time_runs(int runs, const std::function<void()>& fn) {
  fn();  // warm up: page in buffers, start the pool
  std::vector<double> t;
  for (int i = 0; i < runs; i++) {
    const double start = now_seconds();
    fn();
    t.push_back(now_seconds() - start);
  }
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], t[0]};
}

void bench_gemm(bool ta, bool tb, int m, int n, int k, int runs) {
  char name[96];
  std::snprintf(name, sizeof name, "gemm %c%c %5d x %5d x %5d", ta ? 'T' : 'N', tb ? 'T' : 'N',
                m, n, k);
  if (!wanted(name)) return;
  auto a = random_vector((int64_t)m * k, 1), b = random_vector((int64_t)k * n, 2);
  std::vector<float> c((size_t)m * n);
  Timing t = time_runs(runs, [&] {
    cpu::gemm(ta, tb, m, n, k, 1.0f, a.data(), b.data(), 0.0f, c.data());
  });
  const double flops = 2.0 * m * n * k;
  std::printf("%s  median %9.3f ms %6.1f GFLOP/s  (best %6.1f)\n", name, t.median * 1e3,
              flops / t.median * 1e-9, flops / t.best * 1e-9);
}

void bench_conv(const ConvShape& s, int runs) {
  const std::string name = shape_name("conv", s);
  if (!wanted(name + " fwd") && !wanted(name + " bwd-in") && !wanted(name + " bwd-w")) return;
  auto x = random_vector((int64_t)s.n * s.c * s.h * s.w, 1);
  auto w = random_vector((int64_t)s.k * s.c * s.r * s.s, 2);
  auto bias = random_vector(s.k, 3);
  auto dy = random_vector((int64_t)s.n * s.k * s.p * s.q, 4);
  std::vector<float> y(dy.size()), dx(x.size()), dw(w.size()), db(s.k);
  const double flops = 2.0 * s.n * s.k * s.p * s.q * s.c * s.r * s.s;
  const bool fwd = wanted(name + " fwd"), bin = wanted(name + " bwd-in"),
             bw = wanted(name + " bwd-w"), all = fwd && bin && bw;
  auto report = [&](const char* op, Timing t) {
    std::printf("%s %-6s median %7.3f ms %5.1f GFLOP/s  (best %5.1f)\n", name.c_str(), op,
                t.median * 1e3, flops / t.median * 1e-9, flops / t.best * 1e-9);
  };
  if (all || (fwd && !bin && !bw))
    report("fwd", time_runs(runs, [&] {
             cpu::conv2d_forward(s, x.data(), w.data(), bias.data(), y.data());
           }));
  if (all || (bin && !fwd))
    report("bwd-in", time_runs(runs, [&] {
             cpu::conv2d_backward_input(s, dy.data(), w.data(), dx.data());
           }));
  if (all || (bw && !fwd))
    report("bwd-w", time_runs(runs, [&] {
             cpu::conv2d_backward_weight(s, x.data(), dy.data(), dw.data(), db.data());
           }));
}

}  // namespace

int main(int argc, char** argv) {
  bool do_check = true, do_bench = true, quick = false;
  int runs = 0;
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    if (arg == "--check-only") do_bench = false;
    else if (arg == "--bench-only") do_check = false;
    else if (arg == "--quick") quick = true;
    else if (arg == "--threads" && i + 1 < argc) cpu::set_num_threads(std::atoi(argv[++i]));
    else if (arg == "--runs" && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--only" && i + 1 < argc) only_filter = argv[++i];
    else if (arg == "--cpu-time") use_cpu_time = true;
    else {
      std::fprintf(stderr,
                   "usage: %s [--check-only|--bench-only] [--quick] [--threads N] [--runs N]\n"
                   "          [--only SUBSTRING] [--cpu-time]\n"
                   "  checks gemm and conv against a float64 reference, then times them\n"
                   "  (median and best of N runs; --only picks benchmarks by name)\n",
                   argv[0]);
      return 2;
    }
  }

  if (do_check) {
    check_pool();
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        check_gemm(ta, tb, 1, 1, 1, 1.0f, 0.0f);
        check_gemm(ta, tb, 1, 37, 129, 1.0f, 0.0f);
        check_gemm(ta, tb, 53, 1, 7, 0.5f, 0.0f);
        check_gemm(ta, tb, 7, 300, 1, 1.0f, 1.0f);
        check_gemm(ta, tb, 67, 83, 301, -1.5f, 0.25f);
        check_gemm(ta, tb, 150, 260, 530, 1.0f, 1.0f);
        check_gemm(ta, tb, 64, 256, 2048 / (quick ? 4 : 1), 1.0f, 0.0f);
        check_gemm(ta, tb, 64, 10, 256, 1.0f, 0.0f);
        check_gemm(ta, tb, 1, 256, 2048, 1.0f, 0.0f);
      }
    check_gemm(false, false, 5, 9, 0, 1.0f, 0.0f);   // k = 0: C = 0
    check_gemm(false, false, 5, 9, 0, 1.0f, 0.5f);   // k = 0: C = beta*C
    check_gemm(false, false, 33, 40, 17, 0.0f, 2.0f);  // alpha = 0
    if (!quick) check_gemm(false, false, 300, 1200, 700, 1.0f, 0.0f);

    check_conv(make_shape(2, 3, 32, 32, 16, 3, 3, 1, 1), true);
    check_conv(make_shape(3, 16, 16, 16, 32, 3, 3, 1, 1), true);
    check_conv(make_shape(2, 32, 16, 16, 64, 3, 3, 1, 1), false);
    check_conv(make_shape(3, 64, 4, 4, 64, 3, 3, 1, 0), true);
    check_conv(make_shape(2, 3, 32, 32, 6, 5, 5, 1, 0), true);
    check_conv(make_shape(2, 6, 14, 14, 16, 5, 5, 1, 0), true);
    check_conv(make_shape(3, 5, 11, 13, 7, 3, 3, 2, 1), true);
    check_conv(make_shape(2, 4, 9, 10, 3, 3, 2, 2, 0), false);
    check_conv(make_shape(1, 3, 7, 7, 5, 4, 4, 3, 2), true);
    check_conv(make_shape(4, 8, 6, 5, 9, 1, 1, 1, 0), true);
    check_conv(make_shape(1, 1, 1, 1, 1, 1, 1, 1, 0), true);
    check_conv(make_shape(19, 3, 8, 8, 4, 3, 3, 1, 1), true);
    check_conv(make_shape(4, 3, 40, 37, 8, 3, 3, 2, 1), true);
    check_conv(make_shape(9, 16, 16, 16, 32, 3, 3, 1, 1), true);
    check_conv(make_shape(2, 7, 20, 21, 5, 3, 3, 1, 2), true);
    std::printf("%s: %d failure(s)\n", failures ? "FAILED" : "all checks passed", failures);
  }

  if (do_bench) {
    std::printf("\nthreads %d, %s\n", cpu::num_threads(), load_average().c_str());
    if (wanted("pool")) {
      // what a parallel region costs: each piece does ~20 us of arithmetic;
      // ideally the region takes as long as one piece
      auto piece = [] {
        volatile float acc = 0.0f;
        for (int i = 0; i < 5000; i++) acc = acc + 1.0f;
      };
      Timing one = time_runs(201, piece);
      Timing all = time_runs(201, [&] {
        cpu::parallel_for(0, cpu::num_threads(), 1, [&](int64_t lo, int64_t hi) {
          for (int64_t i = lo; i < hi; i++) piece();
        });
      });
      std::printf("pool: one piece %.1f us, %d pieces in parallel %.1f us (median; best %.1f us)\n",
                  one.median * 1e6, cpu::num_threads(), all.median * 1e6, all.best * 1e6);
    }
    if (runs == 0) runs = quick ? 3 : 7;
    bench_gemm(false, false, 1000, 1000, 1000, runs);
    bench_gemm(false, false, 2048, 2048, 2048, runs);
    bench_gemm(false, false, 4096, 4096, 4096, std::min(runs, 3));
    // the linear layers of a 64-image batch as src/ops/matmul.ts calls them:
    // forward y = x w^T, backward dx = dy w, dw = dy^T x
    bench_gemm(false, true, 64, 256, 2048, runs * 3);
    bench_gemm(false, false, 64, 2048, 256, runs * 3);
    bench_gemm(true, false, 256, 2048, 64, runs * 3);
    bench_gemm(false, true, 64, 10, 256, runs * 3);
    bench_gemm(false, false, 64, 256, 10, runs * 3);
    bench_gemm(true, false, 10, 256, 64, runs * 3);
    // batch 1
    bench_gemm(false, true, 1, 256, 2048, runs * 3);
    // the seed cnn conv layers as per-image gemms (conv itself runs the batch as
    // one gemm with im2col fused into packing: see the conv lines below)
    bench_gemm(false, false, 16, 1024, 27, runs * 3);
    bench_gemm(false, false, 32, 256, 144, runs * 3);
    bench_conv(make_shape(64, 3, 32, 32, 16, 3, 3, 1, 1), runs);
    bench_conv(make_shape(64, 16, 16, 16, 32, 3, 3, 1, 1), runs);
    bench_conv(make_shape(64, 3, 32, 32, 32, 3, 3, 1, 1), runs);
    bench_conv(make_shape(64, 32, 16, 16, 64, 3, 3, 1, 1), runs);
    bench_conv(make_shape(64, 64, 4, 4, 64, 3, 3, 1, 0), runs);
    bench_conv(make_shape(64, 3, 32, 32, 6, 5, 5, 1, 0), runs);
    bench_conv(make_shape(64, 6, 14, 14, 16, 5, 5, 1, 0), runs);
  }
  if (do_bench) std::printf("%s\n", load_average().c_str());
  return failures ? 1 : 0;
}
