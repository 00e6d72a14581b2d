// batches from a data set held in native memory (see gather_images in ops.h):
// each batch image is one source image mapped byte by byte through its
// channel's 256-entry table. a lookup per byte and no arithmetic, so the
// floats are exactly the table's, whatever the thread count.
#include <cstdint>
#include <limits>

#include "cpu/parallel.h"
#include "cpu/dispatch.h"

namespace cudalab {
namespace cpu {
namespace CUDALAB_CPU_ISA {

// ~32k output floats per piece, as the elementwise ops: worth a thread handoff
constexpr int64_t kGatherGrain = 32768;

void gather_images(int batch, int count, int channels, int plane, const uint8_t* images, const uint8_t* labels,
                   const int32_t* order, int first, const float* table, float* out, int32_t* out_labels) {
  const int64_t image = (int64_t)channels * plane;
  const int64_t grain = image >= kGatherGrain ? 1 : kGatherGrain / image;
  parallel_for(0, batch, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
      const int64_t k = first + i;
      const int64_t idx = order ? (int64_t)order[k] : k;
      float* o = out + i * image;
      // the binding has rejected such an index already; this keeps the
      // documented behaviour (the cuda kernel's) should anything else call in
      if (idx < 0 || idx >= count) {
        for (int64_t j = 0; j < image; j++) o[j] = std::numeric_limits<float>::quiet_NaN();
        out_labels[i] = -1;
        continue;
      }
      const uint8_t* src = images + idx * image;
      for (int c = 0; c < channels; c++) {
        const float* t = table + c * 256;
        const uint8_t* s = src + (int64_t)c * plane;
        float* oc = o + (int64_t)c * plane;
        for (int p = 0; p < plane; p++) oc[p] = t[s[p]];
      }
      out_labels[i] = labels[idx];
    }
  });
}

}  // namespace CUDALAB_CPU_ISA
}  // namespace cpu
}  // namespace cudalab
