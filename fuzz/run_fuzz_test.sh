#!/usr/bin/env bash
# Runs one libFuzzer target the way the test suite and scripts/fuzz.sh do.
#   run_fuzz_test.sh FUZZER NAME REPO_ROOT WORK_DIR SECONDS [FRESH]
# SECONDS = 0: replay only -- every kept regression input (fuzz/regressions/NAME/, not pending/)
#   and every seed (fuzz/corpus/NAME/) runs once and must pass.
# SECONDS > 0: fuzz for that long from a copy of the seeds in WORK_DIR/corpus (new inputs are
#   written there, never into the source tree); a crash is saved under WORK_DIR/artifacts/.
#   FRESH=1 (the tests) empties WORK_DIR first; scripts/fuzz.sh keeps it so runs accumulate.
# Exit 77 (skipped) when FUZZER was not built.
set -euo pipefail
fuzzer=$1 name=$2 root=$3 work=$4 seconds=$5 fresh=${6:-1}
if [[ ! -x $fuzzer ]]; then
  echo "fuzz.$name: $fuzzer was not built; skipped"
  exit 77
fi
seeds=$root/fuzz/corpus/$name
regressions=$root/fuzz/regressions/$name
[[ $fresh == 1 ]] && rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/fuzz/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
opts=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -artifact_prefix="$work/artifacts/")

if [[ $seconds == 0 ]]; then
  inputs=()
  [[ -d $regressions ]] && while IFS= read -r f; do inputs+=("$f"); done \
    < <(find "$regressions" -maxdepth 1 -type f ! -name '*.md' | sort)
  [[ -d $seeds ]] && while IFS= read -r f; do inputs+=("$f"); done \
    < <(find "$seeds" -maxdepth 1 -type f | sort)
  echo "fuzz.$name: replaying ${#inputs[@]} inputs (regressions + seeds)"
  ((${#inputs[@]})) || exit 0
  # Files as arguments: libFuzzer runs each once and stops at the first failure.
  "$fuzzer" "${opts[@]}" "${inputs[@]}" > "$work/replay.log" 2>&1 || {
    tail -n 60 "$work/replay.log"
    echo "fuzz.$name: a kept input fails (log: $work/replay.log)"
    exit 1
  }
  echo "fuzz.$name: all ${#inputs[@]} inputs pass"
  exit 0
fi

[[ -d $seeds ]] && cp -r "$seeds/." "$work/corpus/"
echo "fuzz.$name: fuzzing for ${seconds}s from $(find "$work/corpus" -type f | wc -l) inputs in $work/corpus"
status=0
"$fuzzer" "${opts[@]}" -max_total_time="$seconds" -print_final_stats=1 "$work/corpus" \
  > "$work/fuzz.log" 2>&1 || status=$?
grep -E '^#[0-9]+ +(INITED|DONE)|^stat::|^Done ' "$work/fuzz.log" || true
if ((status != 0)); then
  tail -n 80 "$work/fuzz.log"
  echo "fuzz.$name: FAILED (exit $status); the input is in $work/artifacts/:"
  ls -l "$work/artifacts/"
  exit 1
fi
