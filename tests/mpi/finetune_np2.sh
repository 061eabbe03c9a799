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
  /usr/bin/python3 - "$src/tools" "$work/np1-$steps/model" "$work/np2-$steps/model" "$steps" <<'PY' || status=1
import sys
sys.path.insert(0, sys.argv[1])
from bert_reference import read_safetensors
import torch
a = read_safetensors(sys.argv[2] + "/model.safetensors")
b = read_safetensors(sys.argv[3] + "/model.safetensors")
worst = max((a[k] - b[k]).abs().max().item() for k in a)
print(f"{sys.argv[4]} steps: max |param(np1) - param(np2)| = {worst:.2e}")
if worst > 1e-5:
    sys.exit("FAIL: 2 ranks diverged from 1 rank")
PY
done
[[ $status -eq 0 ]] && echo "PASS: 2 ranks == 1 rank"
exit $status
