#!/usr/bin/env bash
# BERT forward throughput: pkd (LibTorch, C++) vs PyTorch eager (Python, same LibTorch version),
# BERT-base shape, random weights, float32, batch 32, lengths 32 and 128, the same thread count,
# in one invocation. Prints both results and the ratio per length.
# Usage: bench/run_bert_forward_bench.sh [THREADS] [ITERS] [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
threads=${1:-2}
iters=${2:-5}
build=${3:-$root/build}
args=(--threads "$threads" --iters "$iters" --lengths 32,128 --batch 32)
pkd=$("$build/bin/pkd_bench_bert_forward" "${args[@]}")
ref=$(/usr/bin/python3 "$root/tools/bert_reference.py" --bench "${args[@]}")
echo "$pkd"
echo "$ref"
/usr/bin/python3 - "$pkd" "$ref" <<'PY'
import json, sys
pkd = {r["length"]: r for r in map(json.loads, sys.argv[1].splitlines())}
ref = {r["length"]: r for r in map(json.loads, sys.argv[2].splitlines())}
for length in sorted(pkd):
    a, b = pkd[length], ref[length]
    print(f"length {length:4d}: pkd {a['seq_per_s']:8.2f} seq/s, PyTorch eager {b['seq_per_s']:8.2f} seq/s "
          f"({a['threads']} threads): ratio {a['seq_per_s'] / b['seq_per_s']:.2f}x")
PY
