// the one stream every op runs on, the device's shape, and the error check
// that turns a failed CUDA call into a cudalab::Error. all work goes to one
// non-blocking stream, so ops are ordered among themselves and a released
// block can be reused at once (see memory.cu).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "error.h"

namespace cudalab {
namespace cuda {

// the stream (after ensure_available(): device 0 selected, stream created)
cudaStream_t stream();

// multiprocessors of the device in use, for sizing grids
int multiprocessors();

// throws ERR_OOM for cudaErrorMemoryAllocation, ERR_CUDA otherwise, with
// "<what>: cudaErrorName: description"
[[noreturn]] void throw_cuda_error(cudaError_t err, const char* what);

// blocks for a grid-stride loop over n items, blocks of `threads`: enough to
// fill the device a few times over, never more than the items need
int grid_for(int64_t n, int threads);

}  // namespace cuda
}  // namespace cudalab

// every runtime call goes through CUDA_CHECK; every launch is followed by
// CUDA_CHECK_LAUNCH, which catches bad launch configurations at once (faults
// inside a kernel surface at the next synchronizing call).
#define CUDA_CHECK(call, what)                                                \
  do {                                                                        \
    cudaError_t cudalab_err_ = (call);                                        \
    if (cudalab_err_ != cudaSuccess) ::cudalab::cuda::throw_cuda_error(cudalab_err_, what); \
  } while (0)

#define CUDA_CHECK_LAUNCH(what) CUDA_CHECK(cudaGetLastError(), what)
