// batches from a data set kept on the GPU (see gather_images in ops.h), so a
// training step copies nothing from the host. one thread per four output
// floats where a channel plane is a whole number of four-byte words (a uchar4
// read and a float4 write: a warp reads 128 contiguous bytes and writes 512),
// one thread per float otherwise. the channel tables (3 KiB for RGB) are read
// through the read-only cache. the thread that writes an image's first
// element also writes its label. an index outside [0, count) gives NaN pixels
// and label -1 and reads nothing from images.
#include <cstdint>

#include "cuda/context.cuh"
#include "ops.h"

namespace cudalab {
namespace cuda {

namespace {

constexpr int kThreads = 256;

bool aligned(const void* p, uintptr_t bytes) { return (reinterpret_cast<uintptr_t>(p) & (bytes - 1)) == 0; }

// the source image of batch item i, or -1 when the index is out of range
__device__ __forceinline__ int64_t source_image(const int32_t* __restrict__ order, int first, int64_t i, int count) {
  const int64_t k = first + i;
  const int64_t idx = order ? (int64_t)__ldg(order + k) : k;
  return (idx >= 0 && idx < count) ? idx : -1;
}

// four floats per thread: q indexes float4s of out (and uchar4s of an image)
__global__ void gather_images_vec4_kernel(int64_t total4, int count, int plane4, int image4,
                                          const uchar4* __restrict__ images, const uint8_t* __restrict__ labels,
                                          const int32_t* __restrict__ order, int first,
                                          const float* __restrict__ table, float4* __restrict__ out,
                                          int32_t* __restrict__ out_labels) {
  for (int64_t q = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; q < total4;
       q += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = q / image4;
    const int r = (int)(q - i * image4);
    const int64_t idx = source_image(order, first, i, count);
    if (idx < 0) {
      const float nan = __int_as_float(0x7fc00000);
      out[q] = make_float4(nan, nan, nan, nan);
      if (r == 0) out_labels[i] = -1;
      continue;
    }
    const float* t = table + (r / plane4) * 256;
    const uchar4 v = images[idx * image4 + r];
    out[q] = make_float4(__ldg(t + v.x), __ldg(t + v.y), __ldg(t + v.z), __ldg(t + v.w));
    if (r == 0) out_labels[i] = labels[idx];
  }
}

// one float per thread, for planes that are not a multiple of four bytes
__global__ void gather_images_kernel(int64_t total, int count, int plane, int image,
                                     const uint8_t* __restrict__ images, const uint8_t* __restrict__ labels,
                                     const int32_t* __restrict__ order, int first, const float* __restrict__ table,
                                     float* __restrict__ out, int32_t* __restrict__ out_labels) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = e / image;
    const int r = (int)(e - i * image);
    const int64_t idx = source_image(order, first, i, count);
    if (idx < 0) {
      out[e] = __int_as_float(0x7fc00000);
      if (r == 0) out_labels[i] = -1;
      continue;
    }
    out[e] = __ldg(table + (r / plane) * 256 + images[idx * image + r]);
    if (r == 0) out_labels[i] = labels[idx];
  }
}

}  // namespace

void gather_images(int batch, int count, int channels, int plane, const uint8_t* images, const uint8_t* labels,
                   const int32_t* order, int first, const float* table, float* out, int32_t* out_labels) {
  const int64_t image = (int64_t)channels * plane;
  const int64_t total = (int64_t)batch * image;
  if (total <= 0) return;
  // every image then starts on a word of images and a 16-byte line of out
  const bool vec = plane % 4 == 0 && aligned(images, 4) && aligned(out, 16);
  if (vec) {
    const int64_t total4 = total / 4;
    gather_images_vec4_kernel<<<grid_for(total4, kThreads), kThreads, 0, stream()>>>(
        total4, count, plane / 4, (int)(image / 4), reinterpret_cast<const uchar4*>(images), labels, order, first,
        table, reinterpret_cast<float4*>(out), out_labels);
  } else {
    gather_images_kernel<<<grid_for(total, kThreads), kThreads, 0, stream()>>>(
        total, count, plane, (int)image, images, labels, order, first, table, out, out_labels);
  }
  CUDA_CHECK_LAUNCH("gather_images");
}

}  // namespace cuda
}  // namespace cudalab
