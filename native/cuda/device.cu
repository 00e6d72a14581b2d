// what CUDA can do here: driver, devices, and whether this build has code for
// them. runtime_info() must work on a machine with no driver at all: cudart is
// linked statically, so every call below returns an error code there
// (cudaErrorInsufficientDriver, cudaErrorNoDevice) instead of failing to load,
// and we turn those codes into sentences.
#include <cuda_runtime.h>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cuda/device.h"

// the architecture list comes from CMake (CUDALAB_CUDA_ARCHS, "90;120" or
// "90,120"); without it, from nvcc's own list of the virtual architectures
// compiled (__CUDA_ARCH_LIST__, e.g. 900,1200)
#define CUDALAB_STRINGIFY2(...) #__VA_ARGS__
#define CUDALAB_STRINGIFY(...) CUDALAB_STRINGIFY2(__VA_ARGS__)

namespace cudalab {
namespace cuda {

namespace {

// one entry of CMake's architecture list: "90", "120", "90a", "90-real", "90-virtual"
struct CompiledArch {
  std::string name;  // as listed, without -real/-virtual
  int major = 0, minor = 0;
  bool specific = false;  // "a"/"f" suffix: runs on exactly this major.minor
  bool sass = true;       // machine code for it is embedded
  bool ptx = true;        // PTX the driver can compile for newer devices
};

std::string arch_list_source() {
#if defined(CUDALAB_CUDA_ARCHS)
  return CUDALAB_CUDA_ARCHS;
#elif defined(__CUDA_ARCH_LIST__)
  // 900,1200 -> 90,120
  std::string raw = CUDALAB_STRINGIFY(__CUDA_ARCH_LIST__), out, item;
  raw += ',';
  for (char ch : raw) {
    if (ch == ',' || ch == ' ') {
      if (item.size() > 1) out += (out.empty() ? "" : ",") + item.substr(0, item.size() - 1);
      item.clear();
    } else {
      item += ch;
    }
  }
  return out;
#else
  return "";
#endif
}

std::vector<CompiledArch> parse_archs() {
  std::vector<CompiledArch> out;
  std::string list = arch_list_source();
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find_first_of(";, ", start);
    if (end == std::string::npos) end = list.size();
    std::string item = list.substr(start, end - start);
    start = end + 1;
    if (item.empty()) continue;
    CompiledArch arch;
    const std::string real = "-real", virt = "-virtual";
    if (item.size() > real.size() && item.compare(item.size() - real.size(), real.size(), real) == 0) {
      item.resize(item.size() - real.size());
      arch.ptx = false;
    } else if (item.size() > virt.size() && item.compare(item.size() - virt.size(), virt.size(), virt) == 0) {
      item.resize(item.size() - virt.size());
      arch.sass = false;
    }
    std::string digits;
    for (char ch : item) {
      if (ch >= '0' && ch <= '9') digits += ch;
      else arch.specific = true;  // 90a, 100f: family or architecture specific
    }
    if (digits.size() < 2) continue;
    arch.name = item;
    arch.major = std::stoi(digits.substr(0, digits.size() - 1));
    arch.minor = digits.back() - '0';
    out.push_back(arch);
  }
  return out;
}

// can code from this build run on a device of compute capability major.minor?
// machine code runs on the same major with an equal or newer minor; PTX is
// compiled by the driver for any newer device. specific targets run only there.
bool build_runs_on(int major, int minor) {
  for (const CompiledArch& a : parse_archs()) {
    bool same = a.major == major && a.minor == minor;
    if (a.specific) {
      if (same) return true;
      continue;
    }
    if (a.sass && a.major == major && a.minor <= minor) return true;
    if (a.ptx && (a.major < major || (a.major == major && a.minor <= minor))) return true;
  }
  return false;
}

std::string version_text(int v) {  // 13000 -> "13.0"
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

std::string error_text(cudaError_t e) {
  return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
}

std::string arch_list_text() {
  std::string s;
  for (const std::string& a : compiled_architectures()) s += (s.empty() ? "sm_" : ", sm_") + a;
  return s.empty() ? "no architectures" : s;
}

// a tiny kernel whose attributes the runtime can only read when this build has
// an image (machine code or PTX) for the current device: the definitive test
__global__ void probe_kernel(int* x) {
  if (x) *x = 1;
}

}  // namespace

std::vector<std::string> compiled_architectures() {
  std::vector<std::string> out;
  for (const CompiledArch& a : parse_archs()) out.push_back(a.name);
  return out;
}

std::string cuda_version() { return version_text(CUDART_VERSION); }

RuntimeInfo runtime_info() {
  RuntimeInfo info;
  info.available = false;
  info.driver_version = 0;
  info.runtime_version = CUDART_VERSION;
  try {
    int rt = 0;
    if (cudaRuntimeGetVersion(&rt) == cudaSuccess && rt > 0) info.runtime_version = rt;
    int drv = 0;
    if (cudaDriverGetVersion(&drv) != cudaSuccess) drv = 0;
    info.driver_version = drv;

    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
      cudaGetLastError();  // not sticky, but leave nothing behind
      if (drv == 0) {
        info.reason = "no NVIDIA driver found (" + error_text(e) + ")";
      } else if (e == cudaErrorInsufficientDriver) {
        info.reason = "the NVIDIA driver supports CUDA " + version_text(drv) +
                      " but this build needs CUDA " + version_text(info.runtime_version) +
                      ": update the driver (" + error_text(e) + ")";
      } else if (e == cudaErrorNoDevice) {
        info.reason = "no CUDA device (" + error_text(e) + ")";
      } else {
        info.reason = "CUDA could not be initialised (" + error_text(e) + ")";
      }
      return info;
    }
    if (count == 0) {
      info.reason = "no CUDA device (the driver reports none)";
      return info;
    }

    int current = 0;
    bool have_current = cudaGetDevice(&current) == cudaSuccess;
    for (int i = 0; i < count; ++i) {
      DeviceInfo d;
      d.index = i;
      d.major = d.minor = 0;
      d.total_memory = d.free_memory = 0;
      d.multiprocessors = 0;
      d.supported = false;
      cudaDeviceProp p;
      e = cudaGetDeviceProperties(&p, i);
      if (e != cudaSuccess) {
        cudaGetLastError();
        d.name = "device " + std::to_string(i) + " (properties unreadable: " + error_text(e) + ")";
        info.devices.push_back(d);
        continue;
      }
      d.name = p.name;
      d.major = p.major;
      d.minor = p.minor;
      d.total_memory = p.totalGlobalMem;
      d.multiprocessors = p.multiProcessorCount;
      d.supported = build_runs_on(p.major, p.minor);
      // free memory and the image check need the device's context; both only
      // read, and the context is the one the ops would use anyway
      if (cudaSetDevice(i) == cudaSuccess) {
        size_t free_b = 0, total_b = 0;
        if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) d.free_memory = free_b;
        cudaFuncAttributes attr;
        cudaError_t probe = cudaFuncGetAttributes(&attr, probe_kernel);
        if (probe == cudaSuccess) d.supported = true;
        else if (probe == cudaErrorNoKernelImageForDevice || probe == cudaErrorInvalidDeviceFunction ||
                 probe == cudaErrorUnsupportedPtxVersion)
          d.supported = false;
        cudaGetLastError();
      } else {
        cudaGetLastError();
      }
      info.devices.push_back(d);
    }
    if (have_current) cudaSetDevice(current);

    const DeviceInfo& d0 = info.devices[0];
    if (d0.supported) {
      info.available = true;
      info.reason = "";
    } else {
      char cc[32];
      std::snprintf(cc, sizeof cc, "%d.%d", d0.major, d0.minor);
      info.reason = "device 0 (" + d0.name + ", compute capability " + cc +
                    ") cannot run this build: sm_" + std::to_string(d0.major * 10 + d0.minor) +
                    " not compiled in (built for " + arch_list_text() +
                    "); rebuild with CUDALAB_CUDA_ARCHS=" + std::to_string(d0.major * 10 + d0.minor);
    }
  } catch (const std::exception& ex) {
    info.available = false;
    info.reason = std::string("CUDA could not be queried: ") + ex.what();
  } catch (...) {
    info.available = false;
    info.reason = "CUDA could not be queried";
  }
  return info;
}

}  // namespace cuda
}  // namespace cudalab
