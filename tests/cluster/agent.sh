#!/usr/bin/env bash
# Open MPI's launch agent into the test hosts, in place of ssh (plm_rsh_agent): mpirun runs
#   agent.sh HOST COMMAND-LINE...
# to start its daemon on HOST; the words form one shell command line, as ssh would pass them.
# Needs PKD_HOSTS_DIR (exported by hosts_start, inherited through mpirun's environment).
set -euo pipefail
source "$(dirname "$0")/hosts.sh"
host=$1
shift
host_run "$host" bash -c "$*"
