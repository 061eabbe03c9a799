# Sourced by the MPI tests: a reproducible local mpirun (as root too, loopback transports).
set -euo pipefail
mpirun_local() {
  local extra=()
  [[ $(id -u) -eq 0 ]] && extra+=(--allow-run-as-root)
  OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader,tcp OMPI_MCA_oob_tcp_if_include=lo \
    OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_rmaps_base_oversubscribe=1 \
    mpirun "${extra[@]}" --oversubscribe "$@"
}
