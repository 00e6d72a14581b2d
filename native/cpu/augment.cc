// training augmentation on the cpu (augment_images, shift_flip_images in
// ops.h; the formulas in common/augment.h). each output pixel is a copy of one
// input pixel or a cutout zero, so the result does not depend on the thread
// count, and equals the cuda kernels' bit for bit.
#include <algorithm>
#include <cstdint>

#include "common/augment.h"
#include "cpu/parallel.h"
#include "cpu/dispatch.h"

namespace cudalab {
namespace cpu {
namespace CUDALAB_CPU_ISA {

namespace {

// ~32k output floats per piece, as gather_images
constexpr int64_t kAugmentGrain = 32768;

// one row of an image, translated by dx and mirrored when flip: the columns
// whose source lies inside the row are one straight (or reversed) copy the
// compiler vectorises; only the few at the edges reflect
void transform_row(int width, const float* s, int dx, bool flip, float* d) {
  // non-flipped, column x reads x + dx; flipped, width - 1 - x + dx
  const int lo = flip ? std::max(0, dx) : std::max(0, -dx);
  const int hi = std::max(lo, flip ? std::min(width, width + dx) : std::min(width, width - dx));
  for (int x = 0; x < lo; x++) d[x] = s[shifted_source(0, x, 0, dx, flip, 1, width)];
  if (flip) {
    const float* r = s + width - 1 + dx;
    for (int x = lo; x < hi; x++) d[x] = r[-x];
  } else {
    const float* r = s + dx;
    for (int x = lo; x < hi; x++) d[x] = r[x];
  }
  for (int x = hi; x < width; x++) d[x] = s[shifted_source(0, x, 0, dx, flip, 1, width)];
}

// one image: every channel plane translated, mirrored and cut out as `a` says
void transform_image(int channels, int height, int width, const float* in, const AugmentChoice& a, int cutout,
                     float* out) {
  const int64_t plane = (int64_t)height * width;
  // the cutout square, clipped to the image
  const int y0 = std::max(0, a.cut_y0), y1 = std::min(height, a.cut_y0 + cutout);
  const int x0 = std::max(0, a.cut_x0), x1 = std::min(width, a.cut_x0 + cutout);
  for (int c = 0; c < channels; c++) {
    const float* src = in + c * plane;
    float* dst = out + c * plane;
    for (int y = 0; y < height; y++) {
      transform_row(width, src + (int64_t)reflect_index(y + a.dy, height) * width, a.dx, a.flip, dst + (int64_t)y * width);
    }
    if (cutout > 0) {
      for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) dst[(int64_t)y * width + x] = 0.0f;
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

}  // namespace CUDALAB_CPU_ISA
}  // namespace cpu
}  // namespace cudalab
