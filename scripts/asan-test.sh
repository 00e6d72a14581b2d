#!/usr/bin/env bash
# builds the addon with AddressSanitizer + UBSan (CPU backend, into build-asan/)
# and runs the native tests against it. node itself is not instrumented, so the
# asan runtime is preloaded; leak checking is off because node does not free
# everything at exit. any report makes the run fail (halt_on_error).
# usage: scripts/asan-test.sh [vitest args...]   (default: tests/native)
set -euo pipefail
cd "$(dirname "$0")/.."

libasan="$(g++ -print-file-name=libasan.so)"
libubsan="$(g++ -print-file-name=libubsan.so)"
if [ ! -f "$libasan" ]; then
  echo "asan-test: libasan.so not found (g++ -print-file-name gave '$libasan')" >&2
  exit 1
fi
preload="$libasan"
[ -f "$libubsan" ] && preload="$preload:$libubsan"

# the build loads the addon once to print what it built, so it needs the
# preload too; compilers run under it harmlessly with leak checks off.
# a configured build-asan/ is compiled incrementally, otherwise rebuilt.
rebuild="--rebuild"
[ -f build-asan/CMakeCache.txt ] && rebuild=""
LD_PRELOAD="$preload" ASAN_OPTIONS="detect_leaks=0" CUDALAB_CUDA=OFF node scripts/install.js $rebuild --asan

addon=""
for f in build-asan/Debug/cudalab.node build-asan/Release/cudalab.node; do
  if [ -f "$f" ]; then addon="$f"; break; fi
done
if [ -z "$addon" ]; then
  echo "asan-test: no cudalab.node under build-asan/" >&2
  exit 1
fi

export CUDALAB_ADDON="$addon"
export LD_PRELOAD="$preload"
# allocator_may_return_null: the tests ask for 4 PiB on purpose and expect ERR_OOM
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:allocator_may_return_null=1:print_summary=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

if [ "$#" -eq 0 ]; then set -- tests/native; fi
echo "asan-test: $addon with LD_PRELOAD=$LD_PRELOAD"
exec npx vitest run "$@"
