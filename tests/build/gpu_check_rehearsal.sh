#!/usr/bin/env bash
# Build check `build.gpu_check_rehearsal`: scripts/gpu-check.sh, the one-shot device check, run
# here on the CPU with this build (PKD_GPU_CHECK_DEVICE=cpu), so that a script error cannot
# first show on a lent GPU machine, whose time is scarce (one such error cost a check already).
# Its checks that need a GPU, NCCL on a GPU or `transformers` fail here as they should; every
# other check must pass, the results file must be complete, and the log must show no shell
# error.
# Usage: gpu_check_rehearsal.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
build=$1 src=$2
python=/usr/bin/python3  # Debian's, with python3-torch and python3-h5py (scripts/setup.sh)
if ! "$python" -c 'import torch, h5py' 2>/dev/null; then
  echo "SKIP: $python lacks torch or h5py (scripts/setup.sh installs python3-torch, python3-h5py)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The script's own deadline is for an H200; the CPU run shares this machine with other tests.
PATH=/usr/bin:$PATH PKD_GPU_CHECK_DEVICE=cpu PKD_GPU_BUILD=$build PKD_GPU_SKIP_BUILD=1 \
  PKD_GPU_BENCH_EXAMPLES=256 PKD_GPU_WORK=$tmp/work PKD_GPU_DEADLINE_S=1500 \
  bash "$src/scripts/gpu-check.sh" "$tmp/out" >"$tmp/stdout" 2>&1
rc=$?
results=$tmp/out/gpu-check.txt
status=0
fail() {
  echo "FAIL: $*"
  status=1
}
cat "$results"
tail -1 "$results" | grep -qE "^total [0-9]+ s, [0-9]+ failed$" || fail "the results file does not end with its total line"
((rc != 0)) || fail "exit status 0 on a CPU, where the GPU checks fail"
# What cannot pass without a GPU (CUDA graphs, NCCL on a GPU, float16 autocast) or without
# transformers (the seed loop, the HF export check).
allowed='graph|seed|nccl|float16|transformers|2 ranks on 1 GPU'
unexpected=$(grep -E "^FAIL" "$results" | grep -vE "$allowed")
[[ -z $unexpected ]] || fail "checks that should pass on a CPU failed:"$'\n'"$unexpected"
passed=$(grep -cE "^PASS" "$results")
((passed >= 22)) || fail "only $passed checks passed, expected at least 22"
shell_errors=$(grep -nE "command not found|unbound variable|syntax error|bad substitution" \
  "$tmp/out/gpu-check.log" "$tmp/stdout" | grep -v "nvidia-smi")
[[ -z $shell_errors ]] || fail "shell errors in the script's log:"$'\n'"$shell_errors"
((status == 0)) && echo "PASS: the device check runs to its end on a CPU ($passed checks passed)"
exit $status
