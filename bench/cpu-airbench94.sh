#!/usr/bin/env bash
# airbench94's recipe on the CPU, cudalab then PyTorch, in one run so both see
# the same machine under the same load:
#   bench/cpu-airbench94.sh [OUT_DIR]     (default bench/results/<date>-cpu-airbench94/)
# settings by environment: EPOCHS (default 2), SEED (default 0), DATA (the
# folder holding cifar-10-batches-py, default /tmp/c10), LIMIT (the first N
# training and test images, for a quick try; default all), PYTHON (default
# /usr/bin/python3, which needs torch and numpy).
# needs dist/ (npx tsc -p tsconfig.json). writes into OUT_DIR: cudalab.txt and
# the run directory (cudalab-run/), torch.txt (its last line is a JSON
# summary), and cpu-airbench94.txt: the processor, the load average before and
# after each, the commands, and the two summaries side by side.
set -euo pipefail
py=${PYTHON:-/usr/bin/python3}
epochs=${EPOCHS:-2}
seed=${SEED:-0}
data=${DATA:-/tmp/c10}
limit=${LIMIT:-}
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/bench/results/$(date +%F)-cpu-airbench94}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$root"
log=$out/cpu-airbench94.txt
runs=$(mktemp -d); trap 'rm -rf "$runs"' EXIT
model=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'avx2|avx512f|amx_tile' | paste -sd, - || true)

cudalab_cmd=(node bin/cudalab.js train --config experiments/airbench94.json --device cpu --data "$data"
  --epochs "$epochs" --seed "$seed" --out "$runs" --name airbench94-cpu)
torch_cmd=("$py" bench/torch_airbench94.py --data "$data/cifar-10-batches-py" --epochs "$epochs" --seed "$seed")
if [ -n "$limit" ]; then
  cudalab_cmd+=(--limit "$limit")
  torch_cmd+=(--limit "$limit")
fi

{
  echo "# bench/cpu-airbench94.sh, $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "cpu: $model ($flags), $(nproc) cores; $(free -g | awk '/^Mem:/ {print $2 " GiB memory"}')"
  echo "epochs $epochs, seed $seed, data $data${limit:+, limit $limit}"
  echo
  echo "uptime before cudalab: $(uptime)"
  echo "== ${cudalab_cmd[*]}"
  start=$(date +%s)
  "${cudalab_cmd[@]}" 2>&1 | tr '\r' '\n' | grep -v '^epoch [0-9/.]* step ' | tee "$out/cudalab.txt"
  echo "cudalab wall: $(( $(date +%s) - start ))s"
  echo "uptime after cudalab: $(uptime)"
  rm -rf "$out/cudalab-run"
  cp -r "$runs/airbench94-cpu" "$out/cudalab-run"
  rm -f "$out"/cudalab-run/checkpoint-*.safetensors  # weights and optimizer state: large and not needed here
  echo
  echo "uptime before torch: $(uptime)"
  echo "== ${torch_cmd[*]}"
  start=$(date +%s)
  "${torch_cmd[@]}" 2>&1 | tee "$out/torch.txt"
  echo "torch wall: $(( $(date +%s) - start ))s"
  echo "uptime after torch: $(uptime)"
  echo
  echo "== side by side (train seconds per epoch, test accuracy, with TTA)"
  "$py" - "$out/cudalab-run/summary.json" "$out/torch.txt" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
t = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
print(f"torch {t['torch']}, {t['threads']} threads")
for name, s in (("cudalab", c), ("torch  ", t)):
    per = ", ".join(f"{e['seconds']:.1f}s" for e in s["epochs"])
    ev = ", ".join(f"{e['eval_seconds']:.1f}s" for e in s["epochs"])
    print(f"{name}: train {per} (eval {ev}); test {100 * s['test_accuracy']:.2f}%, "
          f"{100 * s['test_accuracy_tta']:.2f}% with TTA")
pairs = list(zip(c["epochs"], t["epochs"]))
if pairs:
    print("cudalab / torch train seconds per epoch: " + ", ".join(f"{a['seconds'] / b['seconds']:.2f}" for a, b in pairs))
PY
} 2>&1 | tee "$log"
echo "wrote $log"
