#!/usr/bin/env bash
# The NCCL reducer on 2 real MPI ranks without a GPU: the unique-id rendezvous over MPI, and a
# clean refusal of the nccl backend on every rank (skipped, exit 77, where a GPU exists).
# Usage: nccl_np2.sh CHECK_BINARY
source "$(dirname "$0")/common.sh"
run() { timeout 120 bash -c "$(declare -f mpirun_local); mpirun_local -np 2 '$1' $2"; }
run "$1" rendezvous
rc=0
run "$1" no-gpu || rc=$?
exit $rc
