#!/usr/bin/env bash
# A rank that fails brings the whole MPI job down with its message: no hang, non-zero exit.
# Rank 1 owns shard 1 of dev; a directory squatting on that shard's name makes only it fail,
# while rank 0 finishes its own shard and waits for the others.
# Usage: failing_rank.sh PKD_BINARY SOURCE_DIR
source "$(dirname "$0")/common.sh"
pkd=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/out/dev/shard-00001.h5"
set +e
timeout 60 bash -c "$(declare -f mpirun_local); mpirun_local -np 2 '$pkd' tokenize --task SST-2 \
  --data-dir '$src/data/glue/SST-2' --splits dev --vocab '$src/data/vocab/vocab.txt' \
  --out '$work/out' --shard-size 500" > "$work/log" 2>&1
code=$?
set -e
cat "$work/log"
if [[ $code -eq 124 ]]; then echo "FAIL: the job hung (killed after 60 s)"; exit 1; fi
if [[ $code -eq 0 ]]; then echo "FAIL: the job succeeded although rank 1 could not write"; exit 1; fi
grep -q "r1/2 ERROR" "$work/log" || { echo "FAIL: rank 1's error message is missing"; exit 1; }
grep -q "shard-00001.h5" "$work/log" || { echo "FAIL: the message does not name the file"; exit 1; }
[[ ! -e "$work/out/dev/manifest.json" ]] || { echo "FAIL: a manifest was written"; exit 1; }
echo "PASS: failing rank stopped the job (exit $code)"
