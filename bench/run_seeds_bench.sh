#!/usr/bin/env bash
# The demo's comparison (scripts/demo.sh), longer and over 3 seeds: the demo teacher (trained
# once, or reused from out/demo), its cached features, then for each seed a 2-layer student
# fine-tuned without a teacher (alpha = beta = 0), with vanilla KD (beta = 0) and with PKD-Skip,
# each for STEPS steps of 32 on the real SST-2 train split, 2 ranks. Prints every run and the
# mean and standard deviation of dev accuracy per row.
# Usage: bench/run_seeds_bench.sh [STEPS] [SEEDS] [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
steps=${1:-2000}
seeds=${2:-"1 2 3"}
build=${3:-$root/build}
pkd=$build/bin/pkd
work=$build/bench-seeds
source "$root/tests/mpi/common.sh"
source "$root/bench/demo_teacher.sh"
demo_teacher
mpirun_local -np 2 "$pkd" cache-teacher --model out/demo/teacher/model \
  --tokens out/demo/tokens/SST-2/train --out out/demo/features/SST-2/train --intra-op-threads 1 \
  --log-level warn
declare -A loss=([finetuned]="--alpha 0 --beta 0" [kd]="--beta 0" [pkd]="")
for seed in $seeds; do
  for row in finetuned kd pkd; do
    out=$work/$row-seed$seed
    [[ -f $out/eval_results.json ]] && continue
    rm -rf "$out"
    # shellcheck disable=SC2086  # the loss switches are words
    mpirun_local -np 2 "$pkd" distill --config configs/demo/student.toml ${loss[$row]} \
      --set distill.test='""' --max-steps "$steps" --seed "$seed" --output-dir "$out" \
      --intra-op-threads 1 --log-level warn > /dev/null
  done
done
teacher_acc=$(/usr/bin/python3 -c 'import json, sys; print("%.4f" % json.load(open(sys.argv[1]))["dev"]["accuracy"])' \
  "$root/out/demo/teacher/eval_results.json")
echo "SST-2 dev accuracy, 2-layer students, $steps steps of 32, seeds $seeds; teacher (4 layers, from scratch) $teacher_acc"
/usr/bin/python3 "$root/bench/seed_table.py" "$work" "$seeds" "finetuned=fine-tuned (alpha = beta = 0)" \
  "kd=vanilla KD (beta = 0)" "pkd=PKD-Skip (beta = 100)"
