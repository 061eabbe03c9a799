# shellcheck shell=bash
# Sourced by the multi-node tests (tests/cluster/*_test.sh): a 2-host Slurm cluster in network
# namespaces (tests/slurm/cluster.sh with PKD_SLURM_HOSTS=2), real GLUE rows, tiny configs and
# helpers for jobs submitted through the real jobs/slurm scripts.
#
#   mn_setup PKD_BINARY SOURCE_DIR   root check (exit 77 = skipped), $tmp, the cluster, $work
#                                    with SST-2 rows and tokens; exports what jobs inherit
#   mn_submit NAME SBATCH_ARGS... -- SCRIPT ARGS...
#                                    sbatch in $work, output in $work/logs/NAME.out; prints the id
#   mn_wait_ok ID NAME [SECS]        waits; FAIL with the job's output unless it COMPLETED
#   mn_max_diff A.safetensors B...   prints the largest |a - b| over all tensors
#   mn_job_nodes ID                  NodeList of job ID (pkdn[1-2], pkdn2...)
#   fail MESSAGE                     prints MESSAGE and the jobs' logs, exits 1
set -euo pipefail

fail() {
  echo "FAIL: $*" >&2
  local f
  for f in "${work:-/nonexistent}"/logs/*.out; do [[ -f $f ]] && { echo "== $f" >&2; tail -n 20 "$f" >&2; }; done
  exit 1
}

mn_setup() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: network namespaces and slurmd need root (CI runs as root)"
    exit 77
  fi
  pkd=$(readlink -f "$1")
  root=$(readlink -f "$2")
  source "$root/tests/slurm/cluster.sh"
  tmp=$(mktemp -d /tmp/pkd-multinode.XXXXXX)
  work=$tmp/work
  mkdir -p "$work/logs" "$work/glue/SST-2"
  trap 'slurm_stop; rm -rf "$tmp"' EXIT
  # 2 CPUs per node, as many as this machine has: a 2-rank job needs both nodes or all of one.
  PKD_SLURM_HOSTS=2 PKD_SLURM_CPUS=2 slurm_start "$tmp/slurm"
  # Jobs inherit the submitting environment (sbatch --export=ALL): the binary, and Open MPI's TCP
  # transports on the cluster network only (never the machine's own interfaces or loopback).
  export PKD_BIN=$pkd PKD_ROOT=$root
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader,tcp
  export OMPI_MCA_btl_tcp_if_include=$PKD_HOSTS_NET OMPI_MCA_oob_tcp_if_include=$PKD_HOSTS_NET
  head -n 241 "$root/data/glue/SST-2/train.tsv" > "$work/glue/SST-2/train.tsv"
  head -n 81 "$root/data/glue/SST-2/dev.tsv" > "$work/glue/SST-2/dev.tsv"
  head -n 41 "$root/data/glue/SST-2/test.tsv" > "$work/glue/SST-2/test.tsv"
}

mn_submit() {
  local name=$1 args=()
  shift
  while [[ $1 != -- ]]; do args+=("$1"); shift; done
  shift
  rm -f "$work/logs/$name.out"
  sbatch --parsable --chdir="$work" --time=00:10:00 --output="$work/logs/$name.out" \
    "${args[@]}" "$@" || fail "sbatch refused $name"
}

mn_wait_ok() {
  local id=$1 name=$2 secs=${3:-180} state
  slurm_wait_job "$id" "$secs" > /dev/null || fail "$name ($id) did not finish in $secs s"
  state=$(slurm_job_state "$id")
  [[ $state == COMPLETED ]] || fail "$name ($id) ended $state: $(tail -n 30 "$work/logs/$name.out")"
}

mn_max_diff() {
  /usr/bin/python3 - "$root/tools" "$@" << 'PY'
import sys
sys.path.insert(0, sys.argv[1])
from bert_reference import read_safetensors
a, b = read_safetensors(sys.argv[2]), read_safetensors(sys.argv[3])
if a.keys() != b.keys():
    sys.exit(f"different tensors: {sorted(a.keys() ^ b.keys())}")
print(f"{max((a[k].double() - b[k].double()).abs().max().item() for k in a):.2e}")
PY
}

mn_job_nodes() { slurm_job_field "$1" NodeList; }
