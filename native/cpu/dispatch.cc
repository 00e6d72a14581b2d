// picks the kernels' instruction set (see dispatch.h). compiled for the
// baseline like the rest of the addon outside the kernel files.
#include "cpu/dispatch.h"

#include <cstdlib>
#include <string>

#include "error.h"

namespace cudalab {
namespace cpu {

namespace detail {
std::atomic<Isa> selected{Isa::generic};
}  // namespace detail

namespace {

const char* const kVariable = "CUDALAB_CPU";

// whether this processor (and its operating system, which must save the wider
// registers on a context switch) can run a build. gcc's cpu model checks both:
// the cpuid bits and the xgetbv state, as the x86-64-v3/v4 levels define them
bool supports(Isa isa) {
#ifdef CUDALAB_CPU_X86
  __builtin_cpu_init();
  switch (isa) {
    case Isa::avx512:
      return __builtin_cpu_supports("x86-64-v4") != 0;
    case Isa::avx2:
      return __builtin_cpu_supports("x86-64-v3") != 0;
    case Isa::generic:
      return true;
  }
  return false;
#else
  return isa == Isa::generic;
#endif
}

Isa best_supported() {
  for (Isa isa : {Isa::avx512, Isa::avx2}) {
    if (supports(isa)) return isa;
  }
  return Isa::generic;
}

// "avx512, avx2, generic": the values CUDALAB_CPU accepts on this processor
std::string accepted() {
  std::string s;
  for (Isa isa : {Isa::avx512, Isa::avx2, Isa::generic}) {
    if (!supports(isa)) continue;
    if (!s.empty()) s += ", ";
    s += isa_name(isa);
  }
  return s;
}

const char* requirement(Isa isa) {
  switch (isa) {
    case Isa::avx512:
      return "AVX-512 F, BW, DQ and VL (x86-64-v4)";
    case Isa::avx2:
      return "AVX2, FMA and BMI2 (x86-64-v3)";
    default:
      return "nothing";
  }
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512:
      return "avx512";
    case Isa::avx2:
      return "avx2";
    default:
      return "generic";
  }
}

Isa selected_isa() { return detail::selected.load(std::memory_order_relaxed); }

void select_isa() {
  const char* env = std::getenv(kVariable);
  if (env == nullptr || *env == '\0') {
    detail::selected.store(best_supported(), std::memory_order_relaxed);
    return;
  }
  const std::string value = env;
  for (Isa isa : {Isa::avx512, Isa::avx2, Isa::generic}) {
    if (value != isa_name(isa)) continue;
    if (!supports(isa)) {
      throw Error("ERR_CPU", std::string(kVariable) + "=" + value + ": this processor lacks " +
                                 requirement(isa) + "; on this processor " + kVariable +
                                 " accepts " + accepted() + " (unset: the best it has, " +
                                 isa_name(best_supported()) + ")");
    }
    detail::selected.store(isa, std::memory_order_relaxed);
    return;
  }
  throw Error("ERR_CPU", std::string(kVariable) + "=" + value +
                             ": unknown instruction set; expected one of avx512, avx2, generic "
                             "(on this processor: " + accepted() + "; unset: the best it has, " +
                             isa_name(best_supported()) + ")");
}

}  // namespace cpu
}  // namespace cudalab
