#!/usr/bin/env bash
# `mpirun -np 2 pkd tokenize` writes the same shards (datasets) and manifest as one process.
# Usage: tokenize_np2.sh PKD_BINARY SOURCE_DIR
source "$(dirname "$0")/common.sh"
pkd=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
args=(tokenize --task SST-2 --data-dir "$src/data/glue/SST-2" --vocab "$src/data/vocab/vocab.txt" --shard-size 5000)
"$pkd" "${args[@]}" --out "$work/np1"
mpirun_local -np 2 "$pkd" "${args[@]}" --out "$work/np2" > "$work/np2.log" 2>&1 || { cat "$work/np2.log"; exit 1; }
cat "$work/np2.log"
grep -q "wrote 16 shards" "$work/np2.log" || { echo "FAIL: expected 16 shards written across ranks"; exit 1; }
status=0
for f in "$work"/np1/*/shard-*.h5; do
  g=${f/np1/np2}
  for ds in input_ids token_type_ids offsets labels example_ids; do
    h5diff -q "$f" "$g" "/$ds" "/$ds" || { echo "FAIL: $g:/$ds differs from one process"; status=1; }
  done
done
# Manifests agree on everything but creation times and file digests (attributes hold times).
for m in "$work"/np1/*/manifest.json; do
  /usr/bin/python3 - "$m" "${m/np1/np2}" <<'PY' || status=1
import json, sys
def strip(path):
    m = json.load(open(path))
    m.pop("created_utc")
    for s in m["shards"]:
        s.pop("sha256")
    return m
a, b = (strip(p) for p in sys.argv[1:3])
if a != b:
    print("FAIL: manifests differ:", sys.argv[1], sys.argv[2])
    sys.exit(1)
PY
done
[[ $status -eq 0 ]] && echo "PASS: 2 ranks == 1 rank"
exit $status
