#!/usr/bin/env bash
# Proves, on a private single-node Slurm (tests/slurm/cluster.sh), the Slurm facts pkd's job
# scripts rely on. Exit 0 = every check passed. Needs root and scripts/setup.sh's packages.
#   a) srun of an Open MPI program in a 2-task batch job: both ranks see size 2 (PMIx works);
#      mpirun in a job works given the root variables, and without them refuses to start
#   b) afterok on a job that fails: the dependent job is cancelled within seconds
#   c) an impossible request fails at sbatch time, with a message
#   d) SIGUSR1 delivery (preemption / time-limit warning): who gets it with each method
#   e) scontrol requeue: the job runs again with SLURM_RESTART_COUNT=1 and completes
# Usage: smoke.sh [WORK_DIR]   (default: a fresh temporary directory, removed at exit)
set -uo pipefail
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: slurmd must run as root to start jobs (CI runs as root)"
  exit 77
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=cluster.sh
source "$here/cluster.sh"

if [[ -n ${1:-} ]]; then
  work=$(mkdir -p "$1" && cd "$1" && pwd)
  trap 'true' EXIT
else
  work=$(mktemp -d /tmp/pkd-slurm-smoke.XXXXXX)
  trap 'rm -rf "$work"' EXIT
fi
passed=0 failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# ---- an MPI program: without arguments prints "rank R size S"; with TAG LOG SECONDS it appends
# "TAG rank R ... ready" to LOG, waits up to SECONDS for SIGUSR1 and appends "TAG rank R USR1".
t_start=$(now)
# First, so that jobs a killed earlier run on the same WORK_DIR left are cancelled before their
# logs are removed (old logs would fake signals).
slurm_start "$work/cluster" || { echo "FAIL: the cluster did not start"; exit 1; }
jobs=$work/jobs
rm -rf "$jobs"
mkdir -p "$jobs"
cat > "$jobs/probe.c" << 'EOF'
#include <mpi.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
static volatile sig_atomic_t got = 0;
static void on_usr1(int s) { (void)s; got = 1; }
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}
static void say(const char* path, const char* line) {
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd >= 0) { (void)!write(fd, line, strlen(line)); close(fd); }
}
int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (argc < 4) {
    printf("rank %d size %d\n", rank, size);
    fflush(stdout);
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
    return 0;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  char line[256];
  snprintf(line, sizeof line, "%s rank %d ready t=%.3f\n", argv[1], rank, now());
  say(argv[2], line);
  double end = now() + atof(argv[3]);
  while (!got && now() < end) usleep(20000);
  if (got) {
    snprintf(line, sizeof line, "%s rank %d USR1 t=%.3f\n", argv[1], rank, now());
    say(argv[2], line);
  }
  MPI_Finalize();
  return 0;
}
EOF
mpicc -O1 -o "$jobs/probe" "$jobs/probe.c" || { echo "FAIL: mpicc could not build the probe"; exit 1; }

# Batch script for (d): LOG LAUNCHER(srun|mpirun) FWD(fwd|nofwd|fg) SECONDS. Traps USR1 (an
# untrapped USR1 kills bash), logs it, and with fwd sends it on to the launcher. The launcher
# runs in the background so that the trap runs at once, and the script `wait`s again after each
# trap; fg runs it in the foreground instead, to show that bash then defers the trap until the
# launcher has exited.
cat > "$jobs/signal.sh" << 'EOF'
#!/bin/bash
log=$1 launcher=$2 fwd=$3 secs=$4
child=
on_usr1() {
  echo "batch USR1 t=$(date +%s.%N)" >> "$log"
  if [[ $fwd == fwd && -n $child ]]; then kill -USR1 "$child"; fi
}
trap on_usr1 USR1
if [[ $fwd == fg ]]; then
  echo "batch ready t=$(date +%s.%N)" >> "$log"
  srun ./probe srun "$log" "$secs"
  echo "batch done rc=$? t=$(date +%s.%N)" >> "$log"
  exit 0
fi
case $launcher in
  srun) srun ./probe srun "$log" "$secs" & ;;
  mpirun) mpirun -np 2 ./probe mpirun "$log" "$secs" & ;;
esac
child=$!
echo "batch ready t=$(date +%s.%N)" >> "$log"
while :; do
  wait "$child"
  rc=$?
  ((rc > 128)) && kill -0 "$child" 2> /dev/null && continue
  break
done
echo "batch done rc=$rc" >> "$log"
EOF

# Batch script for (e): requeues itself on its first run.
cat > "$jobs/requeue.sh" << 'EOF'
#!/bin/bash
echo "run restart_count=${SLURM_RESTART_COUNT:-unset} t=$(date +%s.%N)"
if [[ ${SLURM_RESTART_COUNT:-0} == 0 ]]; then
  echo "requeue t=$(date +%s.%N)"
  scontrol requeue "$SLURM_JOB_ID"
  echo "scontrol requeue rc=$?"
  exit 0
fi
echo "second run done"
EOF
chmod +x "$jobs/signal.sh" "$jobs/requeue.sh"

cd "$jobs" || exit 1
# mpirun refuses to run as root without these; sbatch's default --export=ALL hands them on.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# The slow ones first, so that they run while the rest is checked.
# (e) requeue
rq_id=$(sbatch --parsable -J requeue --requeue --open-mode=append -o requeue.out ./requeue.sh)
# (d) the time-limit warning itself: --time=1 --signal=B:USR1@55 is due 5 s after the start;
# slurmctld checks time limits every 30 s, so it comes 5-35 s after the start.
timed_id=$(sbatch --parsable -J timed -n 2 --time=1 --signal=B:USR1@55 -o timed.out \
  ./signal.sh "$jobs/sig-timed.log" srun fwd 50)

# ---- (a) PMIx: plain srun of an Open MPI program; mpirun with and without the root variables
# shellcheck disable=SC2016
a_id=$(sbatch --parsable -J pmix -n 2 -o pmix.out --wrap \
  'echo "cwd=$PWD"; srun ./probe | sort; echo "mpirun:"; mpirun -np 2 ./probe | sort')
noroot_id=$(env -u OMPI_ALLOW_RUN_AS_ROOT -u OMPI_ALLOW_RUN_AS_ROOT_CONFIRM \
  sbatch --parsable -J noroot -n 2 -o noroot.out --wrap 'mpirun -np 2 ./probe')
slurm_wait_job "$a_id" 60 > /dev/null
slurm_wait_job "$noroot_id" 60 > /dev/null
echo "--- (a) pmix.out"
cat pmix.out
srun_part=$(sed -n '/^cwd=/,/^mpirun:/p' pmix.out)
mpirun_part=$(sed -n '/^mpirun:/,$p' pmix.out)
if [[ $(slurm_job_state "$a_id") == COMPLETED ]] &&
  grep -qx 'rank 0 size 2' <<< "$srun_part" && grep -qx 'rank 1 size 2' <<< "$srun_part"; then
  pass "(a) srun of an Open MPI program in a 2-task job: ranks 0 and 1 both see size 2 (PMIx)"
else
  fail "(a) srun of an Open MPI program did not give 'rank 0/1 size 2' (state $(slurm_job_state "$a_id")): see above"
fi
if grep -qx 'rank 0 size 2' <<< "$mpirun_part" && grep -qx 'rank 1 size 2' <<< "$mpirun_part"; then
  pass "(a) mpirun -np 2 in a 2-task job works when OMPI_ALLOW_RUN_AS_ROOT{,_CONFIRM}=1 are exported at submission"
else
  fail "(a) mpirun -np 2 inside the job did not give 'rank 0/1 size 2': see above"
fi
if grep -qx "cwd=$jobs" pmix.out; then
  pass "(a) the batch script runs in the submission directory"
else
  fail "(a) the batch script did not run in the submission directory $jobs"
fi
if [[ $(slurm_job_state "$noroot_id") == FAILED ]] && grep -q 'root' noroot.out; then
  pass "(a) without the root variables mpirun refuses to run as root: $(grep -m1 -i 'as root' noroot.out | sed 's/^ *//')"
else
  fail "(a) mpirun as root without OMPI_ALLOW_RUN_AS_ROOT: expected FAILED with a message, got $(slurm_job_state "$noroot_id"):"
  cat noroot.out
fi

# ---- (b) afterok on a failing job: the dependent job is cancelled, not left pending
x_id=$(sbatch --parsable -J fails -o /dev/null --wrap 'sleep 2; exit 1')
y_id=$(sbatch --parsable -J dependent -o /dev/null --dependency=afterok:"$x_id" --kill-on-invalid-dep=yes --wrap true)
slurm_wait_job "$x_id" 30 > /dev/null
t0=$(now)
if slurm_wait_job "$y_id" 15 > /dev/null; then
  t1=$(now)
  y_state=$(slurm_job_state "$y_id") y_reason=$(slurm_job_field "$y_id" Reason)
  if [[ $y_state == CANCELLED ]]; then
    pass "(b) afterok on a job that exited 1 ($(slurm_job_field "$x_id" JobState) $(slurm_job_field "$x_id" ExitCode)): dependent $y_state ($y_reason) $(elapsed "$t0" "$t1") s after it ended"
  else
    fail "(b) the dependent of a failed job ended $y_state ($y_reason), expected CANCELLED"
  fi
else
  fail "(b) the dependent of a failed job is still $(slurm_job_state "$y_id") ($(slurm_job_field "$y_id" Reason)) 15 s after its dependency failed"
fi

# ---- (c) impossible requests fail at submission
ncpus=$(sinfo -h -o %c | head -n 1)
check_refused() {
  local what=$1 out rc t0 t1
  shift
  t0=$(now)
  out=$(timeout 20 sbatch --parsable -o /dev/null "$@" --wrap true 2>&1)
  rc=$?
  t1=$(now)
  if ((rc != 0 && rc != 124)) && [[ -n $out ]]; then
    pass "(c) $what (sbatch $*): exit $rc in $(elapsed "$t0" "$t1") s: $out"
  elif ((rc == 124)); then
    fail "(c) $what (sbatch $*): sbatch hung for 20 s"
  else
    fail "(c) $what (sbatch $*) was accepted (exit $rc, '$out'): it would pend forever"
    [[ $out =~ ^[0-9]+$ ]] && scancel "$out"
  fi
}
check_refused "more tasks than CPUs" -n $((ncpus + 1))
check_refused "more CPUs per task than the node has" -c $((ncpus + 1))
check_refused "more nodes than exist" -N 2
check_refused "a time limit above the partition's MaxTime" --time=120

# ---- (d) SIGUSR1 delivery. For each launcher, each way of sending it now, with and without the
# batch shell forwarding it: which of the batch shell and the two ranks got it.
cases=(srun:batch:nofwd srun:batch:fwd srun:batch:fg srun:plain:nofwd srun:full:nofwd
  mpirun:batch:nofwd mpirun:batch:fwd mpirun:plain:nofwd mpirun:full:nofwd)
declare -A sig_id t_sent
for c in "${cases[@]}"; do
  IFS=: read -r launcher how fwd <<< "$c"
  sig_id[$c]=$(sbatch --parsable -J "sig-$launcher-$how-$fwd" -n 2 --signal=B:USR1@10 \
    -o "sig-$launcher-$how-$fwd.out" ./signal.sh "$jobs/sig-$launcher-$how-$fwd.log" "$launcher" "$fwd" 4)
done
declare -A sent_cmd=([batch]="scancel -s USR1 --batch" [plain]="scancel -s USR1" [full]="scancel -s USR1 --full")
for c in "${cases[@]}"; do
  IFS=: read -r launcher how fwd <<< "$c"
  log=$jobs/sig-$launcher-$how-$fwd.log
  for ((i = 0; i < 600; i++)); do
    [[ $(grep -c ready "$log" 2> /dev/null) -ge 3 ]] && break
    sleep 0.1
  done
  t_sent[$c]=$(now)
  # shellcheck disable=SC2086
  ${sent_cmd[$how]} "${sig_id[$c]}"
done
# Expected with Slurm 22.05 + Open MPI 4.1 (batch shell, rank 0, rank 1):
declare -A expect=(
  [srun:batch:nofwd]="yes no no" [srun:batch:fwd]="yes yes yes" [srun:batch:fg]="yes no no"
  [srun:plain:nofwd]="no yes yes" [srun:full:nofwd]="yes yes yes"
  [mpirun:batch:nofwd]="yes no no" [mpirun:batch:fwd]="yes yes yes"
  [mpirun:plain:nofwd]="no no no" [mpirun:full:nofwd]="yes yes yes")
got_usr1() { grep -q "^$2 USR1" "$1" && echo yes || echo no; }
echo "--- (d) who got SIGUSR1 (scancel ... JOBID once the ranks are up)"
printf '%-8s %-28s %-8s %-6s %-6s %-6s\n' launcher sent batch-fwd shell rank0 rank1
d_ok=1
for c in "${cases[@]}"; do
  IFS=: read -r launcher how fwd <<< "$c"
  log=$jobs/sig-$launcher-$how-$fwd.log
  slurm_wait_job "${sig_id[$c]}" 60 > /dev/null || { fail "(d) $c: job did not finish"; d_ok=0; }
  got="$(got_usr1 "$log" batch) $(got_usr1 "$log" "$launcher rank 0") $(got_usr1 "$log" "$launcher rank 1")"
  # shellcheck disable=SC2086
  printf '%-8s %-28s %-8s %-6s %-6s %-6s\n' "$launcher" "${sent_cmd[$how]}" "$fwd" $got
  if [[ $got != "${expect[$c]}" ]]; then
    fail "(d) $launcher, '${sent_cmd[$how]}', $fwd: (shell rank0 rank1) got '$got', expected '${expect[$c]}'; log:"
    cat "$log" "sig-$launcher-$how-$fwd.out"
    d_ok=0
  fi
  if [[ $fwd == fg ]]; then
    t_trap=$(sed -n 's/^batch USR1 t=//p' "$log")
    delay=$(elapsed "${t_sent[$c]}" "${t_trap:-${t_sent[$c]}}")
    if awk -v d="$delay" 'BEGIN { exit !(d >= 3) }'; then
      echo "         (fg: the batch shell's trap ran only ${delay} s after the signal, once srun had exited)"
    else
      fail "(d) srun in the foreground: the batch shell's trap ran ${delay} s after the signal; expected it deferred until srun exits (4 s)"
      d_ok=0
    fi
  fi
done
((d_ok)) && pass "(d) USR1 matrix as expected: --batch reaches only the batch shell; plain scancel -s reaches only srun steps; --full reaches everything; a batch shell trapping USR1 and doing kill -USR1 on its (background, waited-for) srun or mpirun child reaches all ranks; with srun in the foreground the trap waits for srun to exit"

# ---- (e) requeue
if slurm_wait_job "$rq_id" 60 > /dev/null; then
  echo "--- (e) requeue.out"
  cat requeue.out
  t_rq=$(sed -n 's/^requeue t=//p' requeue.out | head -n 1)
  t_run2=$(sed -n 's/^run restart_count=1 t=//p' requeue.out | head -n 1)
  rq_state=$(slurm_job_state "$rq_id") rq_restarts=$(slurm_job_field "$rq_id" Restarts)
  if [[ $rq_state == COMPLETED && $rq_restarts == 1 && -n $t_rq && -n $t_run2 ]] &&
    grep -q '^run restart_count=unset' requeue.out && grep -q '^second run done' requeue.out; then
    pass "(e) scontrol requeue: second run with SLURM_RESTART_COUNT=1 started $(elapsed "$t_rq" "$t_run2") s after the requeue, job $rq_state, Restarts=$rq_restarts, both runs in the --open-mode=append output"
  else
    fail "(e) requeue: state $rq_state, Restarts=$rq_restarts; expected COMPLETED after a second run with SLURM_RESTART_COUNT=1 (output above)"
  fi
else
  fail "(e) the requeued job did not finish within 60 s"
fi

# ---- (d, continued) the time-limit warning --signal=B:USR1@55 with --time=1
if slurm_wait_job "$timed_id" 70 > /dev/null; then
  log=$jobs/sig-timed.log
  t_ready=$(sed -n 's/^batch ready t=//p' "$log")
  t_sig=$(sed -n 's/^batch USR1 t=//p' "$log")
  got="$(got_usr1 "$log" batch) $(got_usr1 "$log" "srun rank 0") $(got_usr1 "$log" "srun rank 1")"
  if [[ $got == "yes yes yes" ]]; then
    pass "(d) --time=1 --signal=B:USR1@55: the batch shell got USR1 $(elapsed "$t_ready" "$t_sig") s after the start (due after 5 s; slurmctld checks every 30 s) and forwarded it to both srun ranks"
  else
    fail "(d) --time=1 --signal=B:USR1@55: (shell rank0 rank1) got '$got', expected 'yes yes yes'; log:"
    cat "$log" timed.out
  fi
else
  fail "(d) the --signal=B:USR1@55 job did not finish"
fi

echo "smoke: $(elapsed "$t_start" "$(now)") s on the cluster"
if ((failed)); then slurm_logs 30; fi
echo "smoke: $passed passed, $failed failed"
((failed == 0))
