#!/usr/bin/env bash
# One fine-tuning step (and three) on 2 ranks equals the same steps on 1 rank with the same
# global batch: parameters within float tolerance (dropout off: masks are drawn per rank).
# Usage: finetune_np2.sh PKD_BINARY SOURCE_DIR
source "$(dirname "$0")/common.sh"
pkd=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/data"
head -n 301 "$src/data/glue/SST-2/train.tsv" > "$work/data/train.tsv"
"$pkd" tokenize --task SST-2 --data-dir "$work/data" --vocab "$src/data/vocab/vocab.txt" --out "$work/tokens" > /dev/null
status=0
for steps in 1 3; do
  # A global batch of 33 splits unevenly over 2 ranks (16 + 17): the gradient must still be exact.
  args=(finetune --init random --train "$work/tokens/train" --hidden-size 32 --intermediate-size 64
        --hidden-dropout-prob 0 --attention-probs-dropout-prob 0 --batch-size 33 --max-steps "$steps"
        --learning-rate 1e-3 --warmup-proportion 0 --intra-op-threads 1 --log-level warn)
  "$pkd" "${args[@]}" --output-dir "$work/np1-$steps" > /dev/null
  mpirun_local -np 2 "$pkd" "${args[@]}" --output-dir "$work/np2-$steps" > "$work/log" 2>&1 || { cat "$work/log"; exit 1; }
  models_within "$src" "$work/np1-$steps/model/model.safetensors" \
    "$work/np2-$steps/model/model.safetensors" 1e-5 "$steps steps, 2 ranks vs 1 rank" || status=1
done
[[ $status -eq 0 ]] && echo "PASS: 2 ranks == 1 rank"
exit $status
