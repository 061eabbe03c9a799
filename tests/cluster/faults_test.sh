#!/usr/bin/env bash
# Network and node faults on a 2-host Slurm cluster in network namespaces, with figures:
#  1. kill -9 of the remote rank (pkdn2) of a 2-node `pkd finetune` job, with Gloo and with MPI
#     gradient sums (srun), and under `mpirun` across the hosts without Slurm: the job must exit
#     non-zero within 30 s, and the launcher must name the lost rank's host.
#  2. pkdn2's link cut mid-run: pkd fails within parallel.timeout_s (5 s here) with a message,
#     slurmctld marks pkdn2 DOWN (SlurmdTimeout 12 s here) and requeues the job; with the link
#     restored it resumes from its last checkpoint and ends with the uninterrupted run's weights.
#  3. The slurmd of the node running a 1-node job dies: the node goes DOWN, the job is requeued
#     onto the other node and completes. The job's processes on the first node outlive their
#     slurmd, as on a real cluster: the test freezes its ranks (SIGSTOP) when it kills the slurmd,
#     so that the job cannot finish there before slurmctld notices, whatever the machine's speed,
#     and kills them once the node is DOWN, as an admin (or the restarted slurmd) would.
# Usage: faults_test.sh PKD_BINARY SOURCE_DIR
source "$(dirname "$0")/common.sh"
export PKD_SLURMD_TIMEOUT=12
mn_setup "$@"
"$pkd" tokenize --task SST-2 --data-dir "$work/glue/SST-2" --vocab "$root/data/vocab/vocab.txt" \
  --out "$work/tokens" --shard-size 60 --max-seq-length 64 > /dev/null
train=(--init random --train tokens/train --hidden-size 32 --intermediate-size 64
  --num-hidden-layers 2 --num-attention-heads 2 --batch-size 8 --log-every 10)

# Seconds since $1 (date +%s.%N), one decimal.
since() { /usr/bin/python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$1"; }
# Waits (30 s at most) for a line matching $2 in file $1.
wait_for_line() {
  local i
  for ((i = 0; i < 300; i++)); do grep -q "$2" "$1" 2> /dev/null && return 0; sleep 0.1; done
  fail "no line matching '$2' in $1 after 30 s"
}
# The pid of the pkd rank on host $1 whose command line contains $2.
rank_pid() {
  local pid
  for pid in $(host_pids "$1"); do
    tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | grep -q "^$pkd .*$2" && { echo "$pid"; return 0; }
  done
  fail "no pkd process with '$2' on $1"
}
check_seconds() {  # WHAT SECONDS LIMIT
  /usr/bin/python3 -c "import sys; sys.exit(float(sys.argv[1]) > float(sys.argv[2]))" "$2" "$3" ||
    fail "$1 took $2 s (limit $3 s)"
}

echo "== 1. kill -9 of a remote rank"
for backend in gloo mpi; do
  name=kill-$backend
  id=$(mn_submit "$name" -N2 --ntasks-per-node=1 -- "$root/jobs/slurm/teacher.sbatch" "${train[@]}" \
    --epochs 1000 --output-dir "$name" --set parallel.backend=$backend)
  wait_for_line "$work/logs/$name.out" "step 40/"
  victim=$(rank_pid pkdn2 "--output-dir $name")
  start=$(date +%s.%N)
  kill -9 "$victim"
  slurm_wait_job "$id" 60 > /dev/null || fail "$name: the job still runs 60 s after the kill"
  took=$(since "$start")
  [[ $(slurm_job_state "$id") == FAILED ]] || fail "$name: the job ended $(slurm_job_state "$id")"
  grep -q "pkdn2: task 1: Killed" "$work/logs/$name.out" || fail "$name: srun did not name the lost rank"
  check_seconds "$name" "$took" 30
  echo "$backend, srun: job FAILED ${took} s after kill -9 of rank 1 on pkdn2; $(grep -m1 -o 'srun: error: pkdn2: task 1: Killed' "$work/logs/$name.out")"
  grep -m1 "ERROR" "$work/logs/$name.out" | cut -c1-300 || true
done

name=kill-mpirun
mpirun_hosts=(host_run pkdn1 env OMPI_MCA_plm_rsh_agent="$root/tests/cluster/agent.sh"
  mpirun --host pkdn1,pkdn2 -np 2 --wdir "$work")
"${mpirun_hosts[@]}" "$pkd" finetune "${train[@]}" --epochs 1000 --output-dir "$name" \
  --set parallel.backend=mpi > "$work/logs/$name.out" 2>&1 &
job=$!
wait_for_line "$work/logs/$name.out" "step 40/"
victim=$(rank_pid pkdn2 "--output-dir $name")
start=$(date +%s.%N)
kill -9 "$victim"
code=0
timeout 60 tail --pid="$job" -f /dev/null || fail "$name: mpirun still runs 60 s after the kill"
wait "$job" || code=$?
took=$(since "$start")
((code != 0)) || fail "$name: mpirun exited 0"
grep -q "on node pkdn2 exited on signal 9" "$work/logs/$name.out" || fail "$name: mpirun did not name the host"
check_seconds "$name" "$took" 30
echo "mpi, mpirun across hosts: exit $code ${took} s after the kill; $(grep -m1 -o 'rank 1 with PID [0-9]* on node pkdn2 exited on signal 9' "$work/logs/$name.out")"

echo "== 2. pkdn2's link cut mid-run"
cut_args=("${train[@]}" --epochs 4 --checkpoint-every 10 --set parallel.timeout_s=5)
id=$(mn_submit uncut -N2 --ntasks-per-node=1 -- "$root/jobs/slurm/teacher.sbatch" "${cut_args[@]}" --output-dir uncut)
mn_wait_ok "$id" uncut
id=$(mn_submit cut -N2 --ntasks-per-node=1 -- "$root/jobs/slurm/teacher.sbatch" "${cut_args[@]}" --output-dir cut)
log=$work/logs/cut.out
wait_for_line "$log" "step 50/"
start=$(date +%s.%N)
host_link pkdn2 down
wait_for_line "$log" "ERROR"
took_error=$(since "$start")
for ((i = 0; i < 600; i++)); do
  [[ $(sinfo -h -N -n pkdn2 -o %T) == down* ]] && break
  sleep 0.1
done
took_down=$(since "$start")
[[ $(sinfo -h -N -n pkdn2 -o %T) == down* ]] || fail "pkdn2 is $(sinfo -h -N -n pkdn2 -o %T) 60 s after its link was cut"
host_link pkdn2 up
mn_wait_ok "$id" cut 240
check_seconds "the lost link's error" "$took_error" 10
grep -q "restart 1" "$log" || fail "the cut job did not run again"
grep -q "resuming from" "$log" || fail "the rerun did not resume"
cmp "$work/cut/model/model.safetensors" "$work/uncut/model/model.safetensors" ||
  fail "the resumed run's weights differ from the uninterrupted run's"
echo "link cut: pkd's error after ${took_error} s, pkdn2 DOWN after ${took_down} s; requeued, resumed from $(grep -o "resuming from '[^']*'" "$log" | head -1 | sed "s#.*/##; s#'##"), weights identical"
grep -m1 "ERROR" "$log" | cut -c1-300

echo "== 3. a slurmd dies"
id=$(mn_submit slurmd -N1 --ntasks-per-node=2 -- "$root/jobs/slurm/teacher.sbatch" "${train[@]}" \
  --epochs 20 --checkpoint-every 10 --output-dir slurmd)
wait_for_line "$work/logs/slurmd.out" "step 20/"
node=$(mn_job_nodes "$id")
other=pkdn1
[[ $node == pkdn1 ]] && other=pkdn2
pid=$(tr -dc 0-9 < "$tmp/slurm/run/slurmd-$node.pid")
start=$(date +%s.%N)
kill -9 "$pid"
for p in $(host_pids "$node"); do
  tr '\0' ' ' < "/proc/$p/cmdline" 2> /dev/null | grep -q "^$pkd .*--output-dir slurmd" && kill -STOP "$p"
done
for ((i = 0; i < 600; i++)); do
  [[ $(sinfo -h -N -n "$node" -o %T) == down* ]] && break
  sleep 0.1
done
[[ $(sinfo -h -N -n "$node" -o %T) == down* ]] || fail "$node is not DOWN 60 s after its slurmd died"
took_down=$(since "$start")
# shellcheck disable=SC2046
kill -9 $(host_pids "$node") 2> /dev/null || true
for ((i = 0; i < 600; i++)); do
  [[ $(mn_job_nodes "$id") == "$other" && $(slurm_job_state "$id") == RUNNING ]] && break
  sleep 0.1
done
[[ $(mn_job_nodes "$id") == "$other" ]] || fail "the job was not requeued onto $other within 60 s"
took=$(since "$start")
mn_wait_ok "$id" slurmd 240
grep -q "restart 1" "$work/logs/slurmd.out" || fail "the job did not run again"
grep -q "resuming from" "$work/logs/slurmd.out" || fail "the rerun did not resume"
echo "slurmd of $node killed: $node DOWN after ${took_down} s, the job running again on $other after ${took} s, resumed and COMPLETED"
echo "PASS"
