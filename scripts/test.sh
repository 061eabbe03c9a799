#!/usr/bin/env bash
# The whole test suite: sets up the machine (Debian packages, as root), builds pkd and runs
# every test with CTest (unit, golden, CLI, real `mpirun -np 2`). .ci/run calls exactly this.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
build=${BUILD_DIR:-$root/build}
cd "$build"
ctest --output-on-failure -j "$(nproc)" --timeout 600
