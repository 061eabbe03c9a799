#!/usr/bin/env bash
# Teacher caching: `pkd cache-teacher` (length-sorted batches, dynamic padding) vs the seed's way
# (PyTorch eager, every batch padded to 128), the same random BERT-base teacher, the same SST-2
# train sentences and thread count, in one invocation. Prints seq/s and the ratio, and checks
# that both computed the same logits.
# Usage: bench/run_cache_bench.sh [THREADS] [EXAMPLES] [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
threads=${1:-2}
examples=${2:-512}
build=${3:-$root/build}
work=$build/bench-cache
source "$root/bench/bert_base_inputs.sh"
rm -rf "$work/features"
sst2_tokens "$work" "$examples"
start=$(date +%s.%N)
"$build/bin/pkd" cache-teacher --model "$teacher" --tokens "$work/tokens/train" --out "$work/features" \
  --dtype float32 --batch-size 32 --intra-op-threads "$threads" --log-level warn
end=$(date +%s.%N)
ref=$(/usr/bin/python3 "$root/tools/bert_reference.py" --cache-bench "$work/tokens/train" "$teacher" \
      --threads "$threads" --batch 32 --compare "$work/features")
echo "$ref"
/usr/bin/python3 - "$start" "$end" "$examples" "$threads" "$ref" <<'PY'
import json, sys
seconds = float(sys.argv[2]) - float(sys.argv[1])
n, threads = int(sys.argv[3]), int(sys.argv[4])
ref = json.loads(sys.argv[5].splitlines()[0])
ours = n / seconds
print(f"pkd cache-teacher {ours:.2f} seq/s (whole command: load, forward, write), "
      f"PyTorch eager padded to 128 {ref['seq_per_s']:.2f} seq/s (forward only), {threads} threads: "
      f"ratio {ours / ref['seq_per_s']:.1f}x")
PY
