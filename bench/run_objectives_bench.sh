#!/usr/bin/env bash
# Distillation beyond [CLS] on real SST-2 (docs/objectives.md): the demo teacher (4 layers x 128,
# trained from scratch once, or reused from out/demo), then a narrow student (2 layers x 64,
# random init: no narrow pretrained BERT exists offline) trained four ways for each seed,
# STEPS steps of 32, 2 ranks:
#   fine-tuned   alpha = beta = 0 (no teacher)
#   KD           beta = 0
#   PKD + proj   beta = 100: [CLS] vectors through the learned 64 -> 128 projection
#   HID + ATT    KD + token-level hidden MSE (layers 1..k and embeddings, projected) + attention
#                MSE (TinyBERT's terms), beta = 0
# First it caches the teacher's token-level features of SST-2 train (every hidden row and every
# attention layer, float16) and prints the disk, time and peak memory of that (the reference:
# the [CLS]-only cache, timed in the same run). Prints every run and the mean and standard
# deviation of dev accuracy per row.
# Usage: bench/run_objectives_bench.sh [STEPS] [SEEDS] [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
steps=${1:-2000}
seeds=${2:-"1 2 3"}
build=${3:-$root/build}
pkd=$build/bin/pkd
work=$build/bench-objectives
source "$root/tests/mpi/common.sh"
source "$root/bench/demo_teacher.sh"
demo_teacher
mkdir -p "$work"
teacher=out/demo/teacher/model
tokens=out/demo/tokens/SST-2/train

# The cache: [CLS] only (the reference), then every hidden row and attention layer.
cache() {  # NAME EXTRA...: one rank, 2 threads, timed with peak RSS
  local name=$1
  shift
  rm -rf "$work/$name"
  /usr/bin/time -f "%e %M" -o "$work/$name.time" "$pkd" cache-teacher --model "$teacher" \
    --tokens "$tokens" --out "$work/$name" --intra-op-threads 2 --log-level warn "$@" > /dev/null
  read -r seconds kib < "$work/$name.time"
  bytes=$(du -cb "$work/$name"/*.h5 | tail -1 | cut -f1)
  printf "| %s | %.1f | %.0f | %d |\n" "$name" "$seconds" "$((bytes / 1048576))" "$((kib / 1024))"
}
"$pkd" cache-teacher --model "$teacher" --tokens "$tokens" --out "$work/features-all" \
  --layers all --attention-layers all --dry-run
echo "| cache | seconds | MiB on disk | peak RSS MiB |"
echo "|---|---|---|---|"
cache features-cls
cache features-all --layers all --attention-layers all

student=(--student-init random --student-layers 2 --student-hidden-size 64 --student-heads 2
  --features "$work/features-all" --set distill.test='""' --max-steps "$steps")
declare -A loss=([finetuned]="--alpha 0 --beta 0" [kd]="--beta 0" [pkd_proj]="--beta 100"
  [hid_att]="--beta 0 --hidden-weight 1 --embedding-weight 1 --attention-weight 1")
for seed in $seeds; do
  for row in finetuned kd pkd_proj hid_att; do
    out=$work/$row-seed$seed
    [[ -f $out/eval_results.json ]] && continue
    rm -rf "$out"
    # shellcheck disable=SC2086  # the loss switches are words
    mpirun_local -np 2 "$pkd" distill --config configs/demo/student.toml "${student[@]}" \
      ${loss[$row]} --seed "$seed" --output-dir "$out" --intra-op-threads 1 --log-level warn \
      > /dev/null
  done
done
teacher_acc=$(/usr/bin/python3 -c 'import json, sys; print("%.4f" % json.load(open(sys.argv[1]))["dev"]["accuracy"])' \
  "$root/out/demo/teacher/eval_results.json")
echo "SST-2 dev accuracy, 2-layer x 64 students (random init), $steps steps of 32, seeds $seeds;" \
  "teacher (4 layers x 128, from scratch) $teacher_acc"
/usr/bin/python3 "$root/bench/seed_table.py" "$work" "$seeds" "finetuned=fine-tuned (alpha = beta = 0)" \
  "kd=KD (beta = 0)" "pkd_proj=PKD-Skip + projection (beta = 100)" \
  "hid_att=KD + hidden + embedding + attention MSE"
