#!/usr/bin/env bash
# Checkpoint -> resume gives bitwise the weights and optimizer state of an uninterrupted run, on
# 1 and on 2 ranks, with dropout on: a run stopped after step 13 (mid-epoch, as if preempted:
# exit 75) and resumed with --resume ends with files identical to the uninterrupted run's final
# checkpoint. Also: the mid-run checkpoint is what `latest` names, and an old one is pruned.
# Usage: resume_np2.sh PKD_BINARY SOURCE_DIR
source "$(dirname "$0")/common.sh"
pkd=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/data"
head -n 301 "$src/data/glue/SST-2/train.tsv" > "$work/data/train.tsv"
head -n 101 "$src/data/glue/SST-2/dev.tsv" > "$work/data/dev.tsv"
"$pkd" tokenize --task SST-2 --data-dir "$work/data" --vocab "$src/data/vocab/vocab.txt" --out "$work/tokens" > /dev/null
args=(finetune --init random --train "$work/tokens/train" --dev "$work/tokens/dev" --hidden-size 32
      --intermediate-size 64 --batch-size 32 --epochs 2 --learning-rate 1e-3 --checkpoint-every 5
      --gradient-accumulation-steps 2 --intra-op-threads 1 --log-level warn)
for np in 1 2; do
  launch=()
  [[ $np -eq 2 ]] && launch=(mpirun_local -np 2)
  "${launch[@]}" "$pkd" "${args[@]}" --output-dir "$work/full-$np" > "$work/log" 2>&1 || { cat "$work/log"; exit 1; }
  set +e
  "${launch[@]}" "$pkd" "${args[@]}" --output-dir "$work/cut-$np" --stop-after-steps 13 > "$work/log" 2>&1
  code=$?
  set -e
  [[ $code -eq 75 ]] || { cat "$work/log"; echo "FAIL: np$np: a preempted run exits with $code, expected 75"; exit 1; }
  [[ $(cat "$work/cut-$np/checkpoints/latest") == step-00000013 ]] || { echo "FAIL: latest is $(cat "$work/cut-$np/checkpoints/latest")"; exit 1; }
  # Epoch 1 ended at step 10: checkpoints 10 and 13 are kept, 5 pruned (keep_checkpoints = 2).
  [[ ! -e "$work/cut-$np/checkpoints/step-00000005" && -d "$work/cut-$np/checkpoints/step-00000010" ]] || { ls "$work/cut-$np/checkpoints"; echo "FAIL: pruning"; exit 1; }
  "${launch[@]}" "$pkd" "${args[@]}" --output-dir "$work/cut-$np" --resume > "$work/log" 2>&1 || { cat "$work/log"; exit 1; }
  for f in model.safetensors optimizer.safetensors; do
    cmp "$work/full-$np/checkpoints/step-00000020/$f" "$work/cut-$np/checkpoints/step-00000020/$f" \
      || { echo "FAIL: np$np: $f after resume differs from the uninterrupted run"; exit 1; }
  done
  cmp "$work/full-$np/model/model.safetensors" "$work/cut-$np/model/model.safetensors" || { echo "FAIL: np$np: exported models differ"; exit 1; }
  # Everything but the timings (examples_per_s, step_seconds) must be identical.
  untimed() { sed 's/"examples_per_s":[^,}]*//; s/"step_seconds":{[^}]*}//' "$1"; }
  diff <(untimed "$work/full-$np/metrics.jsonl") <(untimed "$work/cut-$np/metrics.jsonl") \
    || { echo "FAIL: np$np: metrics.jsonl differs"; exit 1; }
  echo "np$np: resumed run == uninterrupted run (bitwise)"
done
echo "PASS"
