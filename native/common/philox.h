// philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"):
// a counter-based generator. element idx of the stream (seed, offset) is a pure
// function of (seed, offset + idx), so the CPU and every CUDA thread layout draw
// the same numbers, and a stream can resume anywhere without carried state.
#pragma once
#include <cmath>
#include <cstdint>

#include "common/host_device.h"

namespace cudalab {

struct Philox4 {
  uint32_t v[4];
};

CUDALAB_HD uint32_t mulhilo32(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = (uint64_t)a * (uint64_t)b;
  *hi = (uint32_t)(p >> 32);
  return (uint32_t)p;
}

CUDALAB_HD Philox4 philox4x32(uint64_t counter, uint64_t seed) {
  uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo32(0xD2511F53u, c0, &hi0);
    uint32_t lo1 = mulhilo32(0xCD9E8D57u, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// 24 random bits -> a float in [0, 1), exactly representable
CUDALAB_HD float u32_to_unit(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }

// uniform in [0, 1) for element idx of stream (seed, offset)
CUDALAB_HD float philox_uniform(uint64_t seed, uint64_t offset, uint64_t idx) {
  return u32_to_unit(philox4x32(offset + idx, seed).v[0]);
}

// standard normal for element idx (box-muller on two uniforms of one counter).
// computed in double so the CPU and CUDA results agree to the last float bit.
CUDALAB_HD float philox_normal(uint64_t seed, uint64_t offset, uint64_t idx) {
  Philox4 r = philox4x32(offset + idx, seed);
  double u1 = ((double)(r.v[0] >> 8) + 1.0) * (1.0 / 16777216.0);  // (0, 1]: log is finite
  double u2 = (double)(r.v[1] >> 8) * (1.0 / 16777216.0);
  return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

}  // namespace cudalab
