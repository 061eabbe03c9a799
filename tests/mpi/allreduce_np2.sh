#!/usr/bin/env bash
# Gradient averaging on 2 real MPI ranks, Gloo and MPI backends.
# Usage: allreduce_np2.sh CHECK_BINARY
source "$(dirname "$0")/common.sh"
timeout 120 bash -c "$(declare -f mpirun_local); mpirun_local -np 2 '$1'"
