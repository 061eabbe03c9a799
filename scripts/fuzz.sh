#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang++) and runs them for longer than the tests do.
#   scripts/fuzz.sh [TARGET|all] [SECONDS]     (defaults: all, 600)
# Targets: tsv tokenizer safetensors torch_bin config shards (one fuzz/fuzz_<name>.cpp each). Runs them
# one after another on one core. Nothing is written into the source tree: the build goes to
# PKD_FUZZ_BUILD (default /tmp/pkd-fuzz/build), the growing corpus, logs and crash inputs to
# PKD_FUZZ_WORK/<target> (default /tmp/pkd-fuzz/work/<target>; kept between runs, so a second
# run continues from the first one's corpus). First the kept regression inputs and seeds are
# replayed. A crash stops the run; its input is under .../<target>/artifacts/ (copy it to
# fuzz/regressions/<target>/ once fixed). See docs/fuzzing.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${1:-all}
seconds=${2:-600}
build=${PKD_FUZZ_BUILD:-/tmp/pkd-fuzz/build}
work=${PKD_FUZZ_WORK:-/tmp/pkd-fuzz/work}
cxx=${PKD_FUZZ_CXX:-$(command -v clang++ || true)}
[[ -n $cxx ]] || { echo "fuzz.sh: clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }

if [[ $target == all ]]; then
  targets=()
  for f in "$root"/fuzz/fuzz_*.cpp; do n=${f##*/fuzz_}; targets+=("${n%.cpp}"); done
else
  [[ -f $root/fuzz/fuzz_$target.cpp ]] || { echo "fuzz.sh: no fuzz/fuzz_$target.cpp" >&2; exit 1; }
  targets=("$target")
fi

cmake -S "$root/fuzz" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="${cxx/clang++/clang}" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
if [[ $target == all ]]; then
  cmake --build "$build" -j "$(nproc)"   # every target fuzz/CMakeLists.txt defines
else
  cmake --build "$build" -j "$(nproc)" --target "fuzz_$target"
fi

for t in "${targets[@]}"; do
  if [[ ! -x $build/fuzz_$t ]]; then
    echo "fuzz.sh: fuzz/fuzz_$t.cpp has no pkd_fuzz_target() in fuzz/CMakeLists.txt yet; skipped"
    continue
  fi
  bash "$root/fuzz/run_fuzz_test.sh" "$build/fuzz_$t" "$t" "$root" "$work/$t-replay" 0
  echo "fuzz.sh: $t for ${seconds}s on $(hostname), $(date -u +%FT%TZ)"
  bash "$root/fuzz/run_fuzz_test.sh" "$build/fuzz_$t" "$t" "$root" "$work/$t" "$seconds" 0
done
