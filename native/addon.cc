// the Node-API surface of cudalab (typed in src/native.ts). every entry point
// checks its arguments completely (types, ranges, shapes against storage
// sizes, devices, aliasing) and only then calls the op table (ops.h) of the
// storages' device. the kernel ops are rows of one binding table (kOps below,
// vocabulary in addon_table.h) run by one generic entry point; the rest
// (storages, transfers, device information) are written out. errors reach
// JavaScript as Error objects with a stable `code`; no input, however wrong,
// takes the process down.
#include <napi.h>

#include <cstring>
#include <new>
#include <string>

#include "addon_args.h"
#include "addon_storage.h"
#include "addon_table.h"
#include "cpu/dispatch.h"
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

// the instruction set the cpu kernels run with (cpu/dispatch.h): avx512, avx2
// or generic
Napi::Value CpuPath(const Napi::CallbackInfo& info) {
  Args a(info, "cpuPath", {});
  return Napi::String::New(info.Env(), cpu::isa_name(cpu::selected_isa()));
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

// ---- shape rules (also exported, so TypeScript asks instead of recomputing) ----

// the output size of a sliding window (PyTorch's floor rule), or -1 when the
// window is larger than the padded input
int64_t window_output_size(int64_t in, int64_t pad, int64_t kernel, int64_t stride) {
  int64_t span = in + 2 * pad - kernel;
  return span < 0 ? -1 : span / stride + 1;
}

// PyTorch's pooling rule; it also guarantees every window covers at least one real element
bool pool_padding_fits(int64_t pad, int64_t kernel) { return 2 * pad <= kernel; }

// p (or q) from the window formula; fails unless the given value matches it
void check_output_size(const Args& a, size_t i, const char* key, int given, int64_t in, int64_t pad, int64_t kernel,
                       int64_t stride, const char* formula) {
  int64_t expected = window_output_size(in, pad, kernel, stride);
  if (expected < 0)
    a.fail("ERR_SHAPE", a.name(i) + ": the window (" + std::to_string(kernel) + ") is larger than the padded input (" +
                            std::to_string(in + 2 * pad) + ")");
  if (given != expected)
    a.fail("ERR_SHAPE", a.name(i) + " field '" + key + "' is " + std::to_string(given) + ", but " + formula + " = " +
                            std::to_string(expected));
}

// a quantity a shape implies, which the kernels compute in int: past `limit`
// the arithmetic would wrap (garbage outputs, or reads and writes outside the
// tensors), so the shape is refused before any kernel sees it
void check_derived(const Args& a, size_t i, const std::string& what, int64_t value, int64_t limit) {
  if (value > limit)
    a.fail("ERR_SHAPE", a.name(i) + ": " + what + " = " + std::to_string(value) + " exceeds the limit " +
                            limit_text(limit));
}

// the fields convolution and pooling shapes share
template <typename Shape>
void window_fields(const Args& a, size_t i, Shape& s) {
  a.object(i);
  s.n = a.field(i, "n", 1, kMaxExtent);
  s.c = a.field(i, "c", 1, kMaxExtent);
  s.h = a.field(i, "h", 1, kMaxExtent);
  s.w = a.field(i, "w", 1, kMaxExtent);
  s.stride_h = a.field(i, "strideH", 1);
  s.stride_w = a.field(i, "strideW", 1);
  s.pad_h = a.field(i, "padH", 0);
  s.pad_w = a.field(i, "padW", 0);
  s.p = a.field(i, "p", 1, kMaxExtent);
  s.q = a.field(i, "q", 1, kMaxExtent);
}

// along each axis the kernels compute window positions o*stride - pad + tap
// (< h + pad), a pooling window's end h0 + kh (<= h + pad), the padded size
// h + 2*pad, and first-output bounds (pad - tap + stride - 1) / stride: all
// stay at most h + 2*pad + stride - 1
template <typename Shape>
void check_window_range(const Args& a, size_t i, const Shape& s) {
  check_derived(a, i, "h + 2*padH + strideH - 1", (int64_t)s.h + 2 * (int64_t)s.pad_h + s.stride_h - 1, INT32_MAX);
  check_derived(a, i, "w + 2*padW + strideW - 1", (int64_t)s.w + 2 * (int64_t)s.pad_w + s.stride_w - 1, INT32_MAX);
}

ConvShape conv_shape(const Args& a, size_t i) {
  ConvShape s;
  window_fields(a, i, s);
  s.k = a.field(i, "k", 1, kMaxExtent);
  s.r = a.field(i, "r", 1, kMaxExtent);
  s.s = a.field(i, "s", 1, kMaxExtent);
  check_output_size(a, i, "p", s.p, s.h, s.pad_h, s.r, s.stride_h, "(h + 2*padH - r) / strideH + 1");
  check_output_size(a, i, "q", s.q, s.w, s.pad_w, s.s, s.stride_w, "(w + 2*padW - s) / strideW + 1");
  check_window_range(a, i, s);
  // the extents of the three products a convolution is computed as (forward,
  // input and weight gradients); the weight gradient's has one more column
  // than c*r*s on cuda, against a column of ones, for the bias gradient
  check_derived(a, i, "n*p*q", (int64_t)s.n * s.p * s.q, kMaxExtent);
  check_derived(a, i, "n*h*w", (int64_t)s.n * s.h * s.w, kMaxExtent);
  check_derived(a, i, "k*r*s", (int64_t)s.k * s.r * s.s, kMaxExtent);
  check_derived(a, i, "c*r*s + 1", (int64_t)s.c * s.r * s.s + 1, kMaxExtent);
  return s;
}

PoolShape pool_shape(const Args& a, size_t i) {
  PoolShape s;
  window_fields(a, i, s);
  s.kh = a.field(i, "kh", 1);
  s.kw = a.field(i, "kw", 1);
  if (!pool_padding_fits(s.pad_h, s.kh) || !pool_padding_fits(s.pad_w, s.kw))
    a.fail("ERR_SHAPE", a.name(i) + ": padding must be at most half the window (padH <= kh/2, padW <= kw/2), got padH=" +
                            std::to_string(s.pad_h) + " kh=" + std::to_string(s.kh) + " padW=" + std::to_string(s.pad_w) +
                            " kw=" + std::to_string(s.kw));
  check_output_size(a, i, "p", s.p, s.h, s.pad_h, s.kh, s.stride_h, "(h + 2*padH - kh) / strideH + 1");
  check_output_size(a, i, "q", s.q, s.w, s.pad_w, s.kw, s.stride_w, "(w + 2*padW - kw) / strideW + 1");
  check_window_range(a, i, s);
  // average pooling divides by the window's size, computed in int
  check_derived(a, i, "kh*kw", (int64_t)s.kh * s.kw, INT32_MAX);
  return s;
}

// convOutputSize / poolOutputSize(input, kernel, stride, padding): one side
// of the output, ERR_SHAPE when the window does not fit the padded input; a
// pool's padding must also be at most half the window (ERR_ARG otherwise)
Napi::Value window_output(const Napi::CallbackInfo& info, const char* name, bool pooling) {
  Args a(info, name, {"input", "kernel", "stride", "padding"});
  int64_t in = a.integer(0, 1, INT32_MAX), kernel = a.integer(1, 1, INT32_MAX);
  int64_t stride = a.integer(2, 1, INT32_MAX), pad = a.integer(3, 0, INT32_MAX);
  if (pooling && !pool_padding_fits(pad, kernel))
    a.fail("ERR_ARG", "padding must be at most half the window, got padding " + std::to_string(pad) + " for a window of " +
                          std::to_string(kernel));
  int64_t out = window_output_size(in, pad, kernel, stride);
  if (out < 0)
    a.fail("ERR_SHAPE", "the window (" + std::to_string(kernel) + ") is larger than the padded input (" +
                            std::to_string(in + 2 * pad) + ")");
  return Napi::Number::New(info.Env(), (double)out);
}
Napi::Value ConvOutputSize(const Napi::CallbackInfo& info) { return window_output(info, "convOutputSize", false); }
Napi::Value PoolOutputSize(const Napi::CallbackInfo& info) { return window_output(info, "poolOutputSize", true); }

// ---- the ops: one generic entry point over the binding table ----

// the integer arguments and shape fields a size expression may name
class Sizes {
 public:
  void add(const char* name, int64_t value) { vars_[n_++] = {name, value}; }
  void add_conv(const ConvShape& s) {
    add("n", s.n), add("c", s.c), add("h", s.h), add("w", s.w), add("k", s.k), add("r", s.r), add("s", s.s);
    add("p", s.p), add("q", s.q);
  }
  void add_pool(const PoolShape& s) { add("n", s.n), add("c", s.c), add("h", s.h), add("w", s.w), add("p", s.p), add("q", s.q); }

  // "m*k", "first+batch", "1": a sum of products of names and numbers. a
  // product (a tensor a kernel indexes with int) is at most 2^31-1 elements;
  // a lone name is whatever its argument's range allows
  int64_t eval(const Args& a, size_t i, const char* expr) const {
    int64_t total = 0;
    const char* p = expr;
    while (*p) {
      int64_t product = 1;
      int factors = 0;
      while (*p && *p != '+') {
        const char* start = p;
        while (*p && *p != '*' && *p != '+') ++p;
        std::string token(start, p);
        int64_t f = value(token);
        if (__builtin_mul_overflow(product, f, &product)) product = INT64_MAX;
        ++factors;
        if (*p == '*') ++p;
      }
      if (factors > 1 && product > kMaxElements)
        a.fail("ERR_SHAPE", a.name(i) + " (" + expr + ") has more than 2^31-1 elements");
      total += product;
      if (*p == '+') ++p;
    }
    return total;
  }

 private:
  int64_t value(const std::string& token) const {
    if (!token.empty() && token[0] >= '0' && token[0] <= '9') return std::stoll(token);
    for (size_t j = 0; j < n_; ++j)
      if (token == vars_[j].first) return vars_[j].second;
    throw std::logic_error("the size expression names '" + token + "', which is no argument");
  }
  std::pair<const char*, int64_t> vars_[kMaxArgs + 16];
  size_t n_ = 0;
};

bool listed(const char* list, const char* name) {
  std::string padded = std::string(" ") + list + " ";
  return padded.find(std::string(" ") + name + " ") != std::string::npos;
}

size_t item_bytes(Kind k) { return k == Kind::u8 ? 1 : 4; }

// checks every argument of `op` (types, ranges, shapes, sizes, devices,
// aliasing, then the row's own check) and only then runs it
Napi::Value run_op(const Napi::CallbackInfo& info, const OpSpec& op) {
  std::vector<const char*> names;
  for (size_t i = 0; i < op.count; ++i) names.push_back(op.args[i].name);
  Args a(info, op.name, names);
  Call call{a, op, {}};
  Value* v = call.v;
  Sizes sizes;
  bool empty = false;
  for (size_t i = 0; i < op.count; ++i) {
    const ArgSpec& s = op.args[i];
    switch (s.kind) {
      case Kind::boolean: v[i].b = a.boolean(i); break;
      case Kind::integer:
        v[i].i = a.integer(i, (int64_t)s.lo, (int64_t)s.hi);
        sizes.add(s.name, v[i].i);
        if (s.counts && v[i].i == 0) empty = true;
        break;
      case Kind::real: v[i].d = a.real(i, s.lo, s.hi); break;
      case Kind::number: v[i].d = a.number(i); break;
      case Kind::u64: v[i].u = a.u64(i); break;
      case Kind::conv: v[i].conv = conv_shape(a, i), sizes.add_conv(v[i].conv); break;
      case Kind::pool: v[i].pool = pool_shape(a, i), sizes.add_pool(v[i].pool); break;
      case Kind::f32:
      case Kind::i32:
      case Kind::u8: v[i].s = a.storage(i, s.nullable); break;
    }
  }
  Device device = a.same_device();
  for (size_t i = 0; i < op.count; ++i) {
    const ArgSpec& s = op.args[i];
    if (!s.is_storage() || v[i].s == nullptr) continue;
    a.need(i, v[i].s, sizes.eval(a, i, s.size), item_bytes(s.kind), s.size);
  }
  // an output shares its storage only with the inputs its row allows
  for (size_t o = 0; o < op.count; ++o) {
    const ArgSpec& out = op.args[o];
    if (!out.is_storage() || out.role == Role::in || v[o].s == nullptr) continue;
    for (size_t j = 0; j < op.count; ++j) {
      const ArgSpec& other = op.args[j];
      // compared as memory, so a view and its parent count as one storage
      if (j == o || !other.is_storage() || !v[o].s->overlaps(v[j].s)) continue;
      if (other.role != Role::in && j < o) continue;  // that pair was judged from the other side
      if (listed(out.alias, other.name)) continue;
      a.fail("ERR_ARG", a.name(o) + " and " + a.name(j) + " must be different storages (this op does not work in place)");
    }
  }
  if (op.check) op.check(call);
  if (!empty) op.run(device, v);
  return info.Env().Undefined();
}

// labels live in native memory; on the CPU we can afford to check them, so a bad
// label is an error here rather than a NaN loss (the CUDA kernels cannot stop to ask)
void check_labels(const Call& c) {
  const Storage* labels = c.v[3].s;
  int n = (int)c.v[0].i, classes = (int)c.v[1].i;
  if (labels->device() != Device::cpu) return;
  const int32_t* l = static_cast<const int32_t*>(labels->ptr());
  for (int j = 0; j < n; ++j) {
    if (l[j] < 0 || l[j] >= classes)
      c.a.fail("ERR_ARG", c.a.name(3) + ": labels[" + std::to_string(j) + "] = " + std::to_string(l[j]) +
                              " is outside [0, " + std::to_string(classes) + ")");
  }
}

void check_nesterov(const Call& c) {
  bool nesterov = c.v[8].b;
  double momentum = c.v[5].d, dampening = c.v[6].d;
  if (nesterov && (momentum <= 0 || dampening != 0))
    c.a.fail("ERR_ARG", "nesterov momentum requires momentum > 0 and dampening = 0 (as in PyTorch)");
}

void check_dropout_p(const Call& c) {
  double p = c.v[4].d;
  // p = 1 - 2^-25 and above round to 1.0f, which would scale by 1/0
  if (!(p >= 0 && p < 1 && (float)p < 1.0f)) c.a.fail("ERR_ARG", c.a.name(4) + " must be in [0, 1), got " + num_text(p));
}

void check_lo_hi(const Call& c) {
  double lo = c.v[2].d, hi = c.v[3].d;
  if (!(lo <= hi)) c.a.fail("ERR_ARG", "'lo' must not exceed 'hi', got lo=" + num_text(lo) + " hi=" + num_text(hi));
}

// without an order the batch reads images [first, first+batch) directly; with
// one on the cpu, every index is checked (on cuda the kernel turns a bad one
// into NaN pixels and label -1, ops.h)
void check_gather(const Call& c) {
  int64_t batch = c.v[0].i, count = c.v[1].i, first = c.v[7].i;
  const Storage* order = c.v[6].s;
  int64_t end = first + batch;  // one past the last position read
  if (!order) {
    if (end > count)
      c.a.fail("ERR_SHAPE", "without an order, images [" + std::to_string(first) + ", " + std::to_string(end) +
                                ") lie outside the " + std::to_string(count) + " of argument 'count'");
    return;
  }
  if (order->device() != Device::cpu) return;
  const int32_t* o = static_cast<const int32_t*>(order->ptr());
  for (int64_t k = first; k < end; ++k) {
    if (o[k] < 0 || o[k] >= count)
      c.a.fail("ERR_ARG", c.a.name(6) + ": order[" + std::to_string(k) + "] = " + std::to_string(o[k]) +
                              " is outside [0, " + std::to_string(count) + ")");
  }
}

// reflect padding needs a translation smaller than the image (as PyTorch's)
void check_translate(const Call& c, int64_t dy, int64_t dx, const std::string& what) {
  int64_t height = c.v[2].i, width = c.v[3].i;
  // a translated row or column (y + dy with |dy| < height) and its reflection
  // 2*(height - 1) - j are computed in int (common/augment.h)
  if (2 * height > INT32_MAX || 2 * width > INT32_MAX)
    c.a.fail("ERR_SHAPE", "2*height and 2*width must not exceed the limit " + limit_text(INT32_MAX) + ", got " +
                              c.a.name(2) + " = " + std::to_string(height) + ", " + c.a.name(3) + " = " +
                              std::to_string(width));
  if (dy >= height || -dy >= height || dx >= width || -dx >= width)
    c.a.fail("ERR_ARG", what + " must be smaller than the image (" + std::to_string(height) + "x" + std::to_string(width) +
                            ": reflect padding repeats no edge), got " + std::to_string(dy) + ", " + std::to_string(dx));
}

void check_augment(const Call& c) {
  int64_t translate = c.v[8].i, cutout = c.v[10].i;
  check_translate(c, translate, translate, c.a.name(8));
  if (cutout > c.v[2].i || cutout > c.v[3].i)
    c.a.fail("ERR_ARG", c.a.name(10) + " must not exceed the image's side, got " + std::to_string(cutout));
}

void check_shift(const Call& c) { check_translate(c, c.v[5].i, c.v[6].i, "the shift (dy, dx)"); }

// batch statistics need two values per channel (PyTorch's rule: one value has
// no variance), and the running statistics come as a pair
void check_batch_norm_stats(const Call& c) {
  int64_t n = c.v[0].i, hw = c.v[2].i;
  if (n * hw < 2)
    c.a.fail("ERR_SHAPE", "batch statistics need more than one value per channel, got n*hw = " + std::to_string(n * hw));
  if ((c.v[6].s == nullptr) != (c.v[7].s == nullptr))
    c.a.fail("ERR_ARG", c.a.name(6) + " and " + c.a.name(7) + " must both be given or both be null");
}

// a row's backend functions: cpu:: and, where built, cuda::
#ifdef CUDALAB_WITH_CUDA
#define BACKENDS(fn) &cpu::fn, &cuda::fn
#else
#define BACKENDS(fn) &cpu::fn, nullptr
#endif

constexpr double kBelowOne = 0.9999999403953552;  // the largest float below 1

// the binding table. sizes count elements; "out" storages are written, and
// name the inputs they may share a storage with (elementwise ops work in place)
constexpr OpSpec kOps[] = {
    op<BACKENDS(gemm)>("gemm", nullptr, boolean("transA"), boolean("transB"), dim("m"), dim("n"), dim("k"), real("alpha"),
                       f32("a", "m*k"), f32("b", "k*n"), real("beta"), f32("c", "m*n").out()),

    op<BACKENDS(conv2d_forward)>("conv2dForward", nullptr, conv("s"), f32("x", "n*c*h*w"), f32("w", "k*c*r*s"),
                                 f32("bias", "k").or_null(), f32("y", "n*k*p*q").out()),
    op<BACKENDS(conv2d_backward_input)>("conv2dBackwardInput", nullptr, conv("s"), f32("dy", "n*k*p*q"),
                                        f32("w", "k*c*r*s"), f32("dx", "n*c*h*w").out()),
    op<BACKENDS(conv2d_backward_weight)>("conv2dBackwardWeight", nullptr, conv("s"), f32("x", "n*c*h*w"),
                                         f32("dy", "n*k*p*q"), f32("dw", "k*c*r*s").out(), f32("db", "k").out().or_null()),

    op<BACKENDS(maxpool2d_forward)>("maxpool2dForward", nullptr, pool("s"), f32("x", "n*c*h*w"), f32("y", "n*c*p*q").out(),
                                    i32("argmax", "n*c*p*q").out()),
    op<BACKENDS(maxpool2d_backward)>("maxpool2dBackward", nullptr, pool("s"), f32("dy", "n*c*p*q"),
                                     i32("argmax", "n*c*p*q"), f32("dx", "n*c*h*w").out()),
    op<BACKENDS(avgpool2d_forward)>("avgpool2dForward", nullptr, pool("s"), f32("x", "n*c*h*w"), f32("y", "n*c*p*q").out()),
    op<BACKENDS(avgpool2d_backward)>("avgpool2dBackward", nullptr, pool("s"), f32("dy", "n*c*p*q"),
                                     f32("dx", "n*c*h*w").out()),

    op<BACKENDS(relu_forward)>("reluForward", nullptr, count("n"), f32("x", "n"), f32("y", "n").out("x")),
    op<BACKENDS(relu_backward)>("reluBackward", nullptr, count("n"), f32("dy", "n"), f32("y", "n"),
                                f32("dx", "n").out("dy y")),
    op<BACKENDS(add)>("add", nullptr, count("n"), f32("a", "n"), f32("b", "n"), f32("out", "n").out("a b")),
    op<BACKENDS(mul)>("mul", nullptr, count("n"), f32("a", "n"), f32("b", "n"), f32("out", "n").out("a b")),
    op<BACKENDS(scale)>("scale", nullptr, count("n"), f32("x", "n"), real("alpha"), f32("out", "n").out("x")),
    op<BACKENDS(axpby)>("axpby", nullptr, count("n"), real("alpha"), f32("a", "n"), real("beta"), f32("b", "n"),
                        f32("out", "n").out("a b")),
    op<BACKENDS(bias_add)>("biasAdd", nullptr, dim("outer"), dim("channels"), dim("inner"),
                           f32("x", "outer*channels*inner"), f32("bias", "channels"),
                           f32("y", "outer*channels*inner").out("x")),
    op<BACKENDS(sum_axis)>("sumAxis", nullptr, dim("outer"), dim("reduce"), dim("inner"), f32("x", "outer*reduce*inner"),
                           f32("y", "outer*inner").out()),

    op<BACKENDS(softmax_xent_forward)>("softmaxXentForward", check_labels, dim("n"), dim("classes"),
                                       f32("logits", "n*classes"), i32("labels", "n"), f32("probs", "n*classes").out(),
                                       f32("loss", "1").out()),
    op<BACKENDS(softmax_xent_backward)>("softmaxXentBackward", check_labels, dim("n"), dim("classes"),
                                        f32("probs", "n*classes"), i32("labels", "n"), f32("dloss", "1"),
                                        f32("dlogits", "n*classes").out()),
    op<BACKENDS(argmax)>("argmax", nullptr, dim("n"), dim("classes"), f32("x", "n*classes"), i32("out", "n").out()),
    op<BACKENDS(correct_count)>("correctCount", nullptr, dim("n"), dim("classes"), f32("logits", "n*classes"),
                                i32("labels", "n"), i32("count", "1").out()),

    // PyTorch's checks: lr, eps, weight_decay >= 0 and betas in [0, 1)
    op<BACKENDS(adam_step)>("adamStep", nullptr, count("n"), f32("param", "n").inout(), f32("grad", "n"),
                            f32("m", "n").inout(), f32("v", "n").inout(), real("lr", 0), real("beta1", 0, kBelowOne),
                            real("beta2", 0, kBelowOne), real("eps", 0), real("weightDecay", 0), boolean("decoupled"),
                            integer("step", 1, INT32_MAX)),
    op<BACKENDS(sgd_step)>("sgdStep", check_nesterov, count("n"), f32("param", "n").inout(), f32("grad", "n"),
                           f32("momentumBuf", "n").inout(), real("lr", 0), real("momentum", 0), real("dampening"),
                           real("weightDecay", 0), boolean("nesterov"), boolean("firstStep")),

    op<BACKENDS(dropout_forward)>("dropoutForward", check_dropout_p, count("n"), f32("x", "n"), f32("y", "n").out("x"),
                                  f32("mask", "n").out(), number("p"), u64("seed"), u64("offset")),
    op<BACKENDS(dropout_backward)>("dropoutBackward", nullptr, count("n"), f32("dy", "n"), f32("mask", "n"),
                                   f32("dx", "n").out("dy mask")),
    // any float, NaN and infinities included (tests poison outputs with NaN)
    op<BACKENDS(fill)>("fill", nullptr, count("n"), f32("x", "n").out(), number("value")),
    op<BACKENDS(uniform)>("uniform", check_lo_hi, count("n"), f32("x", "n").out(), real("lo"), real("hi"), u64("seed"),
                          u64("offset")),
    op<BACKENDS(normal)>("normal", nullptr, count("n"), f32("x", "n").out(), real("mean"), real("std", 0), u64("seed"),
                         u64("offset")),

    // a batch from a data set in native memory (gather_images in ops.h)
    op<BACKENDS(gather_images)>("gatherImages", check_gather, dim("batch"), dim("count"), dim("channels"), dim("plane"),
                                u8("images", "count*channels*plane"), u8("labels", "count"),
                                i32("order", "first+batch").or_null(), integer("first", 0, INT32_MAX),
                                f32("table", "channels*256"), f32("out", "batch*channels*plane").out(),
                                i32("outLabels", "batch").out()),

    // augmentation and test-time views (augment_images, shift_flip_images in ops.h)
    op<BACKENDS(augment_images)>("augmentImages", check_augment, dim("batch"), dim("channels"), dim("height"), dim("width"),
                                 f32("x", "batch*channels*height*width"), i32("ids", "batch"), u64("seed"),
                                 integer("epoch", 0, INT32_MAX - 1), integer("translate", 0, INT32_MAX),
                                 integer("flip", 0, 2), integer("cutout", 0, INT32_MAX),
                                 f32("out", "batch*channels*height*width").out()),
    op<BACKENDS(shift_flip_images)>("shiftFlipImages", check_shift, dim("batch"), dim("channels"), dim("height"),
                                    dim("width"), f32("x", "batch*channels*height*width"), integer("dy", -INT32_MAX, INT32_MAX),
                                    integer("dx", -INT32_MAX, INT32_MAX), boolean("flip"),
                                    f32("out", "batch*channels*height*width").out()),
    // batch norm (ops.h): statistics, the eval-mode invstd, normalisation and its backward
    op<BACKENDS(batch_norm2d_stats)>("batchNorm2dStats", check_batch_norm_stats, dim("n"), dim("c"), dim("hw"),
                                     f32("x", "n*c*hw"), real("eps", 0), real("momentum", 0, 1),
                                     f32("runningMean", "c").inout().or_null(), f32("runningVar", "c").inout().or_null(),
                                     f32("mean", "c").out(), f32("invstd", "c").out()),
    op<BACKENDS(batch_norm2d_invstd)>("batchNorm2dInvstd", nullptr, dim("c"), f32("variance", "c"), real("eps", 0),
                                      f32("invstd", "c").out("variance")),
    op<BACKENDS(batch_norm2d_forward)>("batchNorm2dForward", nullptr, dim("n"), dim("c"), dim("hw"), f32("x", "n*c*hw"),
                                       f32("mean", "c"), f32("invstd", "c"), f32("weight", "c").or_null(),
                                       f32("bias", "c").or_null(), f32("y", "n*c*hw").out("x")),
    op<BACKENDS(batch_norm2d_backward)>("batchNorm2dBackward", nullptr, dim("n"), dim("c"), dim("hw"),
                                        f32("x", "n*c*hw"), f32("dy", "n*c*hw"), f32("mean", "c"), f32("invstd", "c"),
                                        f32("weight", "c").or_null(), boolean("batchStats"), f32("dx", "n*c*hw").out(),
                                        f32("dweight", "c").out().or_null(), f32("dbias", "c").out().or_null()),
    op<BACKENDS(gelu_forward)>("geluForward", nullptr, count("n"), f32("x", "n"), f32("y", "n").out("x")),
    op<BACKENDS(gelu_backward)>("geluBackward", nullptr, count("n"), f32("dy", "n"), f32("x", "n"),
                                f32("dx", "n").out("dy x")),

    // label smoothing in [0, 1], as PyTorch accepts it; sum: the sum over rows, else their mean
    op<BACKENDS(softmax_xent_smooth_forward)>("softmaxXentSmoothForward", check_labels, dim("n"), dim("classes"),
                                              f32("logits", "n*classes"), i32("labels", "n"), real("smoothing", 0, 1),
                                              boolean("sum"), f32("probs", "n*classes").out(), f32("loss", "1").out()),
    op<BACKENDS(softmax_xent_smooth_backward)>("softmaxXentSmoothBackward", check_labels, dim("n"), dim("classes"),
                                               f32("probs", "n*classes"), i32("labels", "n"), real("smoothing", 0, 1),
                                               boolean("sum"), f32("dloss", "1"), f32("dlogits", "n*classes").out()),
};

#undef BACKENDS

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::boolean: return "boolean";
    case Kind::integer: return "integer";
    case Kind::real: return "float";
    case Kind::number: return "number";
    case Kind::u64: return "bigint";
    case Kind::conv: return "ConvShape";
    case Kind::pool: return "PoolShape";
    case Kind::f32: return "f32";
    case Kind::i32: return "i32";
    case Kind::u8: return "u8";
  }
  return "unknown";
}

// opTable(): the binding table as data, for tests and tools
Napi::Value OpTable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "opTable", {});
  Napi::Array ops = Napi::Array::New(env);
  uint32_t k = 0;
  for (const OpSpec& op : kOps) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", op.name);
    Napi::Array args = Napi::Array::New(env);
    for (size_t i = 0; i < op.count; ++i) {
      const ArgSpec& s = op.args[i];
      Napi::Object d = Napi::Object::New(env);
      d.Set("name", s.name);
      d.Set("kind", kind_name(s.kind));
      if (s.kind == Kind::integer || s.kind == Kind::real) {
        d.Set("min", s.lo);
        d.Set("max", s.hi);
      }
      if (s.is_storage()) {
        d.Set("size", s.size);
        d.Set("role", s.role == Role::in ? "in" : s.role == Role::out ? "out" : "inout");
        d.Set("nullable", s.nullable);
        d.Set("mayAlias", s.alias);
      }
      args.Set((uint32_t)i, d);
    }
    o.Set("args", args);
    ops.Set(k++, o);
  }
  return ops;
}

#define EXPORT(js_name, fn)                                                                          \
  exports.Set(js_name, Napi::Function::New(                                                          \
                           env, [](const Napi::CallbackInfo& info) { return guarded(info, js_name, fn); }, \
                           js_name))

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // the cpu kernels' instruction set, once, before anything can run: a bad
  // CUDALAB_CPU makes loading the addon fail with ERR_CPU
  try {
    cpu::select_isa();
  } catch (const Error& e) {
    throw js_error(env, e.code, e.what());
  }
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
  EXPORT("convOutputSize", ConvOutputSize);
  EXPORT("poolOutputSize", PoolOutputSize);
  EXPORT("opTable", OpTable);
  EXPORT("cpuPath", CpuPath);
  for (const OpSpec& op : kOps) {
    const OpSpec* row = &op;
    exports.Set(op.name, Napi::Function::New(
                             env, [](const Napi::CallbackInfo& info) {
                               const OpSpec& row = *static_cast<const OpSpec*>(info.Data());
                               return guarded(info, row.name, [&](const Napi::CallbackInfo& i) { return run_op(i, row); });
                             },
                             op.name, const_cast<OpSpec*>(row)));
  }
  return exports;
}

}  // namespace
}  // namespace addon
}  // namespace cudalab

// NODE_API_MODULE pastes its second argument into a name: it must be a plain identifier
static Napi::Object InitCudalab(Napi::Env env, Napi::Object exports) { return cudalab::addon::Init(env, exports); }
NODE_API_MODULE(cudalab, InitCudalab)
