// the Node-API surface of cudalab (typed in src/native.ts). every entry point
// checks its arguments completely (types, ranges, shapes against storage
// sizes, devices, aliasing) and only then calls the op table (ops.h) of the
// storages' device. errors reach JavaScript as Error objects with a stable
// `code`; no input, however wrong, takes the process down.
#include <napi.h>

#include <cstring>
#include <new>
#include <string>

#include "addon_args.h"
#include "addon_storage.h"
#include "error.h"
#include "ops.h"
#ifdef CUDALAB_WITH_CUDA
#include "cuda/device.h"
#endif

namespace cudalab {
namespace addon {
namespace {

// runs the op on the backend of `device` (every storage of the call is on it)
#ifdef CUDALAB_WITH_CUDA
#define DISPATCH(device, call) ((device) == Device::cuda ? cuda::call : cpu::call)
#else
#define DISPATCH(device, call) ((void)(device), cpu::call)
#endif

float* F(const Storage* s) { return s ? static_cast<float*>(s->ptr()) : nullptr; }
int32_t* I(const Storage* s) { return s ? static_cast<int32_t*>(s->ptr()) : nullptr; }

constexpr int64_t kMaxCount = (int64_t)1 << 53;  // element counts of the int64 ops

// every entry point runs inside this: our errors become coded JavaScript errors
template <typename Fn>
Napi::Value guarded(const Napi::CallbackInfo& info, const char* name, Fn fn) {
  Napi::Env env = info.Env();
  try {
    return fn(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const Error& e) {
    throw js_error(env, e.code, e.what());
  } catch (const std::bad_alloc&) {
    throw js_error(env, "ERR_OOM", std::string(name) + ": out of host memory");
  } catch (const std::exception& e) {
    throw js_error(env, "ERR_ARG", std::string(name) + ": internal error: " + e.what());
  }
}

// labels live in native memory; on the CPU we can afford to check them, so a bad
// label is an error here rather than a NaN loss (the CUDA kernels cannot stop to ask)
void check_labels(const Args& a, size_t i, const Storage* labels, int n, int classes) {
  if (labels->device() != Device::cpu) return;
  const int32_t* l = I(labels);
  for (int j = 0; j < n; ++j) {
    if (l[j] < 0 || l[j] >= classes)
      a.fail("ERR_ARG", a.name(i) + ": labels[" + std::to_string(j) + "] = " + std::to_string(l[j]) +
                            " is outside [0, " + std::to_string(classes) + ")");
  }
}

// ---- device information ----

std::string compiler_text() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("g++ ") + __VERSION__;
#else
  return "unknown";
#endif
}

bool built_with_sanitizers() {
#if defined(__SANITIZE_ADDRESS__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return true;
#else
  return false;
#endif
#else
  return false;
#endif
}

#ifdef CUDALAB_WITH_CUDA
// 13000 -> "13.0"
std::string cuda_version_text(int v) { return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10); }
#endif

Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "buildInfo", {});
  Napi::Object o = Napi::Object::New(env);
  Napi::Array backends = Napi::Array::New(env);
  backends.Set(0u, "cpu");
#ifdef CUDALAB_WITH_CUDA
  backends.Set(1u, "cuda");
  Napi::Object cuda_o = Napi::Object::New(env);
  cuda_o.Set("version", cuda::cuda_version());
  Napi::Array archs = Napi::Array::New(env);
  uint32_t i = 0;
  for (const std::string& arch : cuda::compiled_architectures()) archs.Set(i++, arch);
  cuda_o.Set("architectures", archs);
  o.Set("backends", backends);
  o.Set("cuda", cuda_o);
#else
  o.Set("backends", backends);
  o.Set("cuda", env.Null());
#endif
  o.Set("compiler", compiler_text());
#ifdef NDEBUG
  o.Set("debug", false);
#else
  o.Set("debug", true);
#endif
  o.Set("sanitizers", built_with_sanitizers());
  o.Set("napiVersion", NAPI_VERSION);
  return o;
}

Napi::Value CudaInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  Napi::Array devices = Napi::Array::New(env);
#ifdef CUDALAB_WITH_CUDA
  cuda::RuntimeInfo r;
  try {
    r = cuda::runtime_info();
  } catch (const std::exception& e) {
    r = cuda::RuntimeInfo{false, std::string("the CUDA runtime could not be queried: ") + e.what(), 0, 0, {}};
  }
  o.Set("available", r.available);
  o.Set("reason", r.available ? std::string() : r.reason);
  if (r.driver_version > 0) {
    o.Set("driverVersion", cuda_version_text(r.driver_version));
  } else {
    o.Set("driverVersion", env.Null());
  }
  o.Set("runtimeVersion", r.runtime_version > 0 ? cuda_version_text(r.runtime_version) : cuda::cuda_version());
  uint32_t i = 0;
  for (const cuda::DeviceInfo& d : r.devices) {
    Napi::Object od = Napi::Object::New(env);
    od.Set("index", d.index);
    od.Set("name", d.name);
    od.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
    od.Set("totalMemory", (double)d.total_memory);
    od.Set("freeMemory", (double)d.free_memory);
    od.Set("multiprocessors", d.multiprocessors);
    od.Set("supported", d.supported);
    devices.Set(i++, od);
  }
#else
  o.Set("available", false);
  o.Set("reason", kNoCudaBackend);
  o.Set("driverVersion", env.Null());
  o.Set("runtimeVersion", "");
#endif
  o.Set("devices", devices);
  return o;
}

Napi::Value MemoryStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "memoryStats", {"device"});
  Device d = a.device(0);
  const DeviceCounters& c = counters(d);
  double allocated = (double)c.bytes.load(), reserved = allocated;
#ifdef CUDALAB_WITH_CUDA
  // the caching allocator holds more than the live storages (freed blocks stay
  // cached); ask it only once cuda has been used: without a driver there is
  // nothing to ask
  if (d == Device::cuda && c.used.load()) reserved = (double)cuda::allocator_stats().reserved;
#endif
  Napi::Object o = Napi::Object::New(env);
  o.Set("allocated", allocated);
  o.Set("reserved", reserved);
  o.Set("storages", (double)c.storages.load());
  return o;
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Args a(info, "setNumThreads", {"n"});
  // 0 restores the default (CUDALAB_NUM_THREADS, else the machine's cores)
  cpu::set_num_threads((int)a.integer(0, 0, 4096));
  return info.Env().Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  Args a(info, "getNumThreads", {});
  return Napi::Number::New(info.Env(), cpu::num_threads());
}

Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  Args a(info, "synchronize", {"device"});
  Device d = a.device(0);
  if (d == Device::cuda) require_cuda("synchronize");
  DISPATCH(d, synchronize());
  return info.Env().Undefined();
}

// ---- transfers ----

void check_range(const Args& a, size_t i, const Storage* s, int64_t offset, int64_t bytes) {
  if ((uint64_t)offset + (uint64_t)bytes > s->bytes())
    a.fail("ERR_SHAPE", "bytes [" + std::to_string(offset) + ", " + std::to_string(offset + bytes) + ") lie outside " +
                            a.name(i) + " (" + std::to_string(s->bytes()) + " bytes)");
}

Napi::Value Write(const Napi::CallbackInfo& info) {
  Args a(info, "write", {"dst", "src", "dstOffset"}, 2);
  Storage* dst = a.storage(0);
  auto [host, bytes] = a.host_view(1);
  int64_t off = a.offset(2);
  Device d = a.same_device();
  check_range(a, 0, dst, off, (int64_t)bytes);
  if (bytes == 0) return info.Env().Undefined();
  DISPATCH(d, copy_from_host(static_cast<uint8_t*>(dst->ptr()) + off, host, bytes));
  return info.Env().Undefined();
}

Napi::Value Read(const Napi::CallbackInfo& info) {
  Args a(info, "read", {"src", "dst", "srcOffset"}, 2);
  Storage* src = a.storage(0);
  auto [host, bytes] = a.host_view(1);
  int64_t off = a.offset(2);
  Device d = a.same_device();
  check_range(a, 0, src, off, (int64_t)bytes);
  // even an empty read waits for queued work, as promised (copy_to_host does)
  DISPATCH(d, copy_to_host(host, static_cast<const uint8_t*>(src->ptr()) + off, bytes));
  return info.Env().Undefined();
}

Napi::Value Copy(const Napi::CallbackInfo& info) {
  Args a(info, "copy", {"dst", "src", "bytes", "dstOffset", "srcOffset"}, 3);
  Storage* dst = a.storage(0);
  Storage* src = a.storage(1);
  int64_t bytes = a.integer(2, 0, kMaxCount);
  int64_t doff = a.offset(3), soff = a.offset(4);
  check_range(a, 0, dst, doff, bytes);
  check_range(a, 1, src, soff, bytes);
  // compared as addresses, so a view and its parent count as one storage
  uintptr_t dstart = (uintptr_t)dst->ptr() + doff, sstart = (uintptr_t)src->ptr() + soff;
  if (dst->device() == src->device() && bytes > 0 && dstart < sstart + bytes && sstart < dstart + bytes)
    a.fail("ERR_ARG", "the source and destination ranges overlap in one storage");
  if (dst->device() == Device::cuda || src->device() == Device::cuda) require_cuda("copy");
  if (bytes == 0) return info.Env().Undefined();
  uint8_t* dp = static_cast<uint8_t*>(dst->ptr()) + doff;
  const uint8_t* sp = static_cast<const uint8_t*>(src->ptr()) + soff;
  if (dst->device() == Device::cpu && src->device() == Device::cpu) {
    cpu::copy(dp, sp, (size_t)bytes);
  } else {
#ifdef CUDALAB_WITH_CUDA
    if (dst->device() == Device::cuda && src->device() == Device::cuda) {
      cuda::copy(dp, sp, (size_t)bytes);
    } else if (dst->device() == Device::cuda) {
      cuda::copy_from_host(dp, sp, (size_t)bytes);
    } else {
      cuda::copy_to_host(dp, sp, (size_t)bytes);
    }
#endif
  }
  return info.Env().Undefined();
}

// a storage aliasing part of another (addon.view), e.g. a buffer between guard zones
Napi::Value View(const Napi::CallbackInfo& info) {
  Args a(info, "view", {"storage", "byteOffset", "bytes"});
  Storage* parent = a.storage(0);
  int64_t offset = a.integer(1, 0, kMaxCount);
  int64_t bytes = a.integer(2, 0, kMaxCount);
  check_range(a, 0, parent, offset, bytes);
  return Storage::NewView(info.Env(), {parent, info[0].As<Napi::Object>(), (size_t)offset, (size_t)bytes});
}

// ---- matrix multiply and convolution ----

int dim(const Args& a, size_t i) { return (int)a.integer(i, 1, INT32_MAX); }

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Args a(info, "gemm", {"transA", "transB", "m", "n", "k", "alpha", "a", "b", "beta", "c"});
  bool ta = a.boolean(0), tb = a.boolean(1);
  int m = dim(a, 2), n = dim(a, 3), k = dim(a, 4);
  float alpha = a.real(5), beta = a.real(8);
  Storage* A = a.storage(6);
  Storage* B = a.storage(7);
  Storage* C = a.storage(9);
  Device d = a.same_device();
  a.need_floats(6, A, a.elements({m, k}, "A"), "A (m*k)");
  a.need_floats(7, B, a.elements({k, n}, "B"), "B (k*n)");
  a.need_floats(9, C, a.elements({m, n}, "C"), "C (m*n)");
  a.distinct(C, 9, {{A, 6}, {B, 7}});
  DISPATCH(d, gemm(ta, tb, m, n, k, alpha, F(A), F(B), beta, F(C)));
  return info.Env().Undefined();
}

// p (or q) from the window formula; fails unless the given value matches it
void check_output_size(const Args& a, size_t i, const char* key, int given, int64_t in, int64_t pad, int64_t kernel,
                       int64_t stride, const char* formula) {
  int64_t span = in + 2 * pad - kernel;
  if (span < 0)
    a.fail("ERR_SHAPE", a.name(i) + ": the window (" + std::to_string(kernel) + ") is larger than the padded input (" +
                            std::to_string(in + 2 * pad) + ")");
  int64_t expected = span / stride + 1;
  if (given != expected)
    a.fail("ERR_SHAPE", a.name(i) + " field '" + key + "' is " + std::to_string(given) + ", but " + formula + " = " +
                            std::to_string(expected));
}

ConvShape conv_shape(const Args& a, size_t i) {
  a.object(i);
  ConvShape s;
  s.n = a.field(i, "n", 1);
  s.c = a.field(i, "c", 1);
  s.h = a.field(i, "h", 1);
  s.w = a.field(i, "w", 1);
  s.k = a.field(i, "k", 1);
  s.r = a.field(i, "r", 1);
  s.s = a.field(i, "s", 1);
  s.stride_h = a.field(i, "strideH", 1);
  s.stride_w = a.field(i, "strideW", 1);
  s.pad_h = a.field(i, "padH", 0);
  s.pad_w = a.field(i, "padW", 0);
  s.p = a.field(i, "p", 1);
  s.q = a.field(i, "q", 1);
  check_output_size(a, i, "p", s.p, s.h, s.pad_h, s.r, s.stride_h, "(h + 2*padH - r) / strideH + 1");
  check_output_size(a, i, "q", s.q, s.w, s.pad_w, s.s, s.stride_w, "(w + 2*padW - s) / strideW + 1");
  return s;
}

struct ConvSizes {
  int64_t x, w, y;
};
ConvSizes conv_sizes(const Args& a, const ConvShape& s) {
  return {a.elements({s.n, s.c, s.h, s.w}, "x (n*c*h*w)"), a.elements({s.k, s.c, s.r, s.s}, "w (k*c*r*s)"),
          a.elements({s.n, s.k, s.p, s.q}, "y (n*k*p*q)")};
}

Napi::Value Conv2dForward(const Napi::CallbackInfo& info) {
  Args a(info, "conv2dForward", {"s", "x", "w", "bias", "y"});
  ConvShape s = conv_shape(a, 0);
  Storage* x = a.storage(1);
  Storage* w = a.storage(2);
  Storage* bias = a.storage(3, true);
  Storage* y = a.storage(4);
  Device d = a.same_device();
  ConvSizes z = conv_sizes(a, s);
  a.need_floats(1, x, z.x, "x (n*c*h*w)");
  a.need_floats(2, w, z.w, "w (k*c*r*s)");
  a.need_floats(3, bias, s.k, "bias (k)");
  a.need_floats(4, y, z.y, "y (n*k*p*q)");
  a.distinct(y, 4, {{x, 1}, {w, 2}, {bias, 3}});
  DISPATCH(d, conv2d_forward(s, F(x), F(w), F(bias), F(y)));
  return info.Env().Undefined();
}

Napi::Value Conv2dBackwardInput(const Napi::CallbackInfo& info) {
  Args a(info, "conv2dBackwardInput", {"s", "dy", "w", "dx"});
  ConvShape s = conv_shape(a, 0);
  Storage* dy = a.storage(1);
  Storage* w = a.storage(2);
  Storage* dx = a.storage(3);
  Device d = a.same_device();
  ConvSizes z = conv_sizes(a, s);
  a.need_floats(1, dy, z.y, "dy (n*k*p*q)");
  a.need_floats(2, w, z.w, "w (k*c*r*s)");
  a.need_floats(3, dx, z.x, "dx (n*c*h*w)");
  a.distinct(dx, 3, {{dy, 1}, {w, 2}});
  DISPATCH(d, conv2d_backward_input(s, F(dy), F(w), F(dx)));
  return info.Env().Undefined();
}

Napi::Value Conv2dBackwardWeight(const Napi::CallbackInfo& info) {
  Args a(info, "conv2dBackwardWeight", {"s", "x", "dy", "dw", "db"});
  ConvShape s = conv_shape(a, 0);
  Storage* x = a.storage(1);
  Storage* dy = a.storage(2);
  Storage* dw = a.storage(3);
  Storage* db = a.storage(4, true);
  Device d = a.same_device();
  ConvSizes z = conv_sizes(a, s);
  a.need_floats(1, x, z.x, "x (n*c*h*w)");
  a.need_floats(2, dy, z.y, "dy (n*k*p*q)");
  a.need_floats(3, dw, z.w, "dw (k*c*r*s)");
  a.need_floats(4, db, s.k, "db (k)");
  a.distinct(dw, 3, {{x, 1}, {dy, 2}, {db, 4}});
  a.distinct(db, 4, {{x, 1}, {dy, 2}});
  DISPATCH(d, conv2d_backward_weight(s, F(x), F(dy), F(dw), F(db)));
  return info.Env().Undefined();
}

// ---- pooling ----

PoolShape pool_shape(const Args& a, size_t i) {
  a.object(i);
  PoolShape s;
  s.n = a.field(i, "n", 1);
  s.c = a.field(i, "c", 1);
  s.h = a.field(i, "h", 1);
  s.w = a.field(i, "w", 1);
  s.kh = a.field(i, "kh", 1);
  s.kw = a.field(i, "kw", 1);
  s.stride_h = a.field(i, "strideH", 1);
  s.stride_w = a.field(i, "strideW", 1);
  s.pad_h = a.field(i, "padH", 0);
  s.pad_w = a.field(i, "padW", 0);
  s.p = a.field(i, "p", 1);
  s.q = a.field(i, "q", 1);
  // PyTorch's rule; it also guarantees every window covers at least one real element
  if (2 * (int64_t)s.pad_h > s.kh || 2 * (int64_t)s.pad_w > s.kw)
    a.fail("ERR_SHAPE", a.name(i) + ": padding must be at most half the window (padH <= kh/2, padW <= kw/2), got padH=" +
                            std::to_string(s.pad_h) + " kh=" + std::to_string(s.kh) + " padW=" + std::to_string(s.pad_w) +
                            " kw=" + std::to_string(s.kw));
  check_output_size(a, i, "p", s.p, s.h, s.pad_h, s.kh, s.stride_h, "(h + 2*padH - kh) / strideH + 1");
  check_output_size(a, i, "q", s.q, s.w, s.pad_w, s.kw, s.stride_w, "(w + 2*padW - kw) / strideW + 1");
  return s;
}

struct PoolSizes {
  int64_t x, y;
};
PoolSizes pool_sizes(const Args& a, const PoolShape& s) {
  return {a.elements({s.n, s.c, s.h, s.w}, "x (n*c*h*w)"), a.elements({s.n, s.c, s.p, s.q}, "y (n*c*p*q)")};
}

Napi::Value Maxpool2dForward(const Napi::CallbackInfo& info) {
  Args a(info, "maxpool2dForward", {"s", "x", "y", "argmax"});
  PoolShape s = pool_shape(a, 0);
  Storage* x = a.storage(1);
  Storage* y = a.storage(2);
  Storage* am = a.storage(3);
  Device d = a.same_device();
  PoolSizes z = pool_sizes(a, s);
  a.need_floats(1, x, z.x, "x (n*c*h*w)");
  a.need_floats(2, y, z.y, "y (n*c*p*q)");
  a.need_ints(3, am, z.y, "argmax (n*c*p*q int32)");
  a.distinct(y, 2, {{x, 1}, {am, 3}});
  a.distinct(am, 3, {{x, 1}});
  DISPATCH(d, maxpool2d_forward(s, F(x), F(y), I(am)));
  return info.Env().Undefined();
}

Napi::Value Maxpool2dBackward(const Napi::CallbackInfo& info) {
  Args a(info, "maxpool2dBackward", {"s", "dy", "argmax", "dx"});
  PoolShape s = pool_shape(a, 0);
  Storage* dy = a.storage(1);
  Storage* am = a.storage(2);
  Storage* dx = a.storage(3);
  Device d = a.same_device();
  PoolSizes z = pool_sizes(a, s);
  a.need_floats(1, dy, z.y, "dy (n*c*p*q)");
  a.need_ints(2, am, z.y, "argmax (n*c*p*q int32)");
  a.need_floats(3, dx, z.x, "dx (n*c*h*w)");
  a.distinct(dx, 3, {{dy, 1}, {am, 2}});
  DISPATCH(d, maxpool2d_backward(s, F(dy), I(am), F(dx)));
  return info.Env().Undefined();
}

Napi::Value Avgpool2dForward(const Napi::CallbackInfo& info) {
  Args a(info, "avgpool2dForward", {"s", "x", "y"});
  PoolShape s = pool_shape(a, 0);
  Storage* x = a.storage(1);
  Storage* y = a.storage(2);
  Device d = a.same_device();
  PoolSizes z = pool_sizes(a, s);
  a.need_floats(1, x, z.x, "x (n*c*h*w)");
  a.need_floats(2, y, z.y, "y (n*c*p*q)");
  a.distinct(y, 2, {{x, 1}});
  DISPATCH(d, avgpool2d_forward(s, F(x), F(y)));
  return info.Env().Undefined();
}

Napi::Value Avgpool2dBackward(const Napi::CallbackInfo& info) {
  Args a(info, "avgpool2dBackward", {"s", "dy", "dx"});
  PoolShape s = pool_shape(a, 0);
  Storage* dy = a.storage(1);
  Storage* dx = a.storage(2);
  Device d = a.same_device();
  PoolSizes z = pool_sizes(a, s);
  a.need_floats(1, dy, z.y, "dy (n*c*p*q)");
  a.need_floats(2, dx, z.x, "dx (n*c*h*w)");
  a.distinct(dx, 2, {{dy, 1}});
  DISPATCH(d, avgpool2d_backward(s, F(dy), F(dx)));
  return info.Env().Undefined();
}

// ---- elementwise (out may alias an input) ----

int64_t count(const Args& a, size_t i) { return a.integer(i, 0, kMaxCount); }

Napi::Value ReluForward(const Napi::CallbackInfo& info) {
  Args a(info, "reluForward", {"n", "x", "y"});
  int64_t n = count(a, 0);
  Storage* x = a.storage(1);
  Storage* y = a.storage(2);
  Device d = a.same_device();
  a.need_floats(1, x, n, "n");
  a.need_floats(2, y, n, "n");
  if (n > 0) DISPATCH(d, relu_forward(n, F(x), F(y)));
  return info.Env().Undefined();
}

Napi::Value ReluBackward(const Napi::CallbackInfo& info) {
  Args a(info, "reluBackward", {"n", "dy", "y", "dx"});
  int64_t n = count(a, 0);
  Storage* dy = a.storage(1);
  Storage* y = a.storage(2);
  Storage* dx = a.storage(3);
  Device d = a.same_device();
  a.need_floats(1, dy, n, "n");
  a.need_floats(2, y, n, "n");
  a.need_floats(3, dx, n, "n");
  if (n > 0) DISPATCH(d, relu_backward(n, F(dy), F(y), F(dx)));
  return info.Env().Undefined();
}

// add and mul: out = a op b, elementwise
struct BinaryArgs {
  int64_t n;
  Storage *a, *b, *out;
  Device device;
};
BinaryArgs binary_args(Args& a) {
  BinaryArgs r;
  r.n = count(a, 0);
  r.a = a.storage(1);
  r.b = a.storage(2);
  r.out = a.storage(3);
  r.device = a.same_device();
  a.need_floats(1, r.a, r.n, "n");
  a.need_floats(2, r.b, r.n, "n");
  a.need_floats(3, r.out, r.n, "n");
  return r;
}

Napi::Value Add(const Napi::CallbackInfo& info) {
  Args a(info, "add", {"n", "a", "b", "out"});
  BinaryArgs b = binary_args(a);
  if (b.n > 0) DISPATCH(b.device, add(b.n, F(b.a), F(b.b), F(b.out)));
  return info.Env().Undefined();
}

Napi::Value Mul(const Napi::CallbackInfo& info) {
  Args a(info, "mul", {"n", "a", "b", "out"});
  BinaryArgs b = binary_args(a);
  if (b.n > 0) DISPATCH(b.device, mul(b.n, F(b.a), F(b.b), F(b.out)));
  return info.Env().Undefined();
}

Napi::Value Scale(const Napi::CallbackInfo& info) {
  Args a(info, "scale", {"n", "x", "alpha", "out"});
  int64_t n = count(a, 0);
  Storage* x = a.storage(1);
  float alpha = a.real(2);
  Storage* out = a.storage(3);
  Device d = a.same_device();
  a.need_floats(1, x, n, "n");
  a.need_floats(3, out, n, "n");
  if (n > 0) DISPATCH(d, scale(n, F(x), alpha, F(out)));
  return info.Env().Undefined();
}

Napi::Value Axpby(const Napi::CallbackInfo& info) {
  Args a(info, "axpby", {"n", "alpha", "a", "beta", "b", "out"});
  int64_t n = count(a, 0);
  float alpha = a.real(1);
  Storage* x = a.storage(2);
  float beta = a.real(3);
  Storage* y = a.storage(4);
  Storage* out = a.storage(5);
  Device d = a.same_device();
  a.need_floats(2, x, n, "n");
  a.need_floats(4, y, n, "n");
  a.need_floats(5, out, n, "n");
  if (n > 0) DISPATCH(d, axpby(n, alpha, F(x), beta, F(y), F(out)));
  return info.Env().Undefined();
}

Napi::Value BiasAdd(const Napi::CallbackInfo& info) {
  Args a(info, "biasAdd", {"outer", "channels", "inner", "x", "bias", "y"});
  int outer = dim(a, 0), channels = dim(a, 1), inner = dim(a, 2);
  Storage* x = a.storage(3);
  Storage* bias = a.storage(4);
  Storage* y = a.storage(5);
  Device d = a.same_device();
  int64_t total = a.elements({outer, channels, inner}, "x (outer*channels*inner)");
  a.need_floats(3, x, total, "outer*channels*inner");
  a.need_floats(4, bias, channels, "channels");
  a.need_floats(5, y, total, "outer*channels*inner");
  a.distinct(y, 5, {{bias, 4}});
  DISPATCH(d, bias_add(outer, channels, inner, F(x), F(bias), F(y)));
  return info.Env().Undefined();
}

Napi::Value SumAxis(const Napi::CallbackInfo& info) {
  Args a(info, "sumAxis", {"outer", "reduce", "inner", "x", "y"});
  int outer = dim(a, 0), reduce = dim(a, 1), inner = dim(a, 2);
  Storage* x = a.storage(3);
  Storage* y = a.storage(4);
  Device d = a.same_device();
  a.need_floats(3, x, a.elements({outer, reduce, inner}, "x (outer*reduce*inner)"), "outer*reduce*inner");
  a.need_floats(4, y, a.elements({outer, inner}, "y (outer*inner)"), "outer*inner");
  a.distinct(y, 4, {{x, 3}});
  DISPATCH(d, sum_axis(outer, reduce, inner, F(x), F(y)));
  return info.Env().Undefined();
}

// ---- loss ----

Napi::Value SoftmaxXentForward(const Napi::CallbackInfo& info) {
  Args a(info, "softmaxXentForward", {"n", "classes", "logits", "labels", "probs", "loss"});
  int n = dim(a, 0), classes = dim(a, 1);
  Storage* logits = a.storage(2);
  Storage* labels = a.storage(3);
  Storage* probs = a.storage(4);
  Storage* loss = a.storage(5);
  Device d = a.same_device();
  int64_t total = a.elements({n, classes}, "logits (n*classes)");
  a.need_floats(2, logits, total, "n*classes");
  a.need_ints(3, labels, n, "n labels (int32)");
  a.need_floats(4, probs, total, "n*classes");
  a.need_floats(5, loss, 1, "the loss");
  a.distinct(probs, 4, {{logits, 2}, {labels, 3}, {loss, 5}});
  a.distinct(loss, 5, {{logits, 2}, {labels, 3}});
  check_labels(a, 3, labels, n, classes);
  DISPATCH(d, softmax_xent_forward(n, classes, F(logits), I(labels), F(probs), F(loss)));
  return info.Env().Undefined();
}

Napi::Value SoftmaxXentBackward(const Napi::CallbackInfo& info) {
  Args a(info, "softmaxXentBackward", {"n", "classes", "probs", "labels", "dloss", "dlogits"});
  int n = dim(a, 0), classes = dim(a, 1);
  Storage* probs = a.storage(2);
  Storage* labels = a.storage(3);
  Storage* dloss = a.storage(4);
  Storage* dlogits = a.storage(5);
  Device d = a.same_device();
  int64_t total = a.elements({n, classes}, "probs (n*classes)");
  a.need_floats(2, probs, total, "n*classes");
  a.need_ints(3, labels, n, "n labels (int32)");
  a.need_floats(4, dloss, 1, "the loss gradient");
  a.need_floats(5, dlogits, total, "n*classes");
  a.distinct(dlogits, 5, {{probs, 2}, {labels, 3}, {dloss, 4}});
  check_labels(a, 3, labels, n, classes);
  DISPATCH(d, softmax_xent_backward(n, classes, F(probs), I(labels), F(dloss), F(dlogits)));
  return info.Env().Undefined();
}

Napi::Value Argmax(const Napi::CallbackInfo& info) {
  Args a(info, "argmax", {"n", "classes", "x", "out"});
  int n = dim(a, 0), classes = dim(a, 1);
  Storage* x = a.storage(2);
  Storage* out = a.storage(3);
  Device d = a.same_device();
  a.need_floats(2, x, a.elements({n, classes}, "x (n*classes)"), "n*classes");
  a.need_ints(3, out, n, "n (int32)");
  a.distinct(out, 3, {{x, 2}});
  DISPATCH(d, argmax(n, classes, F(x), I(out)));
  return info.Env().Undefined();
}

Napi::Value CorrectCount(const Napi::CallbackInfo& info) {
  Args a(info, "correctCount", {"n", "classes", "logits", "labels", "count"});
  int n = dim(a, 0), classes = dim(a, 1);
  Storage* logits = a.storage(2);
  Storage* labels = a.storage(3);
  Storage* cnt = a.storage(4);
  Device d = a.same_device();
  a.need_floats(2, logits, a.elements({n, classes}, "logits (n*classes)"), "n*classes");
  a.need_ints(3, labels, n, "n labels (int32)");
  a.need_ints(4, cnt, 1, "the count (int32)");
  a.distinct(cnt, 4, {{logits, 2}, {labels, 3}});
  DISPATCH(d, correct_count(n, classes, F(logits), I(labels), I(cnt)));
  return info.Env().Undefined();
}

// ---- optimizers (in place on param and state) ----

Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  Args a(info, "adamStep",
         {"n", "param", "grad", "m", "v", "lr", "beta1", "beta2", "eps", "weightDecay", "decoupled", "step"});
  int64_t n = count(a, 0);
  Storage* param = a.storage(1);
  Storage* grad = a.storage(2);
  Storage* m = a.storage(3);
  Storage* v = a.storage(4);
  // PyTorch's checks: lr, eps, weight_decay >= 0 and betas in [0, 1)
  float lr = a.real(5, 0);
  float beta1 = a.real(6, 0, 0.9999999403953552);  // the largest float below 1
  float beta2 = a.real(7, 0, 0.9999999403953552);
  float eps = a.real(8, 0);
  float wd = a.real(9, 0);
  bool decoupled = a.boolean(10);
  int step = (int)a.integer(11, 1, INT32_MAX);
  Device d = a.same_device();
  a.need_floats(1, param, n, "n");
  a.need_floats(2, grad, n, "n");
  a.need_floats(3, m, n, "n");
  a.need_floats(4, v, n, "n");
  a.distinct(param, 1, {{grad, 2}, {m, 3}, {v, 4}});
  a.distinct(grad, 2, {{m, 3}, {v, 4}});
  a.distinct(m, 3, {{v, 4}});
  if (n > 0) DISPATCH(d, adam_step(n, F(param), F(grad), F(m), F(v), lr, beta1, beta2, eps, wd, decoupled, step));
  return info.Env().Undefined();
}

Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  Args a(info, "sgdStep",
         {"n", "param", "grad", "momentumBuf", "lr", "momentum", "dampening", "weightDecay", "nesterov", "firstStep"});
  int64_t n = count(a, 0);
  Storage* param = a.storage(1);
  Storage* grad = a.storage(2);
  Storage* buf = a.storage(3);
  float lr = a.real(4, 0);
  float momentum = a.real(5, 0);
  float dampening = a.real(6);
  float wd = a.real(7, 0);
  bool nesterov = a.boolean(8);
  bool first = a.boolean(9);
  if (nesterov && (momentum <= 0 || dampening != 0))
    a.fail("ERR_ARG", "nesterov momentum requires momentum > 0 and dampening = 0 (as in PyTorch)");
  Device d = a.same_device();
  a.need_floats(1, param, n, "n");
  a.need_floats(2, grad, n, "n");
  a.need_floats(3, buf, n, "n");
  a.distinct(param, 1, {{grad, 2}, {buf, 3}});
  a.distinct(grad, 2, {{buf, 3}});
  if (n > 0) DISPATCH(d, sgd_step(n, F(param), F(grad), F(buf), lr, momentum, dampening, wd, nesterov, first));
  return info.Env().Undefined();
}

// ---- randomness ----

Napi::Value DropoutForward(const Napi::CallbackInfo& info) {
  Args a(info, "dropoutForward", {"n", "x", "y", "mask", "p", "seed", "offset"});
  int64_t n = count(a, 0);
  Storage* x = a.storage(1);
  Storage* y = a.storage(2);
  Storage* mask = a.storage(3);
  double p = a.number(4);
  if (!(p >= 0 && p < 1)) a.fail("ERR_ARG", a.name(4) + " must be in [0, 1), got " + num_text(p));
  uint64_t seed = a.u64(5), offset = a.u64(6);
  Device d = a.same_device();
  a.need_floats(1, x, n, "n");
  a.need_floats(2, y, n, "n");
  a.need_floats(3, mask, n, "n");
  a.distinct(mask, 3, {{x, 1}, {y, 2}});
  if (n > 0) DISPATCH(d, dropout_forward(n, F(x), F(y), F(mask), (float)p, seed, offset));
  return info.Env().Undefined();
}

Napi::Value DropoutBackward(const Napi::CallbackInfo& info) {
  Args a(info, "dropoutBackward", {"n", "dy", "mask", "dx"});
  int64_t n = count(a, 0);
  Storage* dy = a.storage(1);
  Storage* mask = a.storage(2);
  Storage* dx = a.storage(3);
  Device d = a.same_device();
  a.need_floats(1, dy, n, "n");
  a.need_floats(2, mask, n, "n");
  a.need_floats(3, dx, n, "n");
  if (n > 0) DISPATCH(d, dropout_backward(n, F(dy), F(mask), F(dx)));
  return info.Env().Undefined();
}

Napi::Value Fill(const Napi::CallbackInfo& info) {
  Args a(info, "fill", {"n", "x", "value"});
  int64_t n = count(a, 0);
  Storage* x = a.storage(1);
  // any float, NaN and infinities included (tests poison outputs with NaN)
  float value = (float)a.number(2);
  Device d = a.same_device();
  a.need_floats(1, x, n, "n");
  if (n > 0) DISPATCH(d, fill(n, F(x), value));
  return info.Env().Undefined();
}

Napi::Value Uniform(const Napi::CallbackInfo& info) {
  Args a(info, "uniform", {"n", "x", "lo", "hi", "seed", "offset"});
  int64_t n = count(a, 0);
  Storage* x = a.storage(1);
  float lo = a.real(2), hi = a.real(3);
  if (!(lo <= hi)) a.fail("ERR_ARG", "'lo' must not exceed 'hi', got lo=" + num_text(lo) + " hi=" + num_text(hi));
  uint64_t seed = a.u64(4), offset = a.u64(5);
  Device d = a.same_device();
  a.need_floats(1, x, n, "n");
  if (n > 0) DISPATCH(d, uniform(n, F(x), lo, hi, seed, offset));
  return info.Env().Undefined();
}

Napi::Value Normal(const Napi::CallbackInfo& info) {
  Args a(info, "normal", {"n", "x", "mean", "std", "seed", "offset"});
  int64_t n = count(a, 0);
  Storage* x = a.storage(1);
  float mean = a.real(2), stddev = a.real(3, 0);
  uint64_t seed = a.u64(4), offset = a.u64(5);
  Device d = a.same_device();
  a.need_floats(1, x, n, "n");
  if (n > 0) DISPATCH(d, normal(n, F(x), mean, stddev, seed, offset));
  return info.Env().Undefined();
}

// ---- data ----

// a batch from a data set in native memory: images (uint8, count*channels*plane)
// and labels (uint8, count) gathered through order[first .. first+batch) (or
// first .. first+batch itself when order is null) and mapped through table
// (channels*256 floats). on the cpu every index is checked against count here;
// on cuda the kernel turns a bad one into NaN pixels and label -1 (ops.h).
Napi::Value GatherImages(const Napi::CallbackInfo& info) {
  Args a(info, "gatherImages",
         {"batch", "count", "channels", "plane", "images", "labels", "order", "first", "table", "out", "outLabels"});
  int batch = dim(a, 0), count = dim(a, 1), channels = dim(a, 2), plane = dim(a, 3);
  Storage* images = a.storage(4);
  Storage* labels = a.storage(5);
  Storage* order = a.storage(6, true);
  int first = (int)a.integer(7, 0, INT32_MAX);
  Storage* table = a.storage(8);
  Storage* out = a.storage(9);
  Storage* out_labels = a.storage(10);
  Device d = a.same_device();
  int64_t image = a.elements({channels, plane}, "an image (channels*plane)");
  a.need(4, images, a.elements({count, image}, "images (count*channels*plane)"), 1, "count*channels*plane bytes");
  a.need(5, labels, count, 1, "count label bytes");
  int64_t end = (int64_t)first + batch;  // one past the last position read
  if (order) {
    a.need_ints(6, order, end, "first+batch indices (int32)");
  } else if (end > count) {
    a.fail("ERR_SHAPE", "without an order, images [" + std::to_string(first) + ", " + std::to_string(end) +
                            ") lie outside the " + std::to_string(count) + " of argument 'count'");
  }
  a.need_floats(8, table, a.elements({channels, 256}, "table (channels*256)"), "channels*256");
  a.need_floats(9, out, a.elements({batch, image}, "out (batch*channels*plane)"), "batch*channels*plane");
  a.need_ints(10, out_labels, batch, "batch labels (int32)");
  a.distinct(out, 9, {{images, 4}, {labels, 5}, {order, 6}, {table, 8}, {out_labels, 10}});
  a.distinct(out_labels, 10, {{images, 4}, {labels, 5}, {order, 6}, {table, 8}});
  if (order && order->device() == Device::cpu) {
    const int32_t* o = I(order);
    for (int64_t k = first; k < end; ++k) {
      if (o[k] < 0 || o[k] >= count)
        a.fail("ERR_ARG", a.name(6) + ": order[" + std::to_string(k) + "] = " + std::to_string(o[k]) +
                              " is outside [0, " + std::to_string(count) + ")");
    }
  }
  DISPATCH(d, gather_images(batch, count, channels, plane, static_cast<const uint8_t*>(images->ptr()),
                            static_cast<const uint8_t*>(labels->ptr()), I(order), first, F(table), F(out),
                            I(out_labels)));
  return info.Env().Undefined();
}

#define EXPORT(js_name, fn)                                                                          \
  exports.Set(js_name, Napi::Function::New(                                                          \
                           env, [](const Napi::CallbackInfo& info) { return guarded(info, js_name, fn); }, \
                           js_name))

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Storage", Storage::Define(env));
  EXPORT("buildInfo", BuildInfo);
  EXPORT("cudaInfo", CudaInfo);
  EXPORT("memoryStats", MemoryStats);
  EXPORT("setNumThreads", SetNumThreads);
  EXPORT("getNumThreads", GetNumThreads);
  EXPORT("synchronize", Synchronize);
  EXPORT("write", Write);
  EXPORT("read", Read);
  EXPORT("copy", Copy);
  EXPORT("view", View);
  EXPORT("gemm", Gemm);
  EXPORT("conv2dForward", Conv2dForward);
  EXPORT("conv2dBackwardInput", Conv2dBackwardInput);
  EXPORT("conv2dBackwardWeight", Conv2dBackwardWeight);
  EXPORT("maxpool2dForward", Maxpool2dForward);
  EXPORT("maxpool2dBackward", Maxpool2dBackward);
  EXPORT("avgpool2dForward", Avgpool2dForward);
  EXPORT("avgpool2dBackward", Avgpool2dBackward);
  EXPORT("reluForward", ReluForward);
  EXPORT("reluBackward", ReluBackward);
  EXPORT("add", Add);
  EXPORT("mul", Mul);
  EXPORT("scale", Scale);
  EXPORT("axpby", Axpby);
  EXPORT("biasAdd", BiasAdd);
  EXPORT("sumAxis", SumAxis);
  EXPORT("softmaxXentForward", SoftmaxXentForward);
  EXPORT("softmaxXentBackward", SoftmaxXentBackward);
  EXPORT("argmax", Argmax);
  EXPORT("correctCount", CorrectCount);
  EXPORT("adamStep", AdamStep);
  EXPORT("sgdStep", SgdStep);
  EXPORT("dropoutForward", DropoutForward);
  EXPORT("dropoutBackward", DropoutBackward);
  EXPORT("fill", Fill);
  EXPORT("uniform", Uniform);
  EXPORT("normal", Normal);
  EXPORT("gatherImages", GatherImages);
  return exports;
}

}  // namespace
}  // namespace addon
}  // namespace cudalab

// NODE_API_MODULE pastes its second argument into a name: it must be a plain identifier
static Napi::Object InitCudalab(Napi::Env env, Napi::Object exports) { return cudalab::addon::Init(env, exports); }
NODE_API_MODULE(cudalab, InitCudalab)
