#!/usr/bin/env bash
# Gradient all-reduce across two hosts: `pkd_bench_allreduce` (Gloo vs MPI_Allreduce, the same
# buffer, both in one run) with one rank on each of two test hosts (network namespaces on a
# bridge, tests/cluster/hosts.sh: TCP through veth pairs, no shared memory between the ranks),
# launched by mpirun through the namespaces' launch agent; then the same on one host (loopback
# and Open MPI's shared memory), for comparison. Root only.
# Usage: bench/run_allreduce_hosts_bench.sh [SIZE_MB] [ITERS] [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
size=${1:-100}
iters=${2:-5}
build=${3:-$root/build}
source "$root/tests/cluster/hosts.sh"
source "$root/tests/mpi/common.sh"
dir=$(mktemp -d)
trap 'hosts_stop; rm -rf "$dir"' EXIT
hosts_start "$dir" 2 > /dev/null
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader,tcp
echo "== two hosts, one rank each ($PKD_HOSTS_NET)"
hosts_mpirun "$build/bin/pkd_bench_allreduce" "$size" "$iters"
echo "== one host, two ranks"
mpirun_local -np 2 "$build/bin/pkd_bench_allreduce" "$size" "$iters"
