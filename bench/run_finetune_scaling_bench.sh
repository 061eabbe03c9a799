#!/usr/bin/env bash
# Fine-tuning throughput on real SST-2 sentences: 1 rank x 2 threads against 2 ranks x 1 thread
# (mpirun, Gloo gradient sums), the same model, data, global batch and steps, in one invocation.
# Prints examples/s of each and the ratio (>1: data-parallel ranks beat intra-op threads).
# Usage: bench/run_finetune_scaling_bench.sh [HIDDEN] [LAYERS] [STEPS] [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
hidden=${1:-256}
layers=${2:-4}
steps=${3:-40}
build=${4:-$root/build}
work=$build/bench-finetune
source "$root/tests/mpi/common.sh"
rm -rf "$work" && mkdir -p "$work/data"
head -n 4001 "$root/data/glue/SST-2/train.tsv" > "$work/data/train.tsv"
"$build/bin/pkd" tokenize --task SST-2 --data-dir "$work/data" --vocab "$root/data/vocab/vocab.txt" \
  --out "$work/tokens" --log-level warn > /dev/null
args=(finetune --init random --train "$work/tokens/train" --hidden-size "$hidden"
      --num-hidden-layers "$layers" --num-attention-heads $((hidden / 64)) --intermediate-size $((4 * hidden))
      --batch-size 32 --epochs 1 --max-steps "$steps" --learning-rate 1e-4 --log-level warn)
"$build/bin/pkd" "${args[@]}" --intra-op-threads 2 --output-dir "$work/1x2" > /dev/null
mpirun_local -np 2 "$build/bin/pkd" "${args[@]}" --intra-op-threads 1 --output-dir "$work/2x1" > /dev/null
/usr/bin/python3 - "$work" "$hidden" "$layers" "$steps" <<'PY'
import json, sys
work, hidden, layers, steps = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rate = {k: json.loads(open(f"{work}/{k}/metrics.jsonl").readline())["examples_per_s"] for k in ("1x2", "2x1")}
print(f"fine-tuning hidden {hidden}, {layers} layers, {steps} steps of 32: "
      f"1 rank x 2 threads {rate['1x2']:.0f} ex/s, 2 ranks x 1 thread {rate['2x1']:.0f} ex/s: "
      f"ratio {rate['2x1'] / rate['1x2']:.2f}x")
PY
