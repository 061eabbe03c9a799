# shellcheck shell=bash
# Shared by the stage scripts of jobs/slurm/ (sourced, not run). Checks the environment, starts
# the ranks with srun (PMIx) or mpirun, gives every rank its threads and device from the
# allocation, and handles preemption: the batch shell receives USR1 before the time limit
# (--signal=B:USR1@N) and forwards it to the ranks, which agree, checkpoint and exit with 75;
# the job then requeues itself and the rerun resumes from checkpoints/latest.
#
# Variables (all optional):
#   PKD_ROOT            the pkd checkout (default: the submission directory)
#   PKD_BIN             the pkd binary (default: $PKD_ROOT/build/bin/pkd)
#   PKD_LAUNCHER        srun (default) | mpirun | none (one process)
#   PKD_GPUS_PER_NODE   > 0: run on GPUs (device cuda, one GPU per rank) (default: from Slurm)
#   PKD_GRID            array jobs: file of "INDEX<TAB>pkd options..." lines (pkd sweep writes it)
set -euo pipefail

pkd_fail() {
  echo "pkd job ${SLURM_JOB_ID:-(not in Slurm)}: $*" >&2
  exit 2
}

PKD_ROOT=${PKD_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}
PKD_BIN=${PKD_BIN:-$PKD_ROOT/build/bin/pkd}
PKD_LAUNCHER=${PKD_LAUNCHER:-srun}
[[ -x $PKD_BIN ]] || pkd_fail "no pkd binary at PKD_BIN=$PKD_BIN (build it with scripts/build.sh, or set PKD_BIN / PKD_ROOT)"
case $PKD_LAUNCHER in
  srun | mpirun | none) ;;
  *) pkd_fail "PKD_LAUNCHER must be srun, mpirun or none, got '$PKD_LAUNCHER'" ;;
esac
command -v "$PKD_LAUNCHER" > /dev/null 2>&1 || [[ $PKD_LAUNCHER == none ]] ||
  pkd_fail "PKD_LAUNCHER=$PKD_LAUNCHER is not on PATH (load your MPI module?)"

# pkd_stage COMMAND [CONFIG.toml] [pkd options...]: runs `pkd COMMAND` on every rank of the job.
pkd_stage() {
  local command=$1
  shift
  local args=("$command")
  if [[ $# -gt 0 && $1 == *.toml ]]; then
    [[ -f $1 ]] || pkd_fail "config '$1' not found (working directory $PWD)"
    args+=(--config "$1")
    shift
  fi
  if [[ -n ${SLURM_ARRAY_TASK_ID:-} && -n ${PKD_GRID:-} ]]; then
    [[ -f $PKD_GRID ]] || pkd_fail "PKD_GRID file '$PKD_GRID' not found"
    local line
    line=$(awk -F'\t' -v i="$SLURM_ARRAY_TASK_ID" '$1 == i' "$PKD_GRID")
    [[ -n $line ]] || pkd_fail "PKD_GRID '$PKD_GRID' has no line for array index $SLURM_ARRAY_TASK_ID"
    local more
    IFS=$'\t' read -r -a more <<< "$line"
    args+=("${more[@]:1}")
  fi
  args+=("$@")
  local gpus=${PKD_GPUS_PER_NODE:-${SLURM_GPUS_ON_NODE:-0}}
  case $command in
    finetune | distill | cache-teacher | eval | predict)
      args+=(--intra-op-threads "${SLURM_CPUS_PER_TASK:-1}")
      [[ $gpus -gt 0 ]] && args+=(--device cuda)
      ;;
  esac
  # A requeued training job continues where it stopped (and starts afresh when nothing was
  # saved); tokenize and cache-teacher skip the shards they already wrote.
  case $command in finetune | distill) args+=(--resume) ;; esac

  local launch=()
  case $PKD_LAUNCHER in
    srun) launch=(srun --kill-on-bad-exit=1) ;;
    mpirun) launch=(mpirun) ;;
  esac
  echo "pkd job ${SLURM_JOB_ID:-}: $(date -u +%FT%TZ) restart ${SLURM_RESTART_COUNT:-0}: ${launch[*]} $PKD_BIN ${args[*]}"
  "${launch[@]}" "$PKD_BIN" "${args[@]}" &
  local pid=$! status=0
  # USR1 (Slurm's warning before the time limit) or TERM (preemption): hand it to the ranks.
  trap 'pkd_forward USR1 '"$pid" USR1 TERM
  while true; do
    wait "$pid" && status=0 || status=$?
    kill -0 "$pid" 2> /dev/null || break  # still running: wait was interrupted by the trap
  done
  trap - USR1 TERM
  if [[ $status -eq 75 ]]; then
    if [[ -n ${SLURM_JOB_ID:-} ]]; then
      echo "pkd job $SLURM_JOB_ID: preempted, checkpoint saved: requeueing"
      scontrol requeue "$SLURM_JOB_ID"
      exit 0
    fi
    echo "pkd: preempted, checkpoint saved: run again to resume" >&2
  fi
  return "$status"
}

# srun and mpirun both forward USR1 to their tasks (tests/slurm/smoke.sh checks it). The launcher
# must run in the background with the shell looping on `wait`: a foreground srun delays the
# trap until it exits.
pkd_forward() {
  local signal=$1 pid=$2
  echo "pkd job ${SLURM_JOB_ID:-}: $(date -u +%FT%TZ) got a signal: forwarding $signal to the ranks"
  kill -s "$signal" "$pid" 2> /dev/null || true
}
