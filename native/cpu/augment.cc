// training augmentation on the cpu (augment_images, shift_flip_images in
// ops.h; the formulas in common/augment.h). each output pixel is a copy of one
// input pixel or a cutout zero, so the result does not depend on the thread
// count, and equals the cuda kernels' bit for bit.
#include <cstdint>

#include "common/augment.h"
#include "cpu/parallel.h"
#include "ops.h"

namespace cudalab {
namespace cpu {

namespace {

// ~32k output floats per piece, as gather_images
constexpr int64_t kAugmentGrain = 32768;

// one image: every channel plane translated, mirrored and cut out as `a` says
void transform_image(int channels, int height, int width, const float* in, const AugmentChoice& a, int cutout,
                     float* out) {
  const int64_t plane = (int64_t)height * width;
  for (int c = 0; c < channels; c++) {
    const float* src = in + c * plane;
    float* dst = out + c * plane;
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        dst[(int64_t)y * width + x] =
            in_cutout(y, x, a, cutout) ? 0.0f : src[shifted_source(y, x, a.dy, a.dx, a.flip, height, width)];
      }
    }
  }
}

int64_t images_per_piece(int channels, int height, int width) {
  const int64_t image = (int64_t)channels * height * width;
  return image >= kAugmentGrain ? 1 : kAugmentGrain / image;
}

}  // namespace

void augment_images(int batch, int channels, int height, int width, const float* x, const int32_t* ids, uint64_t seed,
                    int epoch, int translate, int flip, int cutout, float* out) {
  const int64_t image = (int64_t)channels * height * width;
  parallel_for(0, batch, images_per_piece(channels, height, width), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
      const AugmentChoice a = augment_choice(seed, epoch, ids[i], translate, flip, cutout, height, width);
      transform_image(channels, height, width, x + i * image, a, cutout, out + i * image);
    }
  });
}

void shift_flip_images(int batch, int channels, int height, int width, const float* x, int dy, int dx, bool flip,
                       float* out) {
  const int64_t image = (int64_t)channels * height * width;
  const AugmentChoice a{dy, dx, flip, 0, 0};
  parallel_for(0, batch, images_per_piece(channels, height, width), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) transform_image(channels, height, width, x + i * image, a, 0, out + i * image);
  });
}

}  // namespace cpu
}  // namespace cudalab
