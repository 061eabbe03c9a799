#!/usr/bin/env bash
# parallel.overlap (parallel/overlapped_sum.h): the gradient buckets' Gloo all-reduces start
# during backward, and training is the same as summing after backward:
#  - 2 ranks, dropout on, 2 micro-batches per step, small buckets: the model and every logged
#    loss bitwise equal (a sum of two floats does not depend on the order the buckets run in),
#    and rank 0's debug log and the epoch's metrics.jsonl line ("overlapped_buckets") show
#    buckets started during backward;
#  - 3 ranks, a global batch so small that a rank has no example in a micro-batch (its gradient
#    counts as zeros): within 1e-5 (with 3 ranks the ring's summation order follows the bucket
#    layout, as with another parallel.bucket_mb).
# Usage: overlap_np2.sh PKD_BINARY SOURCE_DIR
source "$(dirname "$0")/common.sh"
pkd=$1 src=$2
if ! "$pkd" --version | grep -q "gloo"; then
  echo "SKIP: this build has no Gloo reducer"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/data"
head -n 301 "$src/data/glue/SST-2/train.tsv" > "$work/data/train.tsv"
"$pkd" tokenize --task SST-2 --data-dir "$work/data" --vocab "$src/data/vocab/vocab.txt" --out "$work/tokens" > /dev/null
args=(finetune --init random --train "$work/tokens/train" --hidden-size 32 --intermediate-size 64
      --num-hidden-layers 3 --gradient-accumulation-steps 2 --max-steps 4 --learning-rate 1e-3
      --warmup-proportion 0 --intra-op-threads 1 --backend gloo --bucket-mb 0.02 --log-every 1
      --log-level debug)
run() {  # NAME RANKS ARGS...: a run in $work/NAME, its log in $work/NAME.log
  local name=$1 ranks=$2
  shift 2
  mpirun_local -np "$ranks" "$pkd" "${args[@]}" "$@" --output-dir "$work/$name" > "$work/$name.log" 2>&1 ||
    { cat "$work/$name.log"; exit 1; }
}
losses() { grep -o '"train_loss":[^,}]*' "$1/metrics.jsonl"; }
status=0

run on2 2 --batch-size 24 --overlap
run off2 2 --batch-size 24 --no-overlap
started=$(grep -c "[1-9][0-9]* of [0-9]* gradient buckets started their all-reduce during backward" "$work/on2.log" || true)
echo "2 ranks: steps with buckets summed during backward: $started of 4"
[[ $started -eq 4 ]] || { echo "FAIL: no bucket started during backward"; status=1; }
grep -q "gradient buckets started" "$work/off2.log" && { echo "FAIL: --no-overlap overlapped"; status=1; }
# The epoch's profile line says so too: buckets per step, and how many started during backward.
profile=$(grep -o '"overlapped_buckets":{[^}]*}' "$work/on2/metrics.jsonl" | head -1)
echo "2 ranks: metrics.jsonl $profile"
[[ $profile =~ \"started_in_backward\":([0-9.]+) ]] && [[ ${BASH_REMATCH[1]} != 0 && ${BASH_REMATCH[1]} != 0.0 ]] ||
  { echo "FAIL: metrics.jsonl has no overlapped_buckets with buckets started during backward"; status=1; }
grep -q overlapped_buckets "$work/off2/metrics.jsonl" && { echo "FAIL: --no-overlap profile shows overlap"; status=1; }
if cmp -s "$work/on2/model/model.safetensors" "$work/off2/model/model.safetensors" &&
   [[ "$(losses "$work/on2")" == "$(losses "$work/off2")" ]] && [[ -n "$(losses "$work/on2")" ]]; then
  echo "2 ranks: overlapped == after backward, bitwise (model and losses)"
else
  echo "FAIL: 2 ranks: overlapped training differs from summing after backward"; status=1
fi

run on3 3 --batch-size 4 --overlap
run off3 3 --batch-size 4 --no-overlap
models_within "$src" "$work/on3/model/model.safetensors" "$work/off3/model/model.safetensors" 1e-5 \
  "3 ranks, a rank without examples: overlapped vs after backward" || status=1
[[ $status -eq 0 ]] && echo "PASS: overlapped gradient sums"
exit $status
