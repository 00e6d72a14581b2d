#!/bin/sh
# builds bench/cpu/norm_bandwidth.cc against native/cpu/norm.cc as it is now
# and as it was at REV (default HEAD), then runs the two in turn, ROUNDS times:
#   bench/cpu/norm-bandwidth.sh [REV]
# per shape: the median cpu time of each kernel on one thread and its GB/s
# (stats reads x once; forward reads and writes once; backward reads x and dy
# twice and writes dx), relu's GB/s at the same element count, and a hash of
# every output's bits (equal hashes: the same results to the bit).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
rev=${1:-HEAD}
out=${OUT:-$root/build-bench}
mkdir -p "$out"
git -C "$root" show "$rev:native/cpu/norm.cc" > "$out/norm_at_rev.cc"
build() { # norm source, binary
  ${CXX:-g++} -std=c++17 -O3 -march=x86-64-v3 -mtune=generic -fno-math-errno -pthread -I"$root/native" \
    "$root/bench/cpu/norm_bandwidth.cc" "$root/native/cpu/parallel.cc" "$root/native/cpu/eltwise.cc" "$1" -o "$2"
}
build "$out/norm_at_rev.cc" "$out/norm_bandwidth_rev"
build "$root/native/cpu/norm.cc" "$out/norm_bandwidth_now"
for r in $(seq 1 "${ROUNDS:-2}"); do
  echo "== round $r: norm.cc at $rev ($(git -C "$root" rev-parse --short "$rev"))"
  "$out/norm_bandwidth_rev" 7
  echo "== round $r: norm.cc now"
  "$out/norm_bandwidth_now" 7
done
