#!/usr/bin/env bash
# Gradient sums overlapped with backward (parallel.overlap, parallel/overlapped_sum.h) against
# summing after backward (the reference, --no-overlap), in the same run, on a network that is
# the bottleneck: one rank on each of two test hosts (network namespaces on a bridge,
# tests/cluster/hosts.sh), each host's link shaped to RATE by a tc token bucket (tbf), Gloo
# across them, launched by mpirun through the namespaces' launch agent (RATE local: both ranks
# on this host instead, Gloo over loopback). The model is a 6-layer
# BERT-base student (hidden 768, 43.6M dense parameters: ~175 MB of gradients per step, the
# word embedding summed row by row), fine-tuned from random weights on the first 1,024 real
# SST-2 sentences, global batch 32, 1 intra-op thread per rank. Runs alternate (reference,
# overlapped, reference, overlapped) to spread the VM's drift. Prints examples/s, the step's
# phases (metrics.jsonl step_seconds, rank 0) and the ratio. Root only.
# Usage: bench/run_overlap_bench.sh [RATE] [STEPS] [BUILD_DIR]
#   RATE as tc writes it (default 1gbit), or none: the veths unshaped (as fast as this VM copies),
#   or local: both ranks on this host (loopback, no test hosts).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rate=${1:-1gbit}
steps=${2:-8}
build=${3:-$root/build}
source "$root/tests/cluster/hosts.sh"
source "$root/tests/mpi/common.sh"
dir=$(mktemp -d)
trap 'hosts_stop; rm -rf "$dir"' EXIT
if [[ $rate != local ]]; then
  hosts_start "$dir/hosts" 2 > /dev/null
  tag=$(< "$dir/hosts/tag")
  # The bridge's end of each host's veth pair: its egress is the host's ingress. Shaping both
  # shapes both directions of every rank-to-rank connection.
  if [[ $rate != none ]]; then
    for i in 1 2; do
      tc qdisc add dev "${tag}v$i" root tbf rate "$rate" burst 1mb latency 200ms
    done
  fi
fi
mkdir -p "$dir/data"
head -n 1025 "$root/data/glue/SST-2/train.tsv" > "$dir/data/train.tsv"
"$build/bin/pkd" tokenize --task SST-2 --data-dir "$dir/data" --vocab "$root/data/vocab/vocab.txt" \
  --out "$dir/tokens" --log-level warn > /dev/null
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader,tcp
args=(finetune --init random --train "$dir/tokens/train" --hidden-size 768 --num-hidden-layers 6
      --num-attention-heads 12 --intermediate-size 3072 --batch-size 32 --max-steps "$steps"
      --learning-rate 5e-5 --intra-op-threads 1 --backend gloo --log-every 100000 --log-level warn)
run() {  # NAME FLAG
  if [[ $rate == local ]]; then
    mpirun_local -np 2 "$build/bin/pkd" "${args[@]}" "$2" --output-dir "$dir/$1" > /dev/null
  else
    hosts_mpirun "$build/bin/pkd" "${args[@]}" "$2" --output-dir "$dir/$1" || true
  fi
  [[ -f $dir/$1/metrics.jsonl ]] || { echo "run $1 failed"; exit 1; }
}
echo "== 2 ranks (RATE $rate: on two hosts, shaped or none; local: one host), $steps steps of 32 (6-layer BERT-base, Gloo)"
for round in 1 2; do
  echo "round $round: after backward (--no-overlap) ..."
  run "after$round" --no-overlap
  echo "round $round: overlapped (--overlap) ..."
  run "overlap$round" --overlap
done
/usr/bin/python3 - "$dir" <<'PY'
import json, sys
def epoch(path):
    rows = [json.loads(l) for l in open(path + "/metrics.jsonl") if '"kind":"epoch"' in l]
    return rows[-1]
res = {}
for name in ("after", "overlap"):
    runs = [epoch(f"{sys.argv[1]}/{name}{r}") for r in (1, 2)]
    res[name] = runs
    eps = [r["examples_per_s"] for r in runs]
    ph = {k: sum(r["step_seconds"][k] for r in runs) / 2 for k in runs[0]["step_seconds"]}
    print(f"{name:8s} {eps[0]:6.2f} / {eps[1]:6.2f} ex/s; per step: forward+backward "
          f"{ph['forward_backward']:.3f} s, all-reduce wait {ph['all_reduce']:.3f} s, "
          f"optimizer {ph['optimizer']:.3f} s")
a = sum(r["examples_per_s"] for r in res["after"]) / 2
o = sum(r["examples_per_s"] for r in res["overlap"]) / 2
print(f"overlapped / after backward: {o / a:.2f}x examples/s")
PY
