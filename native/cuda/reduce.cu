// sum_axis: y[o][i] = sum over r of x[o][r][i], in an order fixed by the
// shape alone (never by the grid or the device), so sums repeat bit for bit -
// and in the CPU backend's order, so the two backends agree bit for bit too:
// - inner > 1: one thread per output adds r = 0, 1, 2, ... in sequence;
//   neighbouring threads read neighbouring i, so the loads coalesce.
// - inner == 1 (each output a contiguous run): 16 interleaved lanes, element
//   r going to lane r % 16, then the lanes added in order. a half-warp takes
//   one output, a lane per thread, reading 16 consecutive floats per step.
#include <cstdint>

#include "cuda/context.cuh"
#include "ops.h"

namespace cudalab {
namespace cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kLanes = 16;

__global__ void sum_strided_kernel(int outer, int reduce, int inner, const float* __restrict__ x,
                                   float* __restrict__ y) {
  const int64_t total = (int64_t)outer * inner;
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total;
       idx += (int64_t)gridDim.x * blockDim.x) {
    const int64_t o = idx / inner, i = idx - o * inner;
    const float* p = x + o * reduce * inner + i;
    float acc = p[0];
    for (int r = 1; r < reduce; ++r) acc += p[(int64_t)r * inner];
    y[idx] = acc;
  }
}

__global__ void sum_contiguous_kernel(int outer, int reduce, const float* __restrict__ x, float* __restrict__ y) {
  const int lane = threadIdx.x % kLanes;
  const int64_t groups = (int64_t)gridDim.x * (blockDim.x / kLanes);
  // every thread of a warp runs the same number of rounds, so the shuffles
  // below always find their whole half-warp
  const int64_t first = blockIdx.x * (int64_t)(blockDim.x / kLanes) + threadIdx.x / kLanes;
  const int64_t rounds = (outer + groups - 1) / groups;
  for (int64_t round = 0; round < rounds; ++round) {
    const int64_t o = first + round * groups;
    float part = 0.0f;
    if (o < outer) {
      const float* p = x + o * reduce;
      for (int r = lane; r < reduce; r += kLanes) part += p[r];
    }
    float sum = 0.0f;
#pragma unroll
    for (int l = 0; l < kLanes; ++l) sum += __shfl_sync(0xffffffffu, part, l, kLanes);
    if (o < outer && lane == 0) y[o] = sum;
  }
}

}  // namespace

void sum_axis(int outer, int reduce, int inner, const float* x, float* y) {
  const int64_t outputs = (int64_t)outer * inner;
  if (outputs <= 0) return;
  if (reduce <= 0) {
    CUDA_CHECK(cudaMemsetAsync(y, 0, outputs * sizeof(float), stream()), "sum_axis");
    return;
  }
  if (inner == 1) {
    sum_contiguous_kernel<<<grid_for(outputs * kLanes, kThreads), kThreads, 0, stream()>>>(outer, reduce, x, y);
  } else {
    sum_strided_kernel<<<grid_for(outputs, kThreads), kThreads, 0, stream()>>>(outer, reduce, inner, x, y);
  }
  CUDA_CHECK_LAUNCH("sum_axis");
}

}  // namespace cuda
}  // namespace cudalab
