#!/usr/bin/env bash
# a seedcnn training epoch on the CPU (exp1: Adam, lr 0.001, batch 64) by
# cudalab and by PyTorch (Debian's python3-torch, eager, oneDNN) in one run on
# the same machine, so the ratio holds even where the machine is shared.
#   bench/cpu-seedcnn-epoch.sh DATA_DIR [OUT_DIR]   (DATA_DIR holds cifar-10-batches-py/)
# needs dist/ (npx tsc -p tsconfig.json) and /usr/bin/python3 with torch
# (PYTHON=... for another). writes OUT_DIR/cpu-seedcnn-epoch.txt.
set -euo pipefail
data=${1:?usage: bench/cpu-seedcnn-epoch.sh DATA_DIR [OUT_DIR]}
out=${2:-bench/results/$(date +%F)-cpu-seedcnn-epoch}
py=${PYTHON:-/usr/bin/python3}
epochs=${EPOCHS:-2}
threads=$(nproc)
mkdir -p "$out"
runs=$(mktemp -d); trap 'rm -rf "$runs"' EXIT
{
  echo "# bench/cpu-seedcnn-epoch.sh, $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $threads cores; cudalab kernels: $(node -p "require('./dist/native').native().cpuPath()")"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "== $py bench/torch_train.py --device cpu --threads $threads --model seedcnn --lr 0.001 --batch 64 --epochs $epochs"
  "$py" bench/torch_train.py --device cpu --threads "$threads" --data "$data/cifar-10-batches-py" --model seedcnn --lr 0.001 --batch 64 --epochs "$epochs" | tee "$runs/torch.json"
  echo "== node bin/cudalab.js train --device cpu --lr 0.001 --batch 64 --epochs $epochs"
  node bin/cudalab.js train --device cpu --data "$data" --lr 0.001 --batch 64 --epochs "$epochs" --out "$runs" --name seedcnn --json | tee "$runs/cudalab.json"
  echo
  "$py" - "$runs/torch.json" "$runs/cudalab.json" "$runs/seedcnn/metrics.jsonl" <<'PY'
import json, sys
torch = [e["seconds"] for e in json.load(open(sys.argv[1]))["epochs"]]
ours = [json.loads(l)["seconds"] for l in open(sys.argv[3]) if l.strip()]
med = lambda xs: sorted(xs)[len(xs) // 2]
print("seconds per epoch, PyTorch: " + ", ".join(f"{s:.1f}" for s in torch))
print("seconds per epoch, cudalab: " + ", ".join(f"{s:.1f}" for s in ours))
print(f"median: PyTorch {med(torch):.1f} s, cudalab {med(ours):.1f} s: cudalab {med(torch) / med(ours):.2f}x faster")
PY
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$out/cpu-seedcnn-epoch.txt"
