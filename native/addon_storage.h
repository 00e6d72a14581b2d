// the Storage handle: one block of native memory on one device, owned by the
// addon and held by JavaScript. free() returns it at once; the finalizer is the
// safety net when JavaScript forgets. every block, host or device, is reported
// to V8 as external memory while it lives (napi_adjust_external_memory), so a
// program that drops storages without freeing them makes the GC run (and the
// finalizers with it) as its native memory grows, not only its JavaScript
// heap. included by addon.cc only.
#pragma once
#include <napi.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "error.h"
#include "cpu/dispatch.h"
#include "ops.h"
#ifdef CUDALAB_WITH_CUDA
#include "cuda/device.h"
#endif

namespace cudalab {
namespace addon {

enum class Device { cpu, cuda };

inline const char* device_name(Device d) { return d == Device::cpu ? "cpu" : "cuda"; }

// live storages and their bytes, per device, across the whole process
struct DeviceCounters {
  std::atomic<int64_t> bytes{0};
  std::atomic<int64_t> storages{0};
  std::atomic<bool> used{false};  // a storage was ever made here
};
inline DeviceCounters& counters(Device d) {
  static DeviceCounters cpu_counters, cuda_counters;
  return d == Device::cpu ? cpu_counters : cuda_counters;
}

// the reason 'cuda' cannot be used in a build without the backend
inline const char* kNoCudaBackend = "this build has no CUDA backend (built without nvcc 12.8+)";

// throws ERR_NO_CUDA with the reason unless a CUDA device can be used
inline void require_cuda(const std::string& what) {
#ifdef CUDALAB_WITH_CUDA
  try {
    cuda::ensure_available();
  } catch (const Error& e) {
    throw Error(e.code, what + ": " + e.what());
  }
#else
  throw Error("ERR_NO_CUDA", what + ": " + kNoCudaBackend);
#endif
}

// a tag that marks objects made by our Storage constructor, so a look-alike
// object (or one from another addon) is never unwrapped as one
inline const napi_type_tag kStorageTag = {0x6375646c61627374ULL, 0x6f72616765763031ULL};

// a cudalab::Error (or bad_alloc) as the JavaScript error the surface promises
inline Napi::Error js_error(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

class Storage : public Napi::ObjectWrap<Storage> {
 public:
  // defines the class and keeps its constructor, so views can be made from C++
  static Napi::Function Define(Napi::Env env) {
    Napi::Function ctor = DefineClass(env, "Storage",
                                      {InstanceAccessor<&Storage::GetDevice>("device"),
                                       InstanceAccessor<&Storage::GetBytes>("bytes"),
                                       InstanceAccessor<&Storage::GetFreed>("freed"),
                                       InstanceMethod<&Storage::Free>("free")});
    env.SetInstanceData(new Napi::FunctionReference(Napi::Persistent(ctor)));
    return ctor;
  }

  // what view() hands the constructor (as an External, which JavaScript cannot make)
  struct ViewOf {
    Storage* parent;
    Napi::Object parent_object;
    size_t offset;
    size_t bytes;
  };

  // a Storage aliasing [offset, offset + bytes) of parent: it owns no memory
  // and holds a reference to the parent, so the parent outlives it; freeing the
  // parent makes it freed too. the range is checked by the caller.
  static Napi::Object NewView(Napi::Env env, ViewOf v) {
    Napi::FunctionReference* ctor = env.GetInstanceData<Napi::FunctionReference>();
    return ctor->New({Napi::External<ViewOf>::New(env, &v)});
  }

  explicit Storage(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Storage>(info) {
    Napi::Env env = info.Env();
    try {
      construct(info);
    } catch (const Error& e) {
      throw js_error(env, e.code, e.what());
    } catch (const std::bad_alloc&) {
      throw js_error(env, "ERR_OOM", "new Storage: out of host memory");
    }
    info.This().As<Napi::Object>().TypeTag(&kStorageTag);
  }

  // Storage('cpu', 8) without new: a coded error like every other misuse
  static Napi::Value OnCalledAsFunction(const Napi::CallbackInfo& info) {
    throw js_error(info.Env(), "ERR_ARG", "Storage: a class, called without new (use new Storage(device, bytes))");
  }

  ~Storage() override {
    // never throw out of a finalizer: a failing release at exit is not worth a crash
    try {
      release_memory(Env());
    } catch (...) {
    }
  }

  Device device() const { return device_; }
  size_t bytes() const { return bytes_; }
  bool freed() const { return freed_ || (parent_ != nullptr && parent_->freed()); }
  void* ptr() const { return ptr_; }

  // whether the memory of two storages overlaps (a view and its parent, two views of one storage)
  bool overlaps(const Storage* other) const {
    if (other == this) return true;
    if (other == nullptr || bytes_ == 0 || other->bytes_ == 0 || other->device_ != device_) return false;
    uintptr_t a = (uintptr_t)ptr_, b = (uintptr_t)other->ptr_;
    return a < b + other->bytes_ && b < a + bytes_;
  }

  void release_memory(napi_env env) {
    if (freed_) return;
    if (parent_ != nullptr) {  // a view owns nothing: it lets go of its parent
      freed_ = true;
      ptr_ = nullptr;
      parent_ = nullptr;
      parent_ref_.Reset();
      return;
    }
    freed_ = true;
    void* p = ptr_;
    ptr_ = nullptr;
    counters(device_).bytes -= (int64_t)bytes_;
    counters(device_).storages -= 1;
    report_external(env, -(int64_t)bytes_);
    if (device_ == Device::cpu) {
      cpu::release(p);
    } else {
#ifdef CUDALAB_WITH_CUDA
      cuda::release(p);
#endif
    }
  }

 private:
  void construct(const Napi::CallbackInfo& info) {
    if (info.Length() == 1 && info[0].IsExternal()) {
      const ViewOf& v = *info[0].As<Napi::External<ViewOf>>().Data();
      parent_ = v.parent;
      parent_ref_ = Napi::Persistent(v.parent_object);
      device_ = v.parent->device();
      ptr_ = static_cast<uint8_t*>(v.parent->ptr()) + v.offset;
      bytes_ = v.bytes;
      freed_ = false;
      return;
    }
    if (info.Length() != 2)
      throw Error("ERR_ARG", "new Storage(device, bytes): expected 2 arguments, got " +
                                 std::to_string(info.Length()));
    if (!info[0].IsString())
      throw Error("ERR_ARG", "new Storage: argument 'device' must be 'cpu' or 'cuda'");
    std::string dev = info[0].As<Napi::String>().Utf8Value();
    if (dev == "cpu") {
      device_ = Device::cpu;
    } else if (dev == "cuda") {
      device_ = Device::cuda;
    } else {
      throw Error("ERR_ARG", "new Storage: argument 'device' must be 'cpu' or 'cuda', got '" + dev + "'");
    }
    double b = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1.0;
    // 2^53 is where doubles stop counting bytes exactly; no machine has that much anyway
    if (!info[1].IsNumber() || !(b >= 0) || b > 9007199254740991.0 || b != (double)(int64_t)b)
      throw Error("ERR_ARG", "new Storage: argument 'bytes' must be an integer >= 0");
    size_t bytes = (size_t)b;
    void* p = nullptr;
    if (device_ == Device::cpu) {
      p = cpu::alloc(bytes);
    } else {
      require_cuda("new Storage('cuda')");
#ifdef CUDALAB_WITH_CUDA
      p = cuda::alloc(bytes);
#endif
    }
    ptr_ = p;
    bytes_ = bytes;
    freed_ = false;
    counters(device_).bytes += (int64_t)bytes;
    counters(device_).storages += 1;
    counters(device_).used = true;
    report_external(info.Env(), (int64_t)bytes);
  }

  // tells V8 how much native memory this handle keeps alive. a failure only
  // costs GC pressure, never the storage, so it is not an error
  static void report_external(napi_env env, int64_t change) {
    if (change == 0) return;
    int64_t total = 0;
    (void)napi_adjust_external_memory(env, change, &total);
  }

  Napi::Value GetDevice(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), device_name(device_));
  }
  Napi::Value GetBytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), (double)bytes_);
  }
  Napi::Value GetFreed(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), freed());
  }
  void Free(const Napi::CallbackInfo& info) {
    try {
      release_memory(info.Env());
    } catch (const Error& e) {
      throw js_error(info.Env(), e.code, std::string("Storage.free: ") + e.what());
    }
  }

  Device device_ = Device::cpu;
  size_t bytes_ = 0;
  void* ptr_ = nullptr;
  bool freed_ = true;  // nothing to release until construct() succeeds
  Storage* parent_ = nullptr;        // a view's parent, else null
  Napi::ObjectReference parent_ref_;  // keeps the parent alive while the view lives
};

}  // namespace addon
}  // namespace cudalab
