// the thread pool behind parallel.h: num_threads()-1 persistent workers, each
// with a mailbox and a ticket. a parallel region (job j) opens the tickets of
// the workers it needs (ticket = 2j: task open), posts j to their mailboxes,
// runs task 0 itself, and then claims (ticket 2j -> 2j+1) and runs any task
// whose worker has not claimed it yet: on a machine with more busy threads than
// cores a sleeping worker may take milliseconds to be scheduled, and the caller
// need not wait for it. the pieces are fixed; only who runs them varies, which
// changes no result. waiting spins briefly (kernels come in quick succession
// during a training step) and then sleeps on a condition variable, so an idle
// pool costs nothing on a machine shared with other work.
//
// starting a worker can fail (a container's process limit): the pool then
// keeps the workers it has, runs the pieces meant for the missing ones on the
// caller (the pieces, and so the results, stay the same), says so once on
// stderr, and does not try again. a warning, not an error: the op that met the
// limit still completes, correctly, and so does every later one.
#include "cpu/parallel.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define CUDALAB_PAUSE() _mm_pause()
#else
#define CUDALAB_PAUSE() std::this_thread::yield()
#endif

namespace cudalab {
namespace cpu {
namespace {

// how long a waiting thread spins before it sleeps
constexpr auto kSpin = std::chrono::microseconds(100);

int default_threads() {
  if (const char* env = std::getenv("CUDALAB_NUM_THREADS")) {
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && v > 0 && v <= 4096) return static_cast<int>(v);
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

// waits for pred for up to kSpin without sleeping: a short busy spin (the
// common case, a partner thread a microsecond away), then yielding, so that a
// machine with more runnable threads than cores can run the thread being
// waited for. reports whether pred became true.
template <class Pred>
bool spin_until(Pred pred) {
  for (int i = 0; i < 2000; i++) {
    if (pred()) return true;
    CUDALAB_PAUSE();
  }
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < kSpin) {
    if (pred()) return true;
    std::this_thread::yield();
  }
  return pred();
}

thread_local bool tls_inside = false;

// tests make thread creation fail on purpose: CUDALAB_TEST_FAIL_AT=thread-create
// fails every worker's start, thread-create:<n> only the n-th (counting from 1)
bool test_fails_thread(int nth) {
  static const std::string point = [] {
    const char* env = std::getenv("CUDALAB_TEST_FAIL_AT");
    return std::string(env ? env : "");
  }();
  if (point == "thread-create") return true;
  const std::string prefix = "thread-create:";
  return point.compare(0, prefix.size(), prefix) == 0 && point.substr(prefix.size()) == std::to_string(nth);
}

// clears a flag however the scope is left, exceptions included
struct ClearOnExit {
  std::atomic<bool>& flag;
  ~ClearOnExit() { flag.store(false, std::memory_order_release); }
};

struct Worker {
  std::atomic<uint64_t> mailbox{0};  // the last job posted to this worker
  std::atomic<uint64_t> ticket{1};   // 2j: job j's task open; 2j+1: claimed
  std::thread thread;
};

struct Pool {
  std::atomic<int> threads{0};  // including the caller; 0 = not yet decided
  std::atomic<bool> busy{false};

  std::vector<std::unique_ptr<Worker>> workers;  // only grows, only while busy
  bool start_failed = false;  // a worker could not be started: no more are tried
  int starts = 0;             // workers' starts attempted, for the test hook
  std::mutex sleep_mutex;
  std::condition_variable wake;      // workers sleep here
  std::condition_variable finished;  // the caller sleeps here

  // the current job; written before its tickets are opened
  uint64_t job = 0;
  detail::TaskFn fn = nullptr;
  void* ctx = nullptr;
  std::atomic<int> pending{0};  // claimed-or-open tasks not yet finished
  std::mutex error_mutex;
  std::exception_ptr error;

  void record(std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(error_mutex);
    if (!error) error = e;
  }

  void run_task(int task) {
    try {
      fn(ctx, task);
    } catch (...) {
      record(std::current_exception());
    }
  }

  // a finished task: the last one wakes the caller if it went to sleep
  void task_done() {
    if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(sleep_mutex);
      finished.notify_all();
    }
  }

  void worker_loop(Worker* self, int task) {
    tls_inside = true;
    uint64_t seen = 0;
    for (;;) {
      auto arrived = [&] { return self->mailbox.load(std::memory_order_acquire) != seen; };
      if (!spin_until(arrived)) {
        std::unique_lock<std::mutex> lock(sleep_mutex);
        wake.wait(lock, arrived);
      }
      seen = self->mailbox.load(std::memory_order_acquire);
      // a late wake-up finds its task already run by the caller (ticket moved
      // on), and does nothing. a successful claim means job `seen` is still
      // the current one, and fn/ctx are its own.
      uint64_t open = 2 * seen;
      if (self->ticket.compare_exchange_strong(open, open + 1, std::memory_order_acq_rel)) {
        run_task(task);
        task_done();
      }
    }
  }

  // called with busy held, so no region runs concurrently. a worker joins
  // the pool only once its thread runs
  void ensure_workers(int n) {
    while (!start_failed && static_cast<int>(workers.size()) < n - 1) {
      auto w = std::make_unique<Worker>();
      Worker* raw = w.get();
      int task = static_cast<int>(workers.size()) + 1;
      // room first: a push_back that threw after the start would destroy a running thread
      workers.reserve(workers.size() + 1);
      try {
        if (test_fails_thread(++starts))
          throw std::system_error(EAGAIN, std::generic_category(), "CUDALAB_TEST_FAIL_AT=thread-create");
        raw->thread = std::thread([this, raw, task] { worker_loop(raw, task); });
      } catch (const std::exception& e) {
        start_failed = true;
        std::fprintf(stderr,
                     "cudalab: warning: could not start a cpu worker thread (%s); cpu ops carry on, with the same "
                     "results, on %d thread%s\n",
                     e.what(), static_cast<int>(workers.size()) + 1, workers.empty() ? "" : "s");
        std::fflush(stderr);
        return;
      }
      workers.push_back(std::move(w));
    }
  }

  void run(int tasks, detail::TaskFn f, void* c) {
    bool expected = false;
    if (tls_inside || !busy.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
      for (int t = 0; t < tasks; t++) f(c, t);
      return;
    }
    // whatever happens below, the pool is free again afterwards (were busy
    // left set, every later region would run inline, on one thread)
    ClearOnExit release_busy{busy};
    ensure_workers(tasks);
    // tasks without a worker (one could not be started) run on the caller
    const int helpers = std::min(tasks - 1, static_cast<int>(workers.size()));
    const uint64_t j = ++job;
    fn = f;
    ctx = c;
    error = nullptr;
    pending.store(helpers, std::memory_order_relaxed);
    for (int t = 1; t <= helpers; t++) {
      workers[t - 1]->ticket.store(2 * j, std::memory_order_release);
      workers[t - 1]->mailbox.store(j, std::memory_order_release);
    }
    {
      // taking the mutex orders the posts before any sleeper's predicate check
      std::lock_guard<std::mutex> lock(sleep_mutex);
    }
    wake.notify_all();

    tls_inside = true;
    run_task(0);
    // tasks whose workers have not started yet are run here
    for (int t = 1; t <= helpers; t++) {
      uint64_t open = 2 * j;
      if (workers[t - 1]->ticket.compare_exchange_strong(open, open + 1,
                                                          std::memory_order_acq_rel)) {
        run_task(t);
        pending.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
    for (int t = helpers + 1; t < tasks; t++) run_task(t);
    tls_inside = false;

    auto done = [&] { return pending.load(std::memory_order_acquire) == 0; };
    if (!spin_until(done)) {
      std::unique_lock<std::mutex> lock(sleep_mutex);
      finished.wait(lock, done);
    }
    std::exception_ptr e = error;
    error = nullptr;
    if (e) std::rethrow_exception(e);
  }
};

// never destroyed: worker threads sleep until the process exits, so no static
// destructor has to join them
Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

}  // namespace

namespace detail {
void run_tasks(int tasks, TaskFn fn, void* ctx) {
  if (tasks <= 1) {
    for (int t = 0; t < tasks; t++) fn(ctx, t);
    return;
  }
  pool().run(tasks, fn, ctx);
}
bool inside_parallel_region() { return tls_inside; }
}  // namespace detail

int num_threads() {
  Pool& p = pool();
  int n = p.threads.load(std::memory_order_relaxed);
  if (n == 0) {
    int expected = 0;
    p.threads.compare_exchange_strong(expected, default_threads());
    n = p.threads.load(std::memory_order_relaxed);
  }
  return n;
}

// workers beyond the new count are kept, asleep: a later region simply does
// not use them, so the count may change at any time, even from inside fn.
void set_num_threads(int n) {
  if (n <= 0) n = default_threads();
  pool().threads.store(n, std::memory_order_relaxed);
}

}  // namespace cpu
}  // namespace cudalab
