// a small persistent thread pool for the cpu kernels, with static partitioning.
//
// the whole api:
//
//   parallel_for(begin, end, grain, fn)
//     calls fn(lo, hi) on contiguous ranges that together cover [begin, end).
//     the range is cut into at most num_threads() pieces of at least `grain`
//     elements each (equal sizes, give or take one). piece 0 runs on the
//     calling thread, piece t on worker t, unless that worker has not started
//     it by the time the caller is done with its own (a busy machine), in
//     which case the caller runs it too. with one piece, fn runs inline.
//     returns when every piece is done.
//
//   parallel_chunks(begin, end, chunk, fn)
//     calls fn(index, lo, hi) once for every fixed-size chunk
//     [begin + index*chunk, min(end, begin + (index+1)*chunk)). the chunk
//     boundaries depend only on (begin, end, chunk), never on the thread count:
//     this is the building block for deterministic reductions.
//
//   num_chunks(begin, end, chunk)
//     how many chunks parallel_chunks makes (to size a partials buffer).
//
//   set_num_threads(n) / num_threads()   (declared in ops.h)
//     the number of threads, the calling one included. default: env
//     CUDALAB_NUM_THREADS when it is a positive integer, else
//     std::thread::hardware_concurrency(). set_num_threads(n <= 0) restores
//     that default.
//
// determinism: the pool decides only *which thread* runs a piece of work, never
// *what* is computed. kernels stay bitwise identical for any thread count when
//   - each output element is produced inside exactly one fn call, with a
//     summation order that does not depend on where the range was cut
//     (parallel_for), and
//   - reductions sum each fixed-size chunk into partials[index]
//     (parallel_chunks), then the caller combines partials in index order.
//
// rules for fn:
//   - it may throw: the first exception is rethrown on the calling thread
//     after all pieces have finished.
//   - a parallel_for / parallel_chunks called from inside fn (nesting), or
//     from a second thread while the pool is busy, runs inline on its thread.
//     so a kernel may call another parallel kernel freely; only the outermost
//     level runs in parallel.
//   - which os thread runs a piece is not fixed: keep per-thread scratch in
//     thread_local storage, never indexed by piece.
//
// grain: pick it so one piece is worth at least ~20 microseconds (e.g. ~32k
// floats for a streaming elementwise op); smaller problems then run inline and
// pay no synchronisation.
#pragma once
#include <algorithm>
#include <cstdint>

#include "ops.h"

namespace cudalab {
namespace cpu {
namespace detail {
using TaskFn = void (*)(void* ctx, int task);
// runs fn(ctx, t) for t in [0, tasks): task 0 on the caller, task t on worker t-1.
// tasks must be <= num_threads(). falls back to running every task inline, in
// order, when called from inside a parallel region or while the pool is busy.
void run_tasks(int tasks, TaskFn fn, void* ctx);
// true on a pool worker, or on the caller while it runs a parallel region
bool inside_parallel_region();
}  // namespace detail

// the templates below are instantiated in the kernel files, which are compiled
// once per instruction set: each build gets its own copies, in its own
// namespace, so that no build calls another's (see dispatch.h)
#ifdef CUDALAB_CPU_ISA
namespace CUDALAB_CPU_ISA {
#endif

template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& fn) {
  if (end <= begin) return;
  const int64_t n = end - begin;
  if (grain < 1) grain = 1;
  const int64_t most = (n + grain - 1) / grain;
  const int tasks = static_cast<int>(std::min<int64_t>(num_threads(), most));
  if (tasks <= 1 || detail::inside_parallel_region()) {
    fn(begin, end);
    return;
  }
  struct Context {
    const F* fn;
    int64_t begin, n;
    int tasks;
  } context{&fn, begin, n, tasks};
  detail::run_tasks(
      tasks,
      [](void* p, int t) {
        const Context& c = *static_cast<const Context*>(p);
        // n * t stays far from overflow for any tensor that fits in memory
        const int64_t lo = c.begin + c.n * t / c.tasks;
        const int64_t hi = c.begin + c.n * (t + 1) / c.tasks;
        if (lo < hi) (*c.fn)(lo, hi);
      },
      &context);
}

inline int64_t num_chunks(int64_t begin, int64_t end, int64_t chunk) {
  if (end <= begin) return 0;
  if (chunk < 1) chunk = 1;
  return (end - begin + chunk - 1) / chunk;
}

template <class F>
void parallel_chunks(int64_t begin, int64_t end, int64_t chunk, const F& fn) {
  if (chunk < 1) chunk = 1;
  const int64_t count = num_chunks(begin, end, chunk);
  parallel_for(0, count, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
      const int64_t a = begin + i * chunk;
      fn(i, a, std::min(end, a + chunk));
    }
  });
}

#ifdef CUDALAB_CPU_ISA
}  // namespace CUDALAB_CPU_ISA
#endif
}  // namespace cpu
}  // namespace cudalab
