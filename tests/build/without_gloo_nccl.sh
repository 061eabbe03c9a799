#!/usr/bin/env bash
# Build check `build.without_gloo_nccl`: a build with neither optional reducer
# (-DPKD_WITH_GLOO=OFF -DPKD_WITH_NCCL=OFF, as on a machine without Gloo headers and without
# NCCL) still builds and says which reducers it has (issue #13). CI's own build has both, so
# this configures a second build tree and, instead of building all of it (15 minutes here),
# checks what differs:
#   - CMake reports "gloo OFF; nccl OFF" and leaves gloo_reducer.cpp, nccl_reducer.cpp out;
#   - the code that picks a reducer (src/parallel/) and `pkd --version`'s list (tools/pkd/main.cpp)
#     compile with PKD_WITH_GLOO=0 and PKD_WITH_NCCL=0;
#   - their objects reference no Gloo or NCCL symbol, so that they link without either.
# A whole build of this kind (every target, `pkd --version` printing "gradient reducers: mpi",
# the MPI tests passing) was checked by hand on 2026-12-01 (docs/cluster.md).
# Usage: without_gloo_nccl.sh SOURCE_DIR
set -euo pipefail
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
fail() {
  echo "FAIL: $*"
  status=1
}
if ! cmake -S "$src" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release -DPKD_WITH_GLOO=OFF \
  -DPKD_WITH_NCCL=OFF -DPKD_BUILD_TESTS=OFF -DPKD_BUILD_BENCH=OFF >"$tmp/configure.log" 2>&1; then
  tail -30 "$tmp/configure.log"
  echo "FAIL: cmake could not configure a build without Gloo and NCCL"
  exit 1
fi
summary=$(grep "pkd: CUDA" "$tmp/configure.log" || true)
echo "configure: ${summary#-- }"
[[ $summary == *"reducers: mpi; gloo OFF; nccl OFF"* ]] ||
  fail "the configure summary does not say 'reducers: mpi; gloo OFF; nccl OFF'"
# The translation units to compile, from the new tree's compile_commands.json; exits non-zero
# when an optional reducer's unit is still in the build.
mkdir -p "$tmp/obj"
python3 - "$tmp/build/compile_commands.json" "$src" "$tmp/obj" >"$tmp/commands" <<'PY' || status=1
import json, os, shlex, sys
database, src, obj = sys.argv[1], os.path.realpath(sys.argv[2]), sys.argv[3]
bad = 0
for e in json.load(open(database)):
    rel = os.path.relpath(os.path.realpath(e["file"]), src)
    if os.path.basename(rel) in ("gloo_reducer.cpp", "nccl_reducer.cpp"):
        print(f"FAIL: {rel} is in a build without its reducer", file=sys.stderr)
        bad = 1
    if not (rel.startswith("src/parallel/") or rel == "tools/pkd/main.cpp"):
        continue
    args = shlex.split(e["command"])
    i = args.index("-o")
    args[i + 1] = os.path.join(obj, rel.replace("/", "_") + ".o")
    print(shlex.quote(e["directory"]) + "\t" + shlex.join(args))
sys.exit(bad)
PY
[[ -s $tmp/commands ]] || fail "no src/parallel/ unit in the new tree's compile_commands.json"
compile() {  # compile DIR COMMAND: one unit, its errors shown
  cd "$1" && eval "$2" 2>&1 | tail -40
  return "${PIPESTATUS[0]}"
}
export -f compile
if ! tr '\t' '\n' <"$tmp/commands" | xargs -d '\n' -n 2 -P "$(nproc)" bash -c 'compile "$1" "$2"' _; then
  fail "a unit does not compile with PKD_WITH_GLOO=0 and PKD_WITH_NCCL=0 (errors above)"
fi
echo "compiled: $(ls "$tmp/obj" | tr '\n' ' ')"
undefined=$(nm -C --undefined-only "$tmp"/obj/*.o | grep -E "gloo|nccl|Gloo|Nccl" || true)
[[ -z $undefined ]] || fail "objects built without Gloo and NCCL still reference them:"$'\n'"$undefined"
((status == 0)) && echo "PASS: a build without Gloo and NCCL configures, compiles its reducer choice and needs neither"
exit $status
