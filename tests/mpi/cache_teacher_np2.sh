#!/usr/bin/env bash
# `mpirun -np 2 pkd cache-teacher` writes the same features as one process.
# Usage: cache_teacher_np2.sh PKD_BINARY SOURCE_DIR
source "$(dirname "$0")/common.sh"
pkd=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$pkd" tokenize --task RTE --data-dir "$src/data/glue/RTE" --vocab "$src/data/vocab/vocab.txt" \
  --out "$work/tokens" --shard-size 60 > /dev/null
args=(cache-teacher --model "$src/tests/data/bert/random-4L-64H" --tokens "$work/tokens/dev" --dtype float32
      --intra-op-threads 1)
"$pkd" "${args[@]}" --out "$work/np1"
PKD_LOG_ALL_RANKS=1 mpirun_local -np 2 "$pkd" "${args[@]}" --out "$work/np2" > "$work/log" 2>&1 || { cat "$work/log"; exit 1; }
cat "$work/log"
grep -q "r1/2 INFO .*cached shard-00001.h5" "$work/log" || { echo "FAIL: rank 1 did not cache its shard"; exit 1; }
status=0
for f in "$work"/np1/shard-*.h5; do
  for ds in logits cls_hidden example_ids; do
    h5diff -q "$f" "${f/np1/np2}" "/$ds" "/$ds" || { echo "FAIL: ${f/np1/np2}:/$ds differs"; status=1; }
  done
done
[[ -f "$work/np2/manifest.json" ]] || { echo "FAIL: no manifest"; status=1; }
# pkd eval / predict: ranks share the shards, rank 0 gathers; the same numbers as one process.
eval_args=(--model "$src/tests/data/bert/random-4L-64H" --tokens "$work/tokens/dev" --intra-op-threads 1)
"$pkd" eval "${eval_args[@]}" > "$work/eval1.txt"
mpirun_local -np 2 "$pkd" eval "${eval_args[@]}" > "$work/eval2.txt" 2>/dev/null
cmp "$work/eval1.txt" "$work/eval2.txt" || { echo "FAIL: eval differs under 2 ranks"; cat "$work"/eval*.txt; status=1; }
"$pkd" predict "${eval_args[@]}" --out "$work/p1.tsv" > /dev/null
mpirun_local -np 2 "$pkd" predict "${eval_args[@]}" --out "$work/p2.tsv" > /dev/null 2>&1
cmp "$work/p1.tsv" "$work/p2.tsv" || { echo "FAIL: predictions differ under 2 ranks"; status=1; }
[[ $status -eq 0 ]] && echo "PASS: 2 ranks == 1 rank"
exit $status
