#!/usr/bin/env bash
# A rank that hangs (SIGSTOP: alive, holding its connections, answering nothing) must not hang the
# job: the other rank's collective watchdog ends it after parallel.timeout_s with a message naming
# the call, the rank and the host, and mpirun brings the job down. For each backend: `mpi` (the
# watchdog fires in MPI_Allreduce) and `gloo` (Gloo's own timeout, or the watchdog in an MPI
# agreement, whichever the rank is in). (mpirun sends the stopped rank SIGCONT before SIGTERM:
# it may then print the same timeout.)
# Usage: hung_rank.sh PKD_BINARY SOURCE_DIR
source "$(dirname "$0")/common.sh"
pkd=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/data"
head -n 241 "$src/data/glue/SST-2/train.tsv" > "$work/data/train.tsv"
"$pkd" tokenize --task SST-2 --data-dir "$work/data" --vocab "$src/data/vocab/vocab.txt" \
  --out "$work/tokens" > /dev/null
backends=(mpi)
if "$pkd" --version | grep -q "gloo"; then
  backends+=(gloo)
else
  echo "SKIP: gloo (this build has no Gloo reducer)"
fi
for backend in "${backends[@]}"; do
  log=$work/$backend.log
  mpirun_local -np 2 "$pkd" finetune --init random --train "$work/tokens/train" --hidden-size 32 \
    --intermediate-size 64 --batch-size 8 --epochs 1000 --log-every 10 --intra-op-threads 1 \
    --output-dir "$work/$backend" --set parallel.backend=$backend --set parallel.timeout_s=3 \
    > "$log" 2>&1 &
  job=$!
  for _ in $(seq 300); do grep -q "step 30/" "$log" && break; sleep 0.1; done
  grep -q "step 30/" "$log" || { cat "$log"; echo "FAIL: $backend: training did not start"; exit 1; }
  victim=$(pgrep -f -- "--output-dir $work/$backend" | while read -r p; do
    tr '\0' '\n' < "/proc/$p/cmdline" | head -1 | grep -qx "$pkd" && echo "$p"; done | tail -1)
  start=$SECONDS
  kill -STOP "$victim"
  code=0
  timeout 60 tail --pid="$job" -f /dev/null || { kill -KILL "$victim"; echo "FAIL: $backend: the job hung"; exit 1; }
  wait "$job" || code=$?
  took=$((SECONDS - start))
  kill -KILL "$victim" 2> /dev/null || true
  ((code != 0)) || { cat "$log"; echo "FAIL: $backend: the job exited 0"; exit 1; }
  grep -E "ERROR.*(has not completed after 3 s \(parallel.timeout_s\)|Gloo all-reduce failed: .*Timed out)" "$log" ||
    { cat "$log"; echo "FAIL: $backend: no timeout message"; exit 1; }
  ((took <= 15)) || { cat "$log"; echo "FAIL: $backend: took $took s (timeout 3 s)"; exit 1; }
  echo "$backend: a hung rank brought the job down after ~$took s (exit $code)"
done
echo "PASS: a hung rank times out"
