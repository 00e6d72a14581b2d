#!/usr/bin/env bash
# cudalab's SGEMM micro-kernels beside OpenBLAS's, one thread each, timed by
# the process's cpu time: on a machine whose cores other programs share, wall
# times (bench/cpu-compare.sh) swing with the load, while one thread's cpu
# time is the kernel's own work (a busy machine still slows it a little, by
# cache and clock sharing, so rounds alternate between the two libraries).
#   bench/cpu-compare-cputime.sh [OUT_FILE]    (default: stdout only)
# builds the standalone kernel driver (bench/cpu/build.sh) for the AVX-512 and
# AVX2 builds, and compares each with OpenBLAS's kernel for the same
# instruction set: the one it picks for this processor (SkylakeX where there
# is AVX-512), and Haswell (OPENBLAS_CORETYPE=Haswell, its AVX2 kernel).
# needs python3 with numpy (PYTHON=... to pick another).
set -euo pipefail
py=${PYTHON:-python3}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
out=${1:-/dev/null}
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'avx2|avx512f' | paste -sd, - || true)
pairs="avx2:Haswell"
case ",$flags," in *,avx512f,*) pairs="avx512: $pairs" ;; esac

ratios() { # OpenBLAS json, driver output
  "$py" - "$1" "$2" <<'PY'
import json, re, sys
blas = {x["n"]: x["gflops"] for x in json.load(open(sys.argv[1]))["results"]}
for line in open(sys.argv[2]):
    m = re.match(r"gemm NN\s+(\d+) x\s+(\d+) x\s+(\d+)\s+median\s+\S+ ms\s+(\S+) GFLOP/s", line)
    if m and m.group(1) == m.group(2) == m.group(3) and int(m.group(1)) in blas:
        n, g = int(m.group(1)), float(m.group(4))
        print(f"  {n}^3: cudalab {g:.1f} / OpenBLAS {blas[n]:.1f} GFLOP/s = {g / blas[n]:.2f}")
PY
}

{
  echo "# bench/cpu-compare-cputime.sh, $(date -u +%FT%TZ), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1) ($flags), $(nproc) cores; one thread each, process cpu time"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  for pair in $pairs; do
    isa=${pair%%:*}; core=${pair#*:}
    ISA=$isa OUT=$tmp/$isa "$root/bench/cpu/build.sh" > /dev/null
    for round in 1 2; do
      echo
      echo "== $isa, round $round: OPENBLAS_NUM_THREADS=1 ${core:+OPENBLAS_CORETYPE=$core }$py bench/openblas_sgemm.py --cpu-time"
      env -u OPENBLAS_L2_SIZE -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS=1 ${core:+OPENBLAS_CORETYPE=$core} "$py" "$root/bench/openblas_sgemm.py" --cpu-time --json "$tmp/blas.json" | sed -n '3p;5,$p'
      echo "== $isa, round $round: ISA=$isa bench/cpu/build.sh; gemm_conv_check --bench-only --threads 1 --cpu-time --only 'NN  ' --runs 5"
      "$tmp/$isa/gemm_conv_check" --bench-only --threads 1 --cpu-time --only 'NN  ' --runs 5 | grep -E '^gemm NN +[0-9]+ x +([0-9]+) x +\1 ' | tee "$tmp/driver.txt"
      echo "== $isa, round $round: cudalab ($isa) / OpenBLAS (${core:-its own choice})"
      ratios "$tmp/blas.json" "$tmp/driver.txt"
    done
  done
  echo
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$out"
