#!/usr/bin/env bash
# the memory-bound cpu kernels (gelu, batch norm, augmentation) beside relu at
# the same byte counts (their bandwidth floor), for two builds of the addon
# in the same session: rounds alternate between them, so both see the same
# machine under the same load. compare ratios, not absolute rates, when the
# machine is shared.
#   bench/cpu-bandwidth.sh BEFORE_ADDON [OUT_DIR]   (default bench/results/<date>-cpu-bandwidth/)
# BEFORE_ADDON: a cudalab.node built from an earlier commit; the other build
# is this checkout's (build/Release). needs dist/ (npx tsc -p tsconfig.json).
# THREADS=n times on n cpu threads (default: every core); one thread needs
# only one free core, so it moves less when other work shares the machine.
# writes OUT_DIR/cpu-bandwidth.txt (cpu-bandwidth-1thread.txt with
# THREADS=1, and so on): the processor, the load average before
# and after, every round's raw `cudalab bench --json` output, and the median
# GB/s per case over the rounds.
set -euo pipefail
before=$(realpath "$1")
out=${2:-bench/results/$(date +%F)-cpu-bandwidth}
rounds=${ROUNDS:-3}
ops=relu,gelu,gelu_bwd,batch_norm2d,batch_norm2d_bwd,augment_images,shift_flip_images
mkdir -p "$out"
log=$out/cpu-bandwidth${THREADS:+-${THREADS}thread}.txt
if [ -n "${THREADS:-}" ]; then export CUDALAB_NUM_THREADS=$THREADS; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
{
  echo "processor: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cpus"
  echo "flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'avx2|fma|avx512f' | paste -sd, -)"
  echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- native || echo ' (native/ modified)')"
  echo "before: $before"
  echo "after: build/Release/cudalab.node"
  echo "threads: ${THREADS:-all}"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  for r in $(seq 1 "$rounds"); do
    for which in before after; do
      cmd="node bin/cudalab.js bench --device cpu --ops $ops --min-seconds 0.3 --json"
      echo "== round $r, $which: $cmd"
      if [ "$which" = before ]; then CUDALAB_ADDON=$before $cmd > "$tmp/$which-$r.json"; else $cmd > "$tmp/$which-$r.json"; fi
      cat "$tmp/$which-$r.json"
    done
  done
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "median GB/s over $rounds rounds (relu rows: the floor at that byte count)"
  node - "$tmp" "$rounds" <<'JS'
const fs = require('fs');
const [dir, rounds] = [process.argv[2], Number(process.argv[3])];
const load = (w) => Array.from({ length: rounds }, (_, i) => JSON.parse(fs.readFileSync(`${dir}/${w}-${i + 1}.json`, 'utf8')));
const [before, after] = [load('before'), load('after')];
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
console.log(`${'op'.padEnd(18)} ${'shape'.padEnd(66)} ${'before'.padStart(7)} ${'after'.padStart(7)} ${'x'.padStart(6)}`);
after[0].forEach((row, i) => {
  const b = median(before.map((run) => run[i].gbps)), a = median(after.map((run) => run[i].gbps));
  console.log(`${row.op.padEnd(18)} ${row.shape.padEnd(66)} ${b.toFixed(1).padStart(7)} ${a.toFixed(1).padStart(7)} ${(a / b).toFixed(2).padStart(6)}`);
});
JS
} | tee "$log"
