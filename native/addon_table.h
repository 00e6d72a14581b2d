// the binding table's vocabulary: each op of ops.h is one row, its arguments
// declared once (name, kind, range, size, role, aliasing), and one generic
// entry point checks any row's arguments and calls the row's backend function.
// the rows live in addon.cc; opTable() hands them to JavaScript, where a test
// holds src/native.ts to them.
//
// a row is checked against its C++ function when it is compiled: the argument
// count must equal the function's, and each kind must match the parameter's
// type (an output storage is a non-const pointer, an input a const one).
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "addon_args.h"
#include "addon_storage.h"
#include "ops.h"

namespace cudalab {
namespace addon {

enum class Kind : uint8_t { boolean, integer, real, number, u64, conv, pool, f32, i32, u8 };
enum class Role : uint8_t { in, out, inout };

constexpr double kFloatMax = 3.4028234663852886e38;
constexpr int64_t kMaxCount = (int64_t)1 << 53;  // element counts of the int64 ops

struct ArgSpec {
  const char* name = nullptr;
  Kind kind = Kind::integer;
  double lo = 0, hi = 0;         // integer and real: the accepted range
  bool counts = false;           // an element count: 0 means the op has nothing to do
  const char* size = nullptr;    // storages: how many elements, over integer arguments and shape fields
  Role role = Role::in;
  bool nullable = false;         // storages: null allowed
  const char* alias = "";        // outputs: the inputs it may share a storage with ("a b")

  constexpr bool is_storage() const { return kind == Kind::f32 || kind == Kind::i32 || kind == Kind::u8; }
  constexpr ArgSpec out(const char* may_alias = "") const {
    ArgSpec a = *this;
    a.role = Role::out;
    a.alias = may_alias;
    return a;
  }
  constexpr ArgSpec inout() const {
    ArgSpec a = *this;
    a.role = Role::inout;
    return a;
  }
  constexpr ArgSpec or_null() const {
    ArgSpec a = *this;
    a.nullable = true;
    return a;
  }
};

constexpr ArgSpec boolean(const char* name) { return {name, Kind::boolean}; }
constexpr ArgSpec integer(const char* name, int64_t lo, int64_t hi) { return {name, Kind::integer, (double)lo, (double)hi}; }
// a dimension of a shape (a kernel indexes it with int, and may round it up
// to whole tiles: kMaxExtent)
constexpr ArgSpec dim(const char* name) { return integer(name, 1, kMaxExtent); }
// an element count (0 allowed: nothing to do)
constexpr ArgSpec count(const char* name) {
  ArgSpec a = integer(name, 0, kMaxCount);
  a.counts = true;
  return a;
}
// a finite number in [lo, hi], passed as float
constexpr ArgSpec real(const char* name, double lo = -kFloatMax, double hi = kFloatMax) {
  return {name, Kind::real, lo, hi};
}
// any number, NaN and infinities included
constexpr ArgSpec number(const char* name) { return {name, Kind::number}; }
constexpr ArgSpec u64(const char* name) { return {name, Kind::u64}; }
constexpr ArgSpec conv(const char* name) { return {name, Kind::conv}; }
constexpr ArgSpec pool(const char* name) { return {name, Kind::pool}; }
constexpr ArgSpec storage(const char* name, Kind kind, const char* size) {
  ArgSpec a{name, kind};
  a.size = size;
  return a;
}
constexpr ArgSpec f32(const char* name, const char* size) { return storage(name, Kind::f32, size); }
constexpr ArgSpec i32(const char* name, const char* size) { return storage(name, Kind::i32, size); }
constexpr ArgSpec u8(const char* name, const char* size) { return storage(name, Kind::u8, size); }

constexpr size_t kMaxArgs = 12;

// one checked argument
struct Value {
  bool b = false;
  int64_t i = 0;
  double d = 0;
  uint64_t u = 0;
  Storage* s = nullptr;
  ConvShape conv{};
  PoolShape pool{};
};

// a value as the backend function's parameter type P
template <typename P>
decltype(auto) as(const Value& v) {
  using T = std::remove_cv_t<std::remove_reference_t<P>>;
  if constexpr (std::is_same_v<T, bool>) return v.b;
  else if constexpr (std::is_same_v<T, int>) return (int)v.i;
  else if constexpr (std::is_same_v<T, int64_t>) return v.i;
  else if constexpr (std::is_same_v<T, float>) return (float)v.d;
  else if constexpr (std::is_same_v<T, uint64_t>) return v.u;
  else if constexpr (std::is_same_v<T, ConvShape>) return (const ConvShape&)v.conv;
  else if constexpr (std::is_same_v<T, PoolShape>) return (const PoolShape&)v.pool;
  else if constexpr (std::is_pointer_v<T>) return static_cast<T>(v.s ? v.s->ptr() : nullptr);
  else static_assert(sizeof(T) == 0, "a parameter type the binding table does not know");
}

// whether argument kind `a` fits parameter type P (checked when the table compiles)
template <typename P>
constexpr bool fits(const ArgSpec& a) {
  using T = std::remove_cv_t<std::remove_reference_t<P>>;
  constexpr bool writes = std::is_pointer_v<T> && !std::is_const_v<std::remove_pointer_t<T>>;
  using E = std::remove_cv_t<std::remove_pointer_t<T>>;
  if constexpr (std::is_same_v<T, bool>) return a.kind == Kind::boolean;
  else if constexpr (std::is_same_v<T, int>) return a.kind == Kind::integer && a.hi <= INT32_MAX;
  else if constexpr (std::is_same_v<T, int64_t>) return a.kind == Kind::integer;
  else if constexpr (std::is_same_v<T, float>) return a.kind == Kind::real || a.kind == Kind::number;
  else if constexpr (std::is_same_v<T, uint64_t>) return a.kind == Kind::u64;
  else if constexpr (std::is_same_v<T, ConvShape>) return a.kind == Kind::conv;
  else if constexpr (std::is_same_v<T, PoolShape>) return a.kind == Kind::pool;
  else if constexpr (std::is_same_v<E, float>) return a.kind == Kind::f32 && writes == (a.role != Role::in);
  else if constexpr (std::is_same_v<E, int32_t>) return a.kind == Kind::i32 && writes == (a.role != Role::in);
  else if constexpr (std::is_same_v<E, uint8_t>) return a.kind == Kind::u8 && writes == (a.role != Role::in);
  else return false;
}

template <typename... P, size_t... I>
void invoke(void (*fn)(P...), const Value* v, std::index_sequence<I...>) {
  fn(as<P>(v[I])...);
}

template <typename... P>
constexpr size_t arity(void (*)(P...)) {
  return sizeof...(P);
}

template <typename... P, size_t... I>
constexpr bool all_fit(void (*)(P...), const ArgSpec* args, std::index_sequence<I...>) {
  return (fits<P>(args[I]) && ...);
}

// runs the row's function on the backend of `device`
template <auto Cpu, auto Cuda>
void run_on(Device device, const Value* v) {
  constexpr auto seq = std::make_index_sequence<arity(Cpu)>();
  if constexpr (!std::is_same_v<decltype(Cuda), std::nullptr_t>) {
    if (device == Device::cuda) return invoke(Cuda, v, seq);
  }
  (void)device;
  invoke(Cpu, v, seq);
}

struct Call;
using RunFn = void (*)(Device, const Value*);
using CheckFn = void (*)(const Call&);

struct OpSpec {
  const char* name;
  ArgSpec args[kMaxArgs];
  size_t count;
  RunFn run;
  CheckFn check;  // what the table cannot say (label ranges, hyperparameter rules), or null
};

// the checked arguments of one call, for a row's extra check
struct Call {
  const Args& a;
  const OpSpec& op;
  Value v[kMaxArgs];
};

// a row: the JavaScript name, the backend functions, an extra check (or
// nullptr) and the arguments, in the order both JavaScript and ops.h take them
template <auto Cpu, auto Cuda, typename... A>
constexpr OpSpec op(const char* name, CheckFn check, A... args) {
  static_assert(sizeof...(A) == arity(Cpu), "a row must list every argument of its backend function");
  static_assert(sizeof...(A) <= kMaxArgs, "more arguments than kMaxArgs");
  OpSpec o{name, {args...}, sizeof...(A), &run_on<Cpu, Cuda>, check};
  // not a constant expression (so the table does not compile) when a kind misfits
  if (!all_fit(Cpu, o.args, std::make_index_sequence<sizeof...(A)>())) throw "an argument's kind does not fit its parameter";
  return o;
}

}  // namespace addon
}  // namespace cudalab
