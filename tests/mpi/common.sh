# Sourced by the MPI tests: a reproducible local mpirun (as root too, loopback transports).
set -euo pipefail
mpirun_local() {
  local extra=()
  [[ $(id -u) -eq 0 ]] && extra+=(--allow-run-as-root)
  OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader,tcp OMPI_MCA_oob_tcp_if_include=lo \
    OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_rmaps_base_oversubscribe=1 \
    mpirun "${extra[@]}" --oversubscribe "$@"
}
# models_within SOURCE_DIR A.safetensors B.safetensors TOLERANCE WHAT: prints the largest
# parameter difference of two models; fails (with WHAT) when it is over TOLERANCE. Python with
# torch: $PKD_PYTHON, else Debian's (scripts/setup.sh installs python3-torch).
models_within() {
  "${PKD_PYTHON:-/usr/bin/python3}" - "$@" <<'PY'
import sys
sys.path.insert(0, sys.argv[1] + "/tools")
from bert_reference import read_safetensors
a, b = read_safetensors(sys.argv[2]), read_safetensors(sys.argv[3])
if a.keys() != b.keys():
    sys.exit(f"FAIL: {sys.argv[5]}: different tensors {sorted(a.keys() ^ b.keys())}")
worst = max((a[k] - b[k]).abs().max().item() for k in a)
print(f"{sys.argv[5]}: max |param difference| = {worst:.2e}")
if worst > float(sys.argv[4]):
    sys.exit(f"FAIL: {sys.argv[5]}")
PY
}
