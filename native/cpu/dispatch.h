// the cpu op table, picked at run time from the instruction sets the processor
// has. the kernel files (everything in native/cpu but memory.cc, parallel.cc
// and dispatch.cc) are compiled once per instruction set, each build in its
// own namespace (CMakeLists.txt):
//
//   cpu::generic  baseline x86-64 (SSE2), or whatever the target's baseline is
//                 (aarch64: NEON)
//   cpu::avx2     x86-64-v3: AVX2, FMA, BMI2 (x86-64 only)
//   cpu::avx512   x86-64-v4: AVX-512 F, BW, DQ, VL (x86-64 only)
//
// cpu::gemm and the rest of the table are forwarders that call the selected
// build's function. everything outside the kernel files (the addon, the thread
// pool, this dispatch) is compiled for the baseline, so the process never
// executes an instruction the processor lacks before, or after, the choice.
//
// the choice: select_isa() (called once, when the addon loads) takes the
// widest set the processor and the operating system support, or the one that
// CUDALAB_CPU=avx512|avx2|generic names; a name the processor cannot run, or
// an unknown one, is an Error (ERR_CPU) naming the variable and the values
// this processor accepts. until then the generic build runs.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "ops.h"

namespace cudalab {
namespace cpu {

enum class Isa : int { generic = 0, avx2 = 1, avx512 = 2 };

// selects the kernels (see above); throws Error("ERR_CPU", ...) for a bad
// CUDALAB_CPU. calling it again selects again (the variable is read each time)
void select_isa();
// the selected instruction set, and its name as CUDALAB_CPU spells it
Isa selected_isa();
const char* isa_name(Isa isa);

// the builds' tables. each kernel file defines its functions inside
// cpu::CUDALAB_CPU_ISA, the namespace of the build it belongs to
namespace generic {
CUDALAB_OP_TABLE
}
#if defined(__x86_64__) || defined(_M_X64)
#define CUDALAB_CPU_X86 1
namespace avx2 {
CUDALAB_OP_TABLE
}
namespace avx512 {
CUDALAB_OP_TABLE
}
#endif

// host memory (memory.cc) is the same for every instruction set: built once
void* alloc(size_t bytes);
void release(void* ptr);
void copy_from_host(void* dst, const void* host_src, size_t bytes);
void copy_to_host(void* host_dst, const void* src, size_t bytes);
void copy(void* dst, const void* src, size_t bytes);
void synchronize();

namespace detail {
// atomic because each load of the addon (one per worker thread) selects again,
// possibly while another thread's kernels run: the same value, but a race
extern std::atomic<Isa> selected;

// a forwarder with fn's exact signature, calling the selected build's fn
template <auto generic_fn, auto avx2_fn, auto avx512_fn>
struct Dispatched;
template <class R, class... A, R (*generic_fn)(A...), R (*avx2_fn)(A...), R (*avx512_fn)(A...)>
struct Dispatched<generic_fn, avx2_fn, avx512_fn> {
  static R call(A... a) {
    switch (selected.load(std::memory_order_relaxed)) {
      case Isa::avx512:
        return avx512_fn(a...);
      case Isa::avx2:
        return avx2_fn(a...);
      default:
        return generic_fn(a...);
    }
  }
};
}  // namespace detail

// cpu::fn: a reference to fn's forwarder, so that cpu::fn(...) calls it and
// &cpu::fn is an ordinary function pointer (addon.cc's binding table)
#ifdef CUDALAB_CPU_X86
#define CUDALAB_CPU_DISPATCHED(fn) \
  inline constexpr auto& fn = detail::Dispatched<&generic::fn, &avx2::fn, &avx512::fn>::call;
#else
#define CUDALAB_CPU_DISPATCHED(fn) inline constexpr auto& fn = generic::fn;
#endif

// every op of CUDALAB_OP_TABLE but the memory ones above
CUDALAB_CPU_DISPATCHED(gemm)
CUDALAB_CPU_DISPATCHED(conv2d_forward)
CUDALAB_CPU_DISPATCHED(conv2d_backward_input)
CUDALAB_CPU_DISPATCHED(conv2d_backward_weight)
CUDALAB_CPU_DISPATCHED(maxpool2d_forward)
CUDALAB_CPU_DISPATCHED(maxpool2d_backward)
CUDALAB_CPU_DISPATCHED(avgpool2d_forward)
CUDALAB_CPU_DISPATCHED(avgpool2d_backward)
CUDALAB_CPU_DISPATCHED(relu_forward)
CUDALAB_CPU_DISPATCHED(relu_backward)
CUDALAB_CPU_DISPATCHED(add)
CUDALAB_CPU_DISPATCHED(mul)
CUDALAB_CPU_DISPATCHED(scale)
CUDALAB_CPU_DISPATCHED(axpby)
CUDALAB_CPU_DISPATCHED(bias_add)
CUDALAB_CPU_DISPATCHED(sum_axis)
CUDALAB_CPU_DISPATCHED(softmax_xent_forward)
CUDALAB_CPU_DISPATCHED(softmax_xent_backward)
CUDALAB_CPU_DISPATCHED(argmax)
CUDALAB_CPU_DISPATCHED(correct_count)
CUDALAB_CPU_DISPATCHED(adam_step)
CUDALAB_CPU_DISPATCHED(sgd_step)
CUDALAB_CPU_DISPATCHED(dropout_forward)
CUDALAB_CPU_DISPATCHED(dropout_backward)
CUDALAB_CPU_DISPATCHED(fill)
CUDALAB_CPU_DISPATCHED(uniform)
CUDALAB_CPU_DISPATCHED(normal)
CUDALAB_CPU_DISPATCHED(gather_images)
CUDALAB_CPU_DISPATCHED(augment_images)
CUDALAB_CPU_DISPATCHED(shift_flip_images)
CUDALAB_CPU_DISPATCHED(batch_norm2d_stats)
CUDALAB_CPU_DISPATCHED(batch_norm2d_invstd)
CUDALAB_CPU_DISPATCHED(batch_norm2d_forward)
CUDALAB_CPU_DISPATCHED(batch_norm2d_backward)
CUDALAB_CPU_DISPATCHED(gelu_forward)
CUDALAB_CPU_DISPATCHED(gelu_backward)
CUDALAB_CPU_DISPATCHED(softmax_xent_smooth_forward)
CUDALAB_CPU_DISPATCHED(softmax_xent_smooth_backward)

}  // namespace cpu
}  // namespace cudalab
