// training augmentation, one definition for the CPU and CUDA kernels
// (augment_images and shift_flip_images in ops.h). every choice is a pure
// function of (seed, epoch, image id) through philox, and every output pixel
// is a copy of one input pixel (or a cutout zero): no arithmetic on the
// floats, so both backends agree bit for bit whatever the thread layout.
//
// an output pixel (y, x) of an image translated by (dy, dx) and mirrored:
//   out[c][y][x] = in[c][reflect(y + dy)][reflect((flip ? w-1-x : x) + dx)]
// reflect as PyTorch's 'reflect' padding (the edge pixel is not repeated):
// -1 -> 1, h -> h-2. that is airbench's pad-then-crop with the pad's width as
// the largest translation, and its mirror of the cropped image.
#pragma once
#include <cstdint>

#include "common/host_device.h"
#include "common/philox.h"

namespace cudalab {

// flip modes of augment_images
constexpr int kFlipNone = 0;
constexpr int kFlipRandom = 1;       // each image, each epoch: a coin
constexpr int kFlipAlternating = 2;  // a coin per image once, then every image toggles every other epoch

struct AugmentChoice {
  int dy, dx;
  bool flip;
  int cut_y0, cut_x0;  // the cutout square's top-left corner (may lie above or left of the image)
};

// j in (-n, 2n - 1) reflected into [0, n)
CUDALAB_HD int reflect_index(int j, int n) {
  if (j < 0) j = -j;
  if (j >= n) j = 2 * (n - 1) - j;
  return j;
}

// the per-epoch draws of image `id` come from counter (epoch + 1) * 2^32 + id;
// the alternating flip's one coin from counter id (the epoch-free slot 0)
CUDALAB_HD uint64_t augment_counter(int epoch, int32_t id) { return ((uint64_t)(epoch + 1) << 32) + (uint32_t)id; }

// words: 0 the row shift, 1 the column shift, 2 the flip coin (top bit),
// 3 the cutout centre (low half the row, high half the column)
CUDALAB_HD AugmentChoice augment_choice(uint64_t seed, int epoch, int32_t id, int translate, int flip_mode, int cutout,
                                        int height, int width) {
  const Philox4 r = philox4x32(augment_counter(epoch, id), seed);
  const uint32_t span = 2u * (uint32_t)translate + 1u;
  AugmentChoice a;
  a.dy = (int)(r.v[0] % span) - translate;
  a.dx = (int)(r.v[1] % span) - translate;
  if (flip_mode == kFlipRandom) a.flip = (r.v[2] >> 31) != 0;
  else if (flip_mode == kFlipAlternating) a.flip = ((philox4x32((uint32_t)id, seed).v[2] >> 31) ^ ((uint32_t)epoch & 1u)) != 0;
  else a.flip = false;
  a.cut_y0 = (int)((r.v[3] & 0xffffu) % (uint32_t)height) - cutout / 2;
  a.cut_x0 = (int)((r.v[3] >> 16) % (uint32_t)width) - cutout / 2;
  return a;
}

// the offset in a channel plane of the input pixel that output pixel (y, x) copies
CUDALAB_HD int64_t shifted_source(int y, int x, int dy, int dx, bool flip, int height, int width) {
  const int sy = reflect_index(y + dy, height);
  const int sx = reflect_index((flip ? width - 1 - x : x) + dx, width);
  return (int64_t)sy * width + sx;
}

CUDALAB_HD bool in_cutout(int y, int x, const AugmentChoice& a, int cutout) {
  return cutout > 0 && y >= a.cut_y0 && y < a.cut_y0 + cutout && x >= a.cut_x0 && x < a.cut_x0 + cutout;
}

}  // namespace cudalab
