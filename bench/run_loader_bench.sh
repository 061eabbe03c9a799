#!/usr/bin/env bash
# The trainer's loader thread (train/step_batches.h): the batch phase of a cached distillation
# step (waiting for the step's batches: reading streaming windows of teacher features, collating)
# with batches made in the training thread (prefetch_steps = 0, the reference) against the
# loader thread (prefetch_steps = 2), in the same run. BERT-base shapes as in
# run_distill_bench.sh (random 12-layer teacher, 6-layer student, PKD-Skip, batch 32), the first
# EXAMPLES SST-2 train sentences in token shards of 256 and streaming windows of WINDOW examples,
# so that training crosses windows. Both runs train bitwise the same (tests/cli/
# test_loader_thread.cpp); only where the batch time goes differs.
# Usage: bench/run_loader_bench.sh [THREADS] [EXAMPLES] [WINDOW] [STEPS] [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
threads=${1:-2}
examples=${2:-2048}
window=${3:-512}
steps=${4:-48}
build=${5:-$root/build}
work=$build/bench-loader
source "$root/bench/bert_base_inputs.sh"
rm -rf "$work"
sst2_tokens "$work" "$examples" --shard-size 256
echo "caching the teacher's features (float16, PKD-Skip rows) ..."
"$build/bin/pkd" cache-teacher --model "$teacher" --tokens "$work/tokens/train" --out "$work/features" \
  --layers 0,2,4,6,8,10,12 --batch-size 64 --intra-op-threads "$threads" --log-level warn
for ahead in 0 2; do
  echo "pkd distill, prefetch_steps = $ahead ($steps steps, windows of $window examples) ..."
  "$build/bin/pkd" distill --teacher "$teacher" --train "$work/tokens/train" --features "$work/features" \
    --student-layers 6 --batch-size 32 --epochs 1 --alpha 0.5 --beta 100 --temperature 10 \
    --layer-map skip --learning-rate 5e-5 --log-every 100000 --log-level error \
    --window-examples "$window" --max-steps "$steps" --intra-op-threads "$threads" \
    --prefetch-steps "$ahead" --output-dir "$work/ahead$ahead" > /dev/null
done
/usr/bin/python3 - "$work" "$threads" "$window" "$steps" <<'PY'
import json, sys
work, threads, window, steps = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
m = {a: json.loads(open(f"{work}/ahead{a}/metrics.jsonl").readline()) for a in (0, 2)}
batch = {a: m[a]["step_seconds"]["batch"] * 1000 for a in m}
print(f"cached distillation, BERT-base 12 -> 6 layers, batch 32, {threads} threads, {steps} steps, "
      f"windows of {window} examples:")
for a in (0, 2):
    print(f"  prefetch_steps = {a}: batch phase {batch[a]:6.2f} ms/step, "
          f"{m[a]['examples_per_s']:6.2f} ex/s, forward+backward "
          f"{m[a]['step_seconds']['forward_backward'] * 1000:6.1f} ms/step")
print(f"  batch phase, training thread / loader thread: {batch[0] / max(batch[2], 1e-9):.1f}x")
PY
