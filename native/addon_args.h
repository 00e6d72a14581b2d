// argument checking for the addon's entry points. every op reads its
// arguments through an Args, which knows the op's name and its parameter
// names, so each error says which op, which argument, and what was expected.
// nothing reaches a kernel until all of this has passed.
#pragma once
#include <napi.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "addon_storage.h"
#include "error.h"

namespace cudalab {
namespace addon {

// a tensor the kernels index: at most this many elements (int-indexed kernels)
constexpr int64_t kMaxElements = INT32_MAX;
// a dimension, or a matrix extent a shape implies: the tiled cuda gemm rounds
// M, N and K up to whole tiles, and K up to whole chunks (at most 65535 of
// them), in int, so an extent keeps 2^17 of room below 2^31
constexpr int64_t kMaxExtent = INT32_MAX - ((int64_t)1 << 17);

// "2147483647 (2^31-1, ...)": a limit as the errors name it
inline std::string limit_text(int64_t limit) {
  if (limit == INT32_MAX) return std::to_string(limit) + " (2^31-1: the kernels index with int)";
  if (limit == kMaxExtent)
    return std::to_string(limit) + " (2^31-1 less 2^17: the kernels index with int and round extents up to whole tiles)";
  return std::to_string(limit);
}

inline std::string type_of(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "boolean";
    case napi_number: return "number";
    case napi_string: return "string";
    case napi_symbol: return "symbol";
    case napi_object: return "object";
    case napi_function: return "function";
    case napi_external: return "external";
    case napi_bigint: return "bigint";
  }
  return "unknown";
}

inline std::string num_text(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == std::floor(d) && std::fabs(d) < 1e15) return std::to_string((int64_t)d);
  return std::to_string(d);
}

class Args {
 public:
  // names: the parameters in order; the first `required` must be present, the
  // rest are optional (undefined allowed). more arguments than names is an error.
  Args(const Napi::CallbackInfo& info, const char* op, std::vector<const char*> names, size_t required)
      : info_(info), op_(op), names_(std::move(names)) {
    size_t given = info.Length();
    // trailing undefineds count as absent, so f(a, b, undefined) is f(a, b)
    while (given > 0 && info[given - 1].IsUndefined()) --given;
    if (given < required || given > names_.size()) {
      std::string expected = required == names_.size()
                                 ? std::to_string(required)
                                 : std::to_string(required) + " to " + std::to_string(names_.size());
      fail("ERR_ARG", "expected " + expected + " arguments (" + signature() + "), got " +
                          std::to_string(info.Length()));
    }
  }
  Args(const Napi::CallbackInfo& info, const char* op, std::vector<const char*> names)
      : Args(info, op, names, names.size()) {}

  [[noreturn]] void fail(const char* code, const std::string& msg) const {
    throw Error(code, std::string(op_) + ": " + msg);
  }
  const char* op() const { return op_; }
  std::string name(size_t i) const { return std::string("argument '") + names_[i] + "'"; }

  bool present(size_t i) const { return i < info_.Length() && !info_[i].IsUndefined(); }

  bool boolean(size_t i) const {
    Napi::Value v = info_[i];
    if (!v.IsBoolean()) fail("ERR_ARG", name(i) + " must be a boolean, got " + type_of(v));
    return v.As<Napi::Boolean>().Value();
  }

  double number(size_t i) const {
    Napi::Value v = info_[i];
    if (!v.IsNumber()) fail("ERR_ARG", name(i) + " must be a number, got " + type_of(v));
    return v.As<Napi::Number>().DoubleValue();
  }

  // a finite number, within [lo, hi] (the float range unless told)
  float real(size_t i, double lo = -3.4028234663852886e38, double hi = 3.4028234663852886e38) const {
    double d = number(i);
    if (!std::isfinite(d) || d < lo || d > hi)
      fail("ERR_ARG", name(i) + " must be a finite number in [" + num_text(lo) + ", " + num_text(hi) +
                          "], got " + num_text(d));
    return (float)d;
  }

  // an integer in [lo, hi]
  int64_t integer(size_t i, int64_t lo, int64_t hi) const {
    double d = number(i);
    return check_integer(d, name(i), lo, hi);
  }

  // an optional byte offset (0 when absent)
  int64_t offset(size_t i) const { return present(i) ? integer(i, 0, (int64_t)1 << 53) : 0; }

  uint64_t u64(size_t i) const {
    Napi::Value v = info_[i];
    if (!v.IsBigInt()) fail("ERR_ARG", name(i) + " must be a bigint (uint64), got " + type_of(v));
    bool lossless = false;
    uint64_t x = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) fail("ERR_ARG", name(i) + " must be a bigint in [0, 2^64)");
    return x;
  }

  // "cpu" | "cuda"
  Device device(size_t i) const {
    Napi::Value v = info_[i];
    if (v.IsString()) {
      std::string s = v.As<Napi::String>().Utf8Value();
      if (s == "cpu") return Device::cpu;
      if (s == "cuda") return Device::cuda;
      fail("ERR_ARG", name(i) + " must be 'cpu' or 'cuda', got '" + s + "'");
    }
    fail("ERR_ARG", name(i) + " must be 'cpu' or 'cuda', got " + type_of(v));
  }

  // a live Storage; null/undefined allowed when nullable (returns nullptr)
  Storage* storage(size_t i, bool nullable = false) {
    Napi::Value v = info_[i];
    if (nullable && (v.IsNull() || v.IsUndefined())) return nullptr;
    if (!v.IsObject() || !v.As<Napi::Object>().CheckTypeTag(&kStorageTag))
      fail("ERR_ARG", name(i) + " must be a Storage" + (nullable ? " or null" : "") + ", got " +
                          type_of(v));
    void* raw = nullptr;
    if (napi_unwrap(info_.Env(), v, &raw) != napi_ok || raw == nullptr)
      fail("ERR_ARG", name(i) + " is not a usable Storage");
    Storage* s = static_cast<Storage*>(raw);
    if (s->freed()) fail("ERR_FREED", name(i) + " is a freed Storage");
    storages_.push_back({s, i});
    return s;
  }

  // an ArrayBufferView's bytes
  std::pair<uint8_t*, size_t> host_view(size_t i) const {
    Napi::Value v = info_[i];
    if (v.IsTypedArray()) {
      Napi::TypedArray t = v.As<Napi::TypedArray>();
      uint8_t* base = static_cast<uint8_t*>(t.ArrayBuffer().Data());
      return {base ? base + t.ByteOffset() : nullptr, t.ByteLength()};
    }
    if (v.IsDataView()) {
      Napi::DataView d = v.As<Napi::DataView>();
      return {static_cast<uint8_t*>(d.Data()), d.ByteLength()};
    }
    fail("ERR_ARG", name(i) + " must be an ArrayBufferView (a typed array or DataView), got " +
                        type_of(v));
  }

  // the storages read so far all live on one device; returns it
  Device same_device() const {
    const Storage* first = storages_.at(0).first;
    for (const auto& [s, i] : storages_) {
      if (s->device() != first->device())
        fail("ERR_DEVICE", "all storages must be on one device: " + name(storages_[0].second) + " is on " +
                               device_name(first->device()) + ", " + name(i) + " is on " +
                               device_name(s->device()));
    }
    if (first->device() == Device::cuda) require_cuda(op_);
    return first->device();
  }

  // storage at argument i holds at least `elements` items of `item_bytes` each
  void need(size_t i, const Storage* s, int64_t elements, size_t item_bytes, const std::string& what) const {
    if (s == nullptr) return;
    // elements <= 2^53 here (it came from checked products), so this cannot overflow
    uint64_t need_bytes = (uint64_t)elements * item_bytes;
    if (s->bytes() < need_bytes)
      fail("ERR_SHAPE", name(i) + " holds " + std::to_string(s->bytes()) + " bytes; " + what + " needs " +
                            std::to_string(elements) + (item_bytes == 4 ? " x 4" : "") + " = " +
                            std::to_string(need_bytes) + " bytes");
  }
  void need_floats(size_t i, const Storage* s, int64_t n, const std::string& what) const {
    need(i, s, n, sizeof(float), what);
  }
  void need_ints(size_t i, const Storage* s, int64_t n, const std::string& what) const {
    need(i, s, n, sizeof(int32_t), what);
  }

  // outputs must not share memory with any other storage argument (views included)
  void distinct(const Storage* out, size_t out_index, std::initializer_list<std::pair<const Storage*, size_t>> others) const {
    for (const auto& [s, i] : others) {
      if (s != nullptr && out != nullptr && out->overlaps(s))
        fail("ERR_ARG", name(out_index) + " and " + name(i) + " must be different storages (this op does not work in place)");
    }
  }

  // product of shape factors, each already checked >= 0; fails past kMaxElements
  int64_t elements(std::initializer_list<int64_t> dims, const std::string& what) const {
    int64_t n = 1;
    for (int64_t d : dims) {
      if (__builtin_mul_overflow(n, d, &n) || n > kMaxElements)
        fail("ERR_SHAPE", what + " has more than 2^31-1 elements");
    }
    return n;
  }

  int64_t check_integer(double d, const std::string& what, int64_t lo, int64_t hi) const {
    if (!std::isfinite(d) || d != std::floor(d) || d < (double)lo || d > (double)hi)
      fail("ERR_ARG", what + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                          "], got " + num_text(d));
    return (int64_t)d;
  }

  // an integer property of an object argument (ConvShape / PoolShape)
  int field(size_t i, const char* key, int lo, int hi = INT32_MAX) const {
    Napi::Object o = info_[i].As<Napi::Object>();
    Napi::Value v = o.Get(key);
    std::string what = name(i) + " field '" + key + "'";
    if (!v.IsNumber()) fail("ERR_ARG", what + " must be a number, got " + type_of(v));
    return (int)check_integer(v.As<Napi::Number>().DoubleValue(), what, lo, hi);
  }
  void object(size_t i) const {
    Napi::Value v = info_[i];
    if (!v.IsObject() || v.IsArray()) fail("ERR_ARG", name(i) + " must be an object, got " + type_of(v));
  }

 private:
  std::string signature() const {
    std::string s;
    for (size_t i = 0; i < names_.size(); ++i) s += (i ? ", " : "") + std::string(names_[i]);
    return s;
  }

  const Napi::CallbackInfo& info_;
  const char* op_;
  std::vector<const char*> names_;
  std::vector<std::pair<Storage*, size_t>> storages_;
};

}  // namespace addon
}  // namespace cudalab
