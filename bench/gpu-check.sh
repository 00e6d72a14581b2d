#!/usr/bin/env bash
# the GPU check: on a machine with an NVIDIA GPU, from the repository root (or
# a bundle made by bench/gpu-bundle.sh), after `source .device/setup.sh` where
# the machine lacks node and CIFAR-10.
#   bench/gpu-check.sh quick   every op on CUDA against the CPU backend, env check, GEMM, a short training run
#   bench/gpu-check.sh full    that, plus the whole benchmark beside PyTorch and 3-epoch training beside PyTorch
#   bench/gpu-check.sh recipe  every op on CUDA, then the airbench94 recipe (3 seeds) beside the same
#                              recipe in PyTorch (fp32 and tf32), and a seedcnn epoch beside PyTorch
#                              eager and PyTorch with CUDA graphs, and GEMM beside cuBLAS
#   bench/gpu-check.sh sanitize every op spec on CUDA and the CUDA tests under compute-sanitizer
#                              (memcheck, then racecheck), which sees what the guard zones cannot:
#                              reads out of bounds, shared-memory races
# results go to $OUT (or bench/results/<date>/), one file per step, and a
# summary table is printed last.
set -uo pipefail
mode=${1:-full}
out=${OUT:-bench/results/$(date +%Y%m%d-%H%M%S)}
data=${CIFAR10:-/tmp/cifar10}
mkdir -p "$out"
cli="node bin/cudalab.js"
status=0
step() { # name, command...: runs, keeps the output, remembers failures
  local name=$1; shift
  local t0=$(date +%s)
  echo "== $name: $*"
  "$@" > "$out/$name.txt" 2>&1
  local rc=$?
  tail -n 25 "$out/$name.txt"
  echo "== $name: exit $rc, $(( $(date +%s) - t0 )) s"
  echo "$name $rc $(( $(date +%s) - t0 ))" >> "$out/steps.txt"
  [ $rc -eq 0 ] || status=1
}

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv > "$out/gpu.txt" 2>&1
cat "$out/gpu.txt"
step check-env $cli check-env
step check-ops $cli check-ops --device cuda
if [ "$mode" = sanitize ]; then
  # compute-sanitizer follows node's children; --error-exitcode makes a report fail the step
  san="compute-sanitizer --error-exitcode 3 --print-limit 20"
  step memcheck-ops $san --tool memcheck $cli check-ops --device cuda
  step racecheck-ops $san --tool racecheck $cli check-ops --device cuda
  step memcheck-tests $san --tool memcheck npx vitest run tests/ops tests/native tests/tensor tests/nn
elif [ "$mode" = recipe ]; then
  for seed in 0 1 2; do
    step "airbench94-s$seed" $cli train --config experiments/airbench94.json --device cuda --data "$data" --seed $seed --out "$out/runs" --name "airbench94-s$seed" --json
    step "torch-airbench94-s$seed" python3 bench/torch_airbench94.py --device cuda --data "$data/cifar-10-batches-py" --epochs 9.9 --seed $seed
  done
  step torch-airbench94-tf32 python3 bench/torch_airbench94.py --device cuda --tf32 --data "$data/cifar-10-batches-py" --epochs 9.9 --seed 0
  step train-seedcnn $cli train --device cuda --data "$data" --lr 0.001 --batch 64 --epochs 3 --out "$out/runs" --name seedcnn-exp1 --json
  step torch-seedcnn-eager python3 bench/torch_train.py --data "$data/cifar-10-batches-py" --model seedcnn --lr 0.001 --batch 64 --epochs 3
  step torch-seedcnn-graphs python3 bench/torch_train.py --data "$data/cifar-10-batches-py" --model seedcnn --lr 0.001 --batch 64 --epochs 3 --graphs
  step bench-gemm $cli bench --device cuda --ops gemm --compare-torch --min-seconds 0.2
elif [ "$mode" = quick ]; then
  step bench-gemm $cli bench --device cuda --ops gemm,conv2d,adam --compare-torch --min-seconds 0.2
  step train-smoke $cli train --device cuda --data "$data" --lr 0.001 --batch 64 --epochs 1 --limit 10000 --out "$out/runs" --name smoke --json
else
  step bench $cli bench --device cuda --compare-torch --min-seconds 0.2
  # the seed's three experiments, then ptcnn's exp1, each beside PyTorch on the same card
  step experiments $cli experiments --device cuda --data "$data" --out "$out/runs" --json
  for seed in 0 1 2; do
    step "train-ptcnn-s$seed" $cli train --device cuda --data "$data" --model ptcnn --lr 0.001 --batch 64 --epochs 3 --seed $seed --out "$out/runs" --name "ptcnn-exp1-s$seed" --json
  done
  for model in seedcnn ptcnn; do
    step "torch-$model" python3 bench/torch_train.py --data "$data/cifar-10-batches-py" --model $model --lr 0.001 --batch 64 --epochs 3
  done
  step memory node --expose-gc bench/memory-growth.js --device cuda --steps 2000
fi
echo
echo "step            exit  seconds"
awk '{ printf "%-15s %4s %8s\n", $1, $2, $3 }' "$out/steps.txt"
exit $status
