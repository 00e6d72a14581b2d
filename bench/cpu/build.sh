#!/bin/sh
# builds the standalone cpu kernel check-and-benchmark driver into build-bench/
# (override with OUT=dir), straight from the kernel sources: no node, no cmake.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${OUT:-$root/build-bench}
mkdir -p "$out"
${CXX:-g++} -std=c++17 -O3 -march=x86-64-v3 -mtune=generic -fno-math-errno -Wall -Wextra \
  -Wno-unused-parameter -pthread -I"$root/native" \
  "$root/bench/cpu/gemm_conv_check.cc" \
  "$root/native/cpu/parallel.cc" "$root/native/cpu/gemm.cc" "$root/native/cpu/conv.cc" \
  ${EXTRA_FLAGS:-} -o "$out/gemm_conv_check"
echo "$out/gemm_conv_check"
