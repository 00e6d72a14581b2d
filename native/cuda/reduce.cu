// sum_axis: y[o][i] = sum over r of x[o][r][i], in an order fixed by the
// shape alone (never by the grid or the device), so sums repeat bit for bit -
// and in the CPU backend's order, so the two backends agree bit for bit too:
// - inner > 1: one thread per output adds r = 0, 1, 2, ... in sequence;
//   neighbouring threads read neighbouring i, so the loads coalesce.
// - inner == 1 (each output a contiguous run): 16 interleaved lanes, element
//   r going to lane r % 16, then the lanes added in order. a half-warp takes
//   one output, a lane per thread, reading 16 consecutive floats per step.
// both run each output's sum in one thread (or 16), which is slow when there
// are few outputs and the axis is long (a whole tensor to one number would be
// one serial chain of millions of adds). then the axis is cut into fixed
// chunks, each chunk summed in parallel (a fixed tree for contiguous runs, a
// sequential loop otherwise) into a partial tensor, and sum_axis runs again on
// the partials. the order is still fixed by the shape alone, but it is no
// longer the CPU backend's, so there the two agree to rounding, not to the bit.
#include <cstdint>

#include "cuda/context.cuh"
#include "cuda/memory.cuh"
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

// outputs below which the one-thread-per-output paths leave the device idle
constexpr int64_t kParallelOutputs = 1 << 16;
// axis lengths up to which a serial sum is quick enough whatever the output count
constexpr int kSerialContiguous = 1 << 18, kSerialStrided = 4096;
// chunk lengths of the split path: contiguous chunks are a block of 256 threads x 4
constexpr int kChunkContiguous = 4 * kThreads, kChunkStrided = 256;

// partial[o][chunk] = sum of x[o][chunk*1024 .. +1024): thread t adds elements
// t, t+256, t+512, t+768 of the chunk, then a fixed tree adds the threads
__global__ void __launch_bounds__(kThreads) chunk_contiguous_kernel(int reduce, int chunks, const float* __restrict__ x,
                                                                    float* __restrict__ partial) {
  __shared__ float part[kThreads];
  const int chunk = blockIdx.x;
  const int64_t o = blockIdx.y;
  const float* p = x + o * reduce + (int64_t)chunk * kChunkContiguous;
  const int len = min(kChunkContiguous, reduce - chunk * kChunkContiguous);
  float acc = 0.0f;
  for (int r = threadIdx.x; r < len; r += kThreads) acc += p[r];
  part[threadIdx.x] = acc;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if ((int)threadIdx.x < stride) part[threadIdx.x] += part[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[o * chunks + chunk] = part[0];
}

// partial[o][chunk][i] = sum over r in the chunk of x[o][r][i], in order
__global__ void chunk_strided_kernel(int outer, int reduce, int inner, int chunks, const float* __restrict__ x,
                                     float* __restrict__ partial) {
  const int64_t total = (int64_t)outer * chunks * inner;
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total;
       idx += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = idx % inner, rest = idx / inner;
    const int chunk = (int)(rest % chunks);
    const int64_t o = rest / chunks;
    const int r0 = chunk * kChunkStrided, r1 = min(reduce, r0 + kChunkStrided);
    const float* p = x + (o * reduce + r0) * inner + i;
    float acc = p[0];
    for (int r = r0 + 1; r < r1; ++r) acc += p[(int64_t)(r - r0) * inner];
    partial[idx] = acc;
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
  if (inner == 1 && reduce > kSerialContiguous && outputs * kLanes < kParallelOutputs * 4 && outer <= 65535) {
    const int chunks = (reduce + kChunkContiguous - 1) / kChunkContiguous;
    Workspace<float> partial((size_t)outer * chunks);
    chunk_contiguous_kernel<<<dim3(chunks, outer), kThreads, 0, stream()>>>(reduce, chunks, x, partial.ptr);
    CUDA_CHECK_LAUNCH("sum_axis: chunks");
    sum_axis(outer, chunks, 1, partial.ptr, y);
    return;
  }
  if (inner > 1 && reduce > kSerialStrided && outputs < kParallelOutputs) {
    const int chunks = (reduce + kChunkStrided - 1) / kChunkStrided;
    Workspace<float> partial((size_t)outer * chunks * inner);
    chunk_strided_kernel<<<grid_for(outputs * chunks, kThreads), kThreads, 0, stream()>>>(outer, reduce, inner, chunks,
                                                                                         x, partial.ptr);
    CUDA_CHECK_LAUNCH("sum_axis: chunks");
    sum_axis(outer, chunks, inner, partial.ptr, y);
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
