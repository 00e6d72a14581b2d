// host memory for the cpu backend: 64-byte aligned blocks (a cache line, and
// whole AVX-512 vectors), so kernels can rely on aligned starts. copies are
// plain memcpy; there is no queue, so synchronize has nothing to wait for.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "error.h"
#include "cpu/dispatch.h"

namespace cudalab {
namespace cpu {

constexpr size_t kAlignment = 64;

// aligned by hand over plain malloc, not aligned_alloc: glibc's memalign
// splits each block, and a freed block is then a little too small for the
// next request of the same size, so a training loop that allocates and frees
// the same activations every step grew the heap by every step's worth
// (8 MiB a step for the seed CNN). malloc'd blocks of one size are reused.
// the pointer malloc gave sits just below the aligned block.
void* alloc(size_t bytes) {
  size_t total = bytes + kAlignment + sizeof(void*);
  if (total < bytes) throw Error("ERR_OOM", "cpu: cannot allocate " + std::to_string(bytes) + " bytes");
  void* raw = std::malloc(total);
  if (raw == nullptr) throw Error("ERR_OOM", "cpu: out of host memory allocating " + std::to_string(bytes) + " bytes");
  uintptr_t start = reinterpret_cast<uintptr_t>(raw) + sizeof(void*);
  uintptr_t aligned = (start + kAlignment - 1) & ~(uintptr_t)(kAlignment - 1);
  reinterpret_cast<void**>(aligned)[-1] = raw;
  return reinterpret_cast<void*>(aligned);
}

void release(void* ptr) {
  if (ptr) std::free(reinterpret_cast<void**>(ptr)[-1]);
}

void copy_from_host(void* dst, const void* host_src, size_t bytes) {
  if (bytes) std::memcpy(dst, host_src, bytes);
}

void copy_to_host(void* host_dst, const void* src, size_t bytes) {
  if (bytes) std::memcpy(host_dst, src, bytes);
}

void copy(void* dst, const void* src, size_t bytes) {
  if (bytes) std::memcpy(dst, src, bytes);
}

void synchronize() {}

}  // namespace cpu
}  // namespace cudalab
