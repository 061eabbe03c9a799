#!/usr/bin/env bash
# The fault figures of docs/reliability.md, measured on this machine with the real binary:
#   1. rank loss: `kill -9` of one rank of a 2-rank `pkd finetune` under mpirun; seconds until
#      mpirun has exited (the job is down), and its exit code;
#   2. kill during checkpoint writes: a run checkpointing every step is killed with -9 at
#      random moments KILLS times; after each kill `checkpoints/latest` must name a complete
#      checkpoint and `--resume` must continue from it.
# Usage: scripts/fault_drill.sh [BUILD_DIR] [KILLS]   (about a minute on 2 cores)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
kills=${2:-8}
pkd=$build/bin/pkd
source "$root/tests/mpi/common.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

head -401 "$root/data/glue/SST-2/train.tsv" > "$work/train.tsv"
mkdir -p "$work/data" && mv "$work/train.tsv" "$work/data/"
"$pkd" tokenize --task SST-2 --data-dir "$work/data" --vocab "$root/data/vocab/vocab.txt" \
  --out "$work/tokens" > /dev/null 2>&1
model=$root/tests/data/bert/random-4L-64H
train=(finetune --init "$model" --train "$work/tokens/train" --epochs 50 --batch-size 8)

# 1. Rank loss.
mpirun_local -np 2 "$pkd" "${train[@]}" --output-dir "$work/ranks" > "$work/ranks.log" 2>&1 &
job=$!
for _ in $(seq 100); do  # until both ranks train
  grep -q "step " "$work/ranks.log" 2>/dev/null && break
  sleep 0.2
done
victim=$(pgrep -f -- "--output-dir $work/ranks" | grep -v "^$job$" | tail -1)
start=$(date +%s.%N)
kill -9 "$victim"
code=0
wait "$job" || code=$?
echo "rank loss: kill -9 of pid $victim; mpirun exited with $code after" \
  "$(echo "$(date +%s.%N) - $start" | bc) s"

# 2. Kill -9 during checkpoint writes (every step is a checkpoint).
complete=0
for k in $(seq "$kills"); do
  args=("${train[@]}" --checkpoint-every 1 --keep-checkpoints 2 --output-dir "$work/ckpt")
  [[ -e $work/ckpt/checkpoints/latest ]] && args+=(--resume)
  "$pkd" "${args[@]}" > "$work/ckpt.log" 2>&1 &
  run=$!
  sleep "$(echo "scale=2; 1.5 + $RANDOM / 32767 * 2" | bc)"
  kill -9 "$run" 2> /dev/null || true
  wait "$run" 2> /dev/null || true
  latest=$(cat "$work/ckpt/checkpoints/latest" 2> /dev/null || echo none)
  dir=$work/ckpt/checkpoints/$latest
  if [[ -f $dir/trainer_state.json && -f $dir/model.safetensors && -f $dir/optimizer.safetensors &&
    -f $dir/config.toml && -f $dir/config.json ]]; then
    complete=$((complete + 1))
  else
    echo "kill $k: latest = $latest is not a complete checkpoint"
  fi
done
"$pkd" "${train[@]}" --checkpoint-every 1 --keep-checkpoints 2 --output-dir "$work/ckpt" \
  --resume --stop-after-steps 1 > "$work/resume.log" 2>&1 || true
grep -q "resuming from" "$work/resume.log" || { cat "$work/resume.log"; exit 1; }
echo "kill -9 during checkpoint writes: $complete of $kills kills left a complete 'latest';" \
  "the last one resumed: $(grep -o "resuming from.*" "$work/resume.log")"
