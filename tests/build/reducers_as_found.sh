#!/usr/bin/env bash
# Build check `build.reducers_as_found`: the gradient reducers a build has (`pkd --version`)
# include every one whose dependencies this machine has, so that CI cannot go green with the
# NCCL reducer silently left out (CMake turns PKD_WITH_NCCL off when it does not find NCCL):
#   - nccl, where $CUDA_HOME (the CUDA toolkit, set on every machine of this project) has
#     include/nccl.h and lib/libnccl.so: CMake's own hints;
#   - gloo, where Debian's LibTorch has c10d's Gloo header and libgloo-dev is installed.
# Exits 77 (skipped) when the machine has neither, as a fresh Debian machine without CUDA.
# Usage: reducers_as_found.sh PKD_BINARY
set -euo pipefail
pkd=$1
version=$("$pkd" --version)
reducers=$(sed -n 's/.*gradient reducers: //p' <<<"$version")
[[ -n $reducers ]] || {
  echo "FAIL: 'pkd --version' names no gradient reducers:"
  echo "$version"
  exit 1
}
echo "$version"
expected=()
if [[ -n ${CUDA_HOME:-} && -f $CUDA_HOME/include/nccl.h ]] &&
  compgen -G "$CUDA_HOME/lib*/libnccl.so*" >/dev/null; then
  expected+=("nccl (CUDA_HOME=$CUDA_HOME has nccl.h and libnccl)")
fi
if [[ -f /usr/include/torch/csrc/distributed/c10d/ProcessGroupGloo.hpp &&
  -f /usr/include/gloo/config.h ]]; then
  expected+=("gloo (Debian's LibTorch with c10d Gloo headers, libgloo-dev)")
fi
((${#expected[@]})) || {
  echo "SKIP: neither NCCL (CUDA_HOME) nor Debian's Gloo headers on this machine"
  exit 77
}
status=0
for e in "${expected[@]}"; do
  name=${e%% *}
  if [[ ", $reducers," == *", $name,"* ]]; then
    echo "ok: $e"
  else
    echo "FAIL: this build lacks the $name reducer, although $e;" \
      "CMake did not find it (see the 'pkd: CUDA ..., reducers: ...' line of the configure" \
      "output) or it was turned off with -DPKD_WITH_${name^^}=OFF"
    status=1
  fi
done
exit $status
