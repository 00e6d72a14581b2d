#!/usr/bin/env bash
# cudalab's CPU SGEMM beside OpenBLAS (through numpy) in one run, so both see
# the same machine under the same load: compare the ratio, not the absolute
# rates, when the machine is shared.
#   bench/cpu-compare.sh [OUT_DIR]     (default bench/results/<date>-cpu-<processor>/)
# needs dist/ (npx tsc -p tsconfig.json) and python3 with numpy (PYTHON=... to
# pick another). writes OUT_DIR/cpu-compare.txt: the processor, the load
# average before and after, then two rounds of OpenBLAS and cudalab at 1000,
# 2048 and 4096 (the second round shows how much the numbers move), and the
# ratio per round. CORETYPE=Haswell (with CUDALAB_CPU=avx2) holds OpenBLAS to
# its AVX2 kernels too, to compare the AVX2 paths on an AVX-512 machine.
set -euo pipefail
py=${PYTHON:-python3}
model=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'avx2|avx512f|amx_tile' | paste -sd, - || true)
if [ $# -ge 1 ]; then
  out=$1
else
  slug=$(echo "$model" | tr 'A-Z' 'a-z' | sed -E 's/\((r|tm)\)//g; s/(processor|cpu|[0-9]+-core)//g; s/[^a-z0-9]+/-/g; s/^-+|-+$//g')
  case ",$flags," in *,avx512f,*) slug="$slug-avx512" ;; *,avx2,*) slug="$slug-avx2" ;; esac
  out=bench/results/$(date +%F)-cpu-$slug
fi
mkdir -p "$out"
log=$out/cpu-compare.txt
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

ratios() { # OpenBLAS json, cudalab json: cudalab's rate over OpenBLAS's for each square size both ran
  "$py" - "$1" "$2" <<'PY'
import json, sys
blas = {x["n"]: x["gflops"] for x in json.load(open(sys.argv[1]))["results"]}
for r in json.load(open(sys.argv[2])):
    dims = r["shape"].split("x")
    if r["op"] != "gemm" or r["device"] != "cpu" or len(set(dims)) != 1 or not dims[0].isdigit():
        continue
    n = int(dims[0])
    if n in blas:
        print(f"  {n}^3: cudalab {r['gflops']:.1f} / OpenBLAS {blas[n]:.1f} GFLOP/s = {r['gflops'] / blas[n]:.2f}")
PY
}

{
  echo "# bench/cpu-compare.sh, $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "cpu: $model ($flags), $(nproc) cores"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  for round in 1 2; do
    echo
    blas_env="-u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE"
    [ -n "${CORETYPE:-}" ] && blas_env="-u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=$CORETYPE"
    echo "== round $round: env $blas_env $py bench/openblas_sgemm.py"
    env $blas_env "$py" bench/openblas_sgemm.py --json "$tmp/blas$round.json"
    echo "== round $round: node bin/cudalab.js bench --device cpu --ops gemm --no-openblas ($(node -p "require('./dist/native').native().cpuPath()") kernels)"
    node bin/cudalab.js bench --device cpu --ops gemm --no-openblas --json > "$tmp/cudalab$round.json"
    echo "== round $round: cudalab / OpenBLAS"
    ratios "$tmp/blas$round.json" "$tmp/cudalab$round.json"
  done
  echo
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$log"
echo "wrote $log"
