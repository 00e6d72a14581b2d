// scratch memory for one op, from the caching allocator. released when the op
// returns, which is safe before the GPU is done with it: the next user of the
// block is queued on the same stream (see memory.cu).
#pragma once
#include <cstddef>

#include "ops.h"

namespace cudalab {
namespace cuda {

template <class T>
struct Workspace {
  T* ptr;
  explicit Workspace(size_t count) : ptr(static_cast<T*>(alloc(count * sizeof(T)))) {}
  ~Workspace() {
    try {
      release(ptr);
    } catch (...) {
    }
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
};

}  // namespace cuda
}  // namespace cudalab
