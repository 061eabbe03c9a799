#!/usr/bin/env bash
# Build check `build.without_gloo_nccl`: a build with neither optional reducer
# (-DPKD_WITH_GLOO=OFF -DPKD_WITH_NCCL=OFF, as on a machine without Gloo headers and without
# NCCL) still builds and says which reducers it has (issue #13). CI's own build has both, so
# this configures a second build tree and, instead of building all of it (15 minutes here),
# checks what differs:
#   - CMake reports "gloo OFF; nccl OFF" and leaves gloo_reducer.cpp, nccl_reducer.cpp out;
#   - the reducer library (src/parallel/) links into tests/mpi/allreduce_check.cpp, which on 2
#     real MPI ranks sums with the MPI reducer and finds gloo and nccl refused by
#     ReduceConfig::validate, naming what the build has ("it has: mpi");
#   - `pkd --version`'s list (tools/pkd/main.cpp) compiles with PKD_WITH_GLOO=0 and
#     PKD_WITH_NCCL=0, and neither it nor the reducer library references a Gloo or NCCL symbol.
# A whole build of this kind (every target, `pkd --version` printing "gradient reducers: mpi",
# the MPI tests passing) was checked by hand on 2026-12-01 (docs/cluster.md).
# Usage: without_gloo_nccl.sh SOURCE_DIR
set -euo pipefail
src=$1
source "$src/tests/mpi/common.sh"
set +e  # common.sh sets -e; this script reports every failure
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
fail() {
  echo "FAIL: $*"
  status=1
}
if ! cmake -S "$src" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release -DPKD_WITH_GLOO=OFF \
  -DPKD_WITH_NCCL=OFF -DPKD_BUILD_BENCH=OFF >"$tmp/configure.log" 2>&1; then
  tail -30 "$tmp/configure.log"
  echo "FAIL: cmake could not configure a build without Gloo and NCCL"
  exit 1
fi
summary=$(grep "pkd: CUDA" "$tmp/configure.log" || true)
echo "configure: ${summary#-- }"
[[ $summary == *"reducers: mpi; gloo OFF; nccl OFF"* ]] ||
  fail "the configure summary does not say 'reducers: mpi; gloo OFF; nccl OFF'"
# main.cpp's compile command, from the new tree's compile_commands.json; exits non-zero when an
# optional reducer's unit is still in the build.
mkdir -p "$tmp/obj"
python3 - "$tmp/build/compile_commands.json" "$src" "$tmp/obj/main.o" >"$tmp/main_command" <<'PY' || status=1
import json, os, shlex, sys
database, src, obj = sys.argv[1], os.path.realpath(sys.argv[2]), sys.argv[3]
bad = 0
for e in json.load(open(database)):
    rel = os.path.relpath(os.path.realpath(e["file"]), src)
    if os.path.basename(rel) in ("gloo_reducer.cpp", "nccl_reducer.cpp"):
        print(f"FAIL: {rel} is in a build without its reducer", file=sys.stderr)
        bad = 1
    if rel == "tools/pkd/main.cpp":
        args = shlex.split(e["command"])
        args[args.index("-o") + 1] = obj
        print("cd " + shlex.quote(e["directory"]) + " && " + shlex.join(args))
sys.exit(bad)
PY
[[ -s $tmp/main_command ]] || fail "no tools/pkd/main.cpp in the new tree's compile_commands.json"
jobs=$(nproc)
(bash "$tmp/main_command" >"$tmp/main.log" 2>&1) &
main_pid=$!
if ! cmake --build "$tmp/build" --target pkd_allreduce_check -j "$jobs" >"$tmp/build.log" 2>&1; then
  grep -E "error|Error" "$tmp/build.log" | head -40
  fail "the reducer library and its MPI check do not build with PKD_WITH_GLOO=0 and PKD_WITH_NCCL=0"
fi
wait "$main_pid" || {
  tail -40 "$tmp/main.log"
  fail "tools/pkd/main.cpp does not compile with PKD_WITH_GLOO=0 and PKD_WITH_NCCL=0"
}
check=$tmp/build/tests/pkd_allreduce_check
if [[ -x $check ]]; then
  timeout 120 bash -c "$(declare -f mpirun_local); mpirun_local -np 2 '$check'" >"$tmp/check.log" 2>&1
  rc=$?
  cat "$tmp/check.log"
  ((rc == 0)) || fail "the MPI reducer check failed in a build without Gloo and NCCL (exit $rc)"
  for line in "PASS: nccl refused by a build without it" "PASS: gloo refused by a build without it" \
    "PASS: mpi allreduce_mean, allreduce_sum, broadcast on 2 ranks"; do
    grep -qF "$line" "$tmp/check.log" || fail "the check did not print '$line'"
  done
fi
library=$(find "$tmp/build/src/parallel" -name 'libpkd_parallel.a' | head -1)
[[ -n $library ]] || fail "no libpkd_parallel.a in the new tree"
undefined=$(nm -C --undefined-only $library "$tmp"/obj/*.o 2>/dev/null | grep -E "gloo|nccl|Gloo|Nccl" || true)
[[ -z $undefined ]] || fail "objects built without Gloo and NCCL still reference them:"$'\n'"$undefined"
((status == 0)) && echo "PASS: a build without Gloo and NCCL configures, sums with MPI, refuses gloo and nccl and needs neither"
exit $status
