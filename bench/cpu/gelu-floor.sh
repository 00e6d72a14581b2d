#!/bin/sh
# builds bench/cpu/gelu_floor.cc for AVX2 (x86-64-v3, as the addon) and
# AVX-512 (x86-64-v4), counts the instructions of the forward's and the
# backward's vector loop (the one with the division), and runs both builds.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${OUT:-$root/build-bench}
mkdir -p "$out"
for arch in x86-64-v3 x86-64-v4; do
  ${CXX:-g++} -std=c++17 -O3 -march=$arch -mtune=generic -fno-math-errno -I"$root/native" \
    "$root/bench/cpu/gelu_floor.cc" -o "$out/gelu_floor_$arch"
  for fn in gelu_fwd gelu_bwd; do
    # the loop: from the label before the first packed division to the branch back
    # the loop: the first branch back over the function's first packed
    # division, from its target to the branch
    n=$(objdump -d --no-show-raw-insn "$out/gelu_floor_$arch" | python3 -c '
import re, sys
fn, inside, rows = sys.argv[1], False, []
for line in sys.stdin:
    if re.search(r"<_ZN12_GLOBAL__N_1%d%s" % (len(fn), fn), line) and line.rstrip().endswith(">:"):
        inside = True
        continue
    if inside and not line.strip():
        break
    m = re.match(r"\s*([0-9a-f]+):\s+(\S+)\s*(\S*)", line)
    if inside and m:
        rows.append((int(m.group(1), 16), m.group(2), m.group(3), line))
div = next(a for a, _, _, l in rows if re.search(r"vdivps.*[yz]mm", l))
to, frm = next((a, int(t, 16)) for a, op, t, _ in rows if a > div and op.startswith("j") and re.fullmatch("[0-9a-f]+", t) and int(t, 16) <= div)
print(sum(frm <= a <= to for a, _, _, _ in rows))
' "$fn")
    echo "$arch $fn: $n instructions in the vector loop"
  done
  echo "$arch:"
  "$out/gelu_floor_$arch"
done
