#!/usr/bin/env bash
# Distillation throughput, BERT-base shapes (12-layer teacher, 6-layer student initialised from
# its first 6 layers, hidden 768), PKD-Skip loss, global batch 32, the first EXAMPLES sentences
# of the real SST-2 train split, one invocation:
#   1. the seed's loop in PyTorch eager (tools/bert_reference.py --distill-bench): the teacher
#      run online every step, every batch padded to 128;
#   2. pkd distill --online-teacher (the teacher every step, dynamic padding);
#   3. pkd distill from cached features (pkd cache-teacher, timed separately: a one-time cost
#      shared by every run of a sweep), one whole epoch;
#   4. cached, 2 ranks x 1 thread against 1 rank x 1 thread (mpirun, same global batch).
# 1-3 use THREADS intra-op threads. Prints examples/s, seconds per SST-2 epoch and the ratios.
# Usage: bench/run_distill_bench.sh [THREADS] [EXAMPLES] [SEED_STEPS] [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
threads=${1:-2}
examples=${2:-2048}
seed_steps=${3:-3}
build=${4:-$root/build}
work=$build/bench-distill
source "$root/tests/mpi/common.sh"
source "$root/bench/bert_base_inputs.sh"
rm -rf "$work"
sst2_tokens "$work" "$examples"
common=(distill --teacher "$teacher" --train "$work/tokens/train" --student-layers 6 --batch-size 32
        --epochs 1 --alpha 0.5 --beta 100 --temperature 10 --layer-map skip --learning-rate 5e-5
        --log-every 100000 --log-level warn)

echo "1/4 seed loop, PyTorch eager ($seed_steps timed steps after 1 warm-up) ..."
/usr/bin/python3 "$root/tools/bert_reference.py" --distill-bench "$work/tokens/train" "$teacher" \
  --threads "$threads" --warmup 1 --steps "$seed_steps" > "$work/seed.json"
echo "2/4 pkd distill --online-teacher (8 steps) ..."
"$build/bin/pkd" "${common[@]}" --online-teacher --max-steps 8 --intra-op-threads "$threads" \
  --output-dir "$work/online" > /dev/null
echo "3/4 pkd cache-teacher + pkd distill (cached features, one epoch) ..."
start=$(date +%s.%N)
"$build/bin/pkd" cache-teacher --model "$teacher" --tokens "$work/tokens/train" --out "$work/features" \
  --dtype float32 --batch-size 64 --intra-op-threads "$threads" --log-level warn
end=$(date +%s.%N)
echo "$start $end" > "$work/cache.seconds"
"$build/bin/pkd" "${common[@]}" --features "$work/features" --intra-op-threads "$threads" \
  --output-dir "$work/cached" > /dev/null
echo "4/4 cached: 1 rank x 1 thread, then 2 ranks x 1 thread (32 steps each) ..."
"$build/bin/pkd" "${common[@]}" --features "$work/features" --intra-op-threads 1 --max-steps 32 \
  --output-dir "$work/1x1" > /dev/null
mpirun_local -np 2 "$build/bin/pkd" "${common[@]}" --features "$work/features" --intra-op-threads 1 \
  --max-steps 32 --output-dir "$work/2x1" > /dev/null

/usr/bin/python3 - "$work" "$threads" "$examples" <<'PY'
import json, sys
work, threads, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
epoch = 67349  # SST-2 train sentences
seed = json.load(open(f"{work}/seed.json"))
rate = {k: json.loads(open(f"{work}/{k}/metrics.jsonl").readline())["examples_per_s"]
        for k in ("online", "cached", "1x1", "2x1")}
start, end = map(float, open(f"{work}/cache.seconds").read().split())
cache_rate = n / (end - start)
with_cache = 1 / (1 / rate["cached"] + 1 / cache_rate)  # one run paying the whole cache
hours = lambda r: epoch / r / 3600
print(f"distillation, 12-layer teacher -> 6-layer student, hidden 768, batch 32, {threads} threads, "
      f"first {n} SST-2 train sentences:")
print(f"  seed loop (PyTorch eager, online, padded to 128) {seed['examples_per_s']:8.2f} ex/s  "
      f"{hours(seed['examples_per_s']):6.2f} h/epoch")
for key, name in (("online", "pkd --online-teacher"), ("cached", "pkd, cached features")):
    print(f"  {name:47s} {rate[key]:8.2f} ex/s  {hours(rate[key]):6.2f} h/epoch  "
          f"ratio {rate[key] / seed['examples_per_s']:5.1f}x")
print(f"  {'pkd cache-teacher (once per teacher)':47s} {cache_rate:8.2f} ex/s  {hours(cache_rate):6.2f} h")
print(f"  {'pkd, one run paying the whole cache':47s} {with_cache:8.2f} ex/s  {hours(with_cache):6.2f} h/epoch  "
      f"ratio {with_cache / seed['examples_per_s']:5.1f}x")
print(f"  cached, 1 rank x 1 thread {rate['1x1']:.2f} ex/s, 2 ranks x 1 thread {rate['2x1']:.2f} ex/s: "
      f"ratio {rate['2x1'] / rate['1x1']:.2f}x")
PY
