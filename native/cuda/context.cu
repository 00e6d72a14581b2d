// the stream, device 0, and CUDA errors as cudalab::Errors.
#include <atomic>
#include <mutex>
#include <string>

#include "cuda/context.cuh"
#include "cuda/device.h"

namespace cudalab {
namespace cuda {

namespace {
std::mutex context_mutex;
std::atomic<bool> context_ready{false};
cudaStream_t the_stream = nullptr;
int the_multiprocessors = 1;
}  // namespace

void throw_cuda_error(cudaError_t err, const char* what) {
  // a failed allocation is not sticky; clear it so the next call starts clean
  if (err == cudaErrorMemoryAllocation) cudaGetLastError();
  std::string message = std::string(what) + ": " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err);
  throw Error(err == cudaErrorMemoryAllocation ? "ERR_OOM" : "ERR_CUDA", message);
}

void ensure_available() {
  if (context_ready.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lock(context_mutex);
  if (context_ready.load(std::memory_order_relaxed)) return;
  RuntimeInfo info = runtime_info();
  if (!info.available) throw Error("ERR_NO_CUDA", info.reason);
  CUDA_CHECK(cudaSetDevice(0), "select device 0");
  int sms = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), "read the multiprocessor count");
  the_multiprocessors = sms > 0 ? sms : 1;
  // non-blocking: the legacy default stream (used by other libraries in the
  // process) never serialises against our work
  CUDA_CHECK(cudaStreamCreateWithFlags(&the_stream, cudaStreamNonBlocking), "create the stream");
  context_ready.store(true, std::memory_order_release);
}

cudaStream_t stream() {
  ensure_available();
  return the_stream;
}

int multiprocessors() {
  ensure_available();
  return the_multiprocessors;
}

int grid_for(int64_t n, int threads) {
  int64_t needed = (n + threads - 1) / threads;
  int64_t cap = (int64_t)multiprocessors() * 16;  // 16 blocks of 256 per SM keeps every SM busy
  int64_t blocks = needed < cap ? needed : cap;
  return blocks < 1 ? 1 : (int)blocks;
}

}  // namespace cuda
}  // namespace cudalab
