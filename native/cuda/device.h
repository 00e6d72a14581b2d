// what the addon needs to know about CUDA beyond the op table: whether it can
// be used (and if not, why), the devices, and allocator statistics. plain C++
// so addon.cc (compiled by the host compiler) can include it.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace cudalab {
namespace cuda {

struct DeviceInfo {
  int index;
  std::string name;
  int major, minor;  // compute capability
  size_t total_memory, free_memory;
  int multiprocessors;
  bool supported;  // this build has SASS for major.minor, or PTX it can JIT
};

struct RuntimeInfo {
  bool available;          // a device can be used
  std::string reason;      // why not: "no NVIDIA driver found (...)", "no CUDA device", "... sm_80 not compiled in"
  int driver_version;      // 13000 for 13.0; 0 when there is no driver
  int runtime_version;     // the linked cudart, 13000 for 13.0
  std::vector<DeviceInfo> devices;
};

// never throws, never aborts: safe to call on a machine without a driver
RuntimeInfo runtime_info();

// throws cudalab::Error("ERR_NO_CUDA", reason) unless a device can be used;
// the first successful call selects device 0 and creates the stream.
void ensure_available();

// the architectures this build was compiled for, e.g. {"90", "120"}
std::vector<std::string> compiled_architectures();
std::string cuda_version();  // the toolkit the build used, e.g. "13.0"

struct AllocatorStats {
  size_t allocated;  // bytes handed out and not yet released
  size_t reserved;   // bytes obtained from cudaMalloc (in use + cached)
};
AllocatorStats allocator_stats();

}  // namespace cuda
}  // namespace cudalab
