// host memory for the cpu backend: 64-byte aligned blocks (a cache line, and
// whole AVX-512 vectors), so kernels can rely on aligned starts. copies are
// plain memcpy; there is no queue, so synchronize has nothing to wait for.
#include <cstdlib>
#include <cstring>
#include <string>

#include "error.h"
#include "ops.h"

namespace cudalab {
namespace cpu {

constexpr size_t kAlignment = 64;

void* alloc(size_t bytes) {
  // aligned_alloc wants a multiple of the alignment; a 0-byte storage still gets
  // a real, distinct pointer
  size_t rounded = bytes == 0 ? kAlignment : (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded < bytes) throw Error("ERR_OOM", "cpu: cannot allocate " + std::to_string(bytes) + " bytes");
  void* p = std::aligned_alloc(kAlignment, rounded);
  if (p == nullptr) throw Error("ERR_OOM", "cpu: out of host memory allocating " + std::to_string(bytes) + " bytes");
  return p;
}

void release(void* ptr) { std::free(ptr); }

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
