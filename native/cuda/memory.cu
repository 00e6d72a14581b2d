// device memory: a caching allocator, and copies in and out.
//
// cudaMalloc and cudaFree are slow (cudaFree also waits for the whole device),
// and a training step allocates and frees the same sizes again and again. so
// released blocks go on a free list keyed by their rounded size and are handed
// out again; cudaMalloc runs only on a miss. every op runs on our one stream,
// so a block released while a kernel still reads it is safe to reuse at once:
// whatever writes it next is queued behind that kernel.
#include <cuda_runtime.h>

#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "cuda/context.cuh"
#include "cuda/device.h"
#include "ops.h"

namespace cudalab {
namespace cuda {

namespace {

// small blocks round to 512 bytes; larger ones to a quarter of their power of
// two (at most 25% waste), so a few classes serve the many sizes of a model
size_t size_class(size_t bytes) {
  const size_t small = 512, small_limit = size_t(1) << 20;
  if (bytes == 0) return small;
  if (bytes <= small_limit) return (bytes + small - 1) / small * small;
  size_t power = small_limit;
  while (power * 2 < bytes) power *= 2;  // power < bytes <= 2*power
  size_t step = power / 4;
  return (bytes + step - 1) / step * step;
}

struct Block {
  size_t size;       // the class size, what cudaMalloc gave
  size_t requested;  // what the caller asked for
};

struct Allocator {
  std::mutex mutex;
  std::unordered_map<void*, Block> in_use;
  std::map<size_t, std::vector<void*>> cached;  // class size -> free blocks
  size_t allocated = 0;  // requested bytes of blocks in use
  size_t reserved = 0;   // bytes obtained from cudaMalloc

  // hands every cached block back to the driver (cudaFree waits for the device)
  void empty_cache() {
    for (auto& entry : cached) {
      for (void* p : entry.second) {
        cudaFree(p);
        reserved -= entry.first;
      }
    }
    cached.clear();
    cudaGetLastError();
  }
};

// never destroyed: blocks may be released by finalizers during exit, after
// static destructors would have run
Allocator& allocator() {
  static Allocator* a = new Allocator();
  return *a;
}

std::string mib(size_t bytes) { return std::to_string((bytes + (1 << 19)) >> 20) + " MiB"; }

}  // namespace

void* alloc(size_t bytes) {
  ensure_available();
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mutex);
  size_t cls = size_class(bytes);
  void* p = nullptr;
  auto it = a.cached.find(cls);
  if (it != a.cached.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
  } else {
    cudaError_t e = cudaMalloc(&p, cls);
    if (e == cudaErrorMemoryAllocation) {
      // the cache may hold enough in other sizes: give it back and try once more
      cudaGetLastError();
      a.empty_cache();
      e = cudaMalloc(&p, cls);
    }
    if (e != cudaSuccess) {
      cudaGetLastError();
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      cudaGetLastError();
      std::string what = "alloc(" + std::to_string(bytes) + " bytes)";
      if (e == cudaErrorMemoryAllocation)
        throw Error("ERR_OOM", what + ": out of GPU memory (" + mib(free_b) + " free of " + mib(total_b) +
                                   ", " + mib(a.allocated) + " in use by cudalab): " + cudaGetErrorName(e));
      throw_cuda_error(e, what.c_str());
    }
    a.reserved += cls;
  }
  a.in_use[p] = Block{cls, bytes};
  a.allocated += bytes;
  return p;
}

void release(void* ptr) {
  if (ptr == nullptr) return;
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mutex);
  auto it = a.in_use.find(ptr);
  if (it == a.in_use.end()) throw Error("ERR_ARG", "release: the pointer was not allocated by the CUDA allocator");
  a.allocated -= it->second.requested;
  a.cached[it->second.size].push_back(ptr);
  a.in_use.erase(it);
}

AllocatorStats allocator_stats() {
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mutex);
  return AllocatorStats{a.allocated, a.reserved};
}

void copy_from_host(void* dst, const void* host_src, size_t bytes) {
  if (bytes == 0) return;
  // from pageable memory this returns once the bytes are staged, so the host
  // buffer may be reused (or collected) as soon as we return
  CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, stream()), "copy_from_host");
}

void copy_to_host(void* host_dst, const void* src, size_t bytes) {
  if (bytes == 0) {
    synchronize();
    return;
  }
  CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, stream()), "copy_to_host");
  CUDA_CHECK(cudaStreamSynchronize(stream()), "copy_to_host: synchronize");
}

void copy(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()), "copy");
}

void synchronize() { CUDA_CHECK(cudaStreamSynchronize(stream()), "synchronize"); }

}  // namespace cuda
}  // namespace cudalab
