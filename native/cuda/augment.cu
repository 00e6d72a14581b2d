// training augmentation on the gpu (augment_images, shift_flip_images in
// ops.h; the formulas in common/augment.h, shared with the cpu kernels). one
// thread per output float: it draws its image's choices (ten philox rounds,
// cheaper than a trip through memory) and copies one input float, or writes
// a cutout zero. integer work only, so the result equals the cpu's bit for bit.
#include <cstdint>

#include "common/augment.h"
#include "cuda/context.cuh"
#include "ops.h"

namespace cudalab {
namespace cuda {

namespace {

constexpr int kThreads = 256;

__global__ void augment_images_kernel(int64_t total, int channels, int height, int width,
                                      const float* __restrict__ x, const int32_t* __restrict__ ids, uint64_t seed,
                                      int epoch, int translate, int flip, int cutout, float* __restrict__ out) {
  const int64_t plane = (int64_t)height * width;
  const int64_t image = channels * plane;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = e / image;
    const int64_t r = e - i * image;
    const int64_t c = r / plane;
    const int p = (int)(r - c * plane);
    const int y = p / width, xx = p - (p / width) * width;
    const AugmentChoice a = augment_choice(seed, epoch, __ldg(ids + i), translate, flip, cutout, height, width);
    out[e] = in_cutout(y, xx, a, cutout)
                 ? 0.0f
                 : __ldg(x + i * image + c * plane + shifted_source(y, xx, a.dy, a.dx, a.flip, height, width));
  }
}

__global__ void shift_flip_images_kernel(int64_t total, int height, int width, const float* __restrict__ x, int dy,
                                         int dx, bool flip, float* __restrict__ out) {
  const int64_t plane = (int64_t)height * width;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t q = e / plane;  // the channel plane, over every image
    const int p = (int)(e - q * plane);
    const int y = p / width, xx = p - (p / width) * width;
    out[e] = __ldg(x + q * plane + shifted_source(y, xx, dy, dx, flip, height, width));
  }
}

}  // namespace

void augment_images(int batch, int channels, int height, int width, const float* x, const int32_t* ids, uint64_t seed,
                    int epoch, int translate, int flip, int cutout, float* out) {
  const int64_t total = (int64_t)batch * channels * height * width;
  if (total <= 0) return;
  augment_images_kernel<<<grid_for(total, kThreads), kThreads, 0, stream()>>>(total, channels, height, width, x, ids,
                                                                               seed, epoch, translate, flip, cutout, out);
  CUDA_CHECK_LAUNCH("augment_images");
}

void shift_flip_images(int batch, int channels, int height, int width, const float* x, int dy, int dx, bool flip,
                       float* out) {
  const int64_t total = (int64_t)batch * channels * height * width;
  if (total <= 0) return;
  shift_flip_images_kernel<<<grid_for(total, kThreads), kThreads, 0, stream()>>>(total, height, width, x, dy, dx, flip,
                                                                                 out);
  CUDA_CHECK_LAUNCH("shift_flip_images");
}

}  // namespace cuda
}  // namespace cudalab
