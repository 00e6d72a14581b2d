#!/bin/sh
# builds the standalone cpu kernel check-and-benchmark driver into build-bench/
# (override with OUT=dir), straight from the kernel sources: no node, no cmake.
# ISA=avx512|avx2|generic (default avx2) picks the instruction-set build of the
# kernels (native/cpu/dispatch.h), compiled with that build's flags.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${OUT:-$root/build-bench}
isa=${ISA:-avx2}
case $isa in
  avx512) march=-march=x86-64-v4 ;;
  avx2) march=-march=x86-64-v3 ;;
  generic) march= ;;
  *) echo "ISA=$isa: expected avx512, avx2 or generic" >&2; exit 2 ;;
esac
mkdir -p "$out"
${CXX:-g++} -std=c++17 -O3 $march -mtune=generic -fno-math-errno -Wall -Wextra \
  -Wno-unused-parameter -pthread -I"$root/native" -DCUDALAB_CPU_ISA=$isa \
  "$root/bench/cpu/gemm_conv_check.cc" \
  "$root/native/cpu/parallel.cc" "$root/native/cpu/gemm.cc" "$root/native/cpu/conv.cc" \
  ${EXTRA_FLAGS:-} -o "$out/gemm_conv_check"
echo "$out/gemm_conv_check"
