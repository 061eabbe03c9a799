#!/usr/bin/env bash
# The cluster suite on a real single-node Slurm (munged + slurmctld + slurmd on localhost):
#  1. `pkd sweep` submits tokenize -> teacher -> cache -> a 3-run distillation array (2 ranks
#     each, srun/PMIx) for SST-2 and RTE (a few hundred real examples each, tiny from-scratch
#     teachers) -> report, through the real jobs/slurm scripts; every job must COMPLETE and the
#     outputs and the report must be there.
#  2. Requeue: a distillation job gets USR1 from Slurm mid-run; the ranks checkpoint, exit 75, the
#     job requeues itself, resumes, completes — with weights bitwise equal to the sweep's
#     uninterrupted run of the same settings.
#  3. A failing teacher cancels its dependents (not pending forever).
#  4. A sweep asking for more nodes than exist fails at submission, cancelling what it submitted.
# Usage: sweep_e2e.sh PKD_BINARY SOURCE_DIR
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: slurmd must run as root to start jobs (CI runs as root)"
  exit 77
fi
pkd=$(readlink -f "$1")
root=$(readlink -f "$2")
source "$root/tests/slurm/cluster.sh"
source "$root/tests/slurm/tiny_configs.sh"
tmp=$(mktemp -d /tmp/pkd-slurm-e2e.XXXXXX)
fail() {
  echo "FAIL: $*" >&2
  for f in "$tmp"/work*/logs/*.out; do [[ -f $f ]] && { echo "== $f" >&2; tail -n 15 "$f" >&2; }; done
  exit 1
}
slurm_start "$tmp/slurm"
trap 'slurm_stop; rm -rf "$tmp"' EXIT
export PKD_BIN=$pkd PKD_ROOT=$root  # jobs inherit the submitting environment (sbatch --export=ALL)

# Real GLUE rows, a few hundred per task. The repository bundles RTE's dev split only: its first
# 200 rows train, the other 77 evaluate, and 40 of them without labels are the test split.
mkdir -p "$tmp/glue/SST-2" "$tmp/glue/RTE"
head -n 241 "$root/data/glue/SST-2/train.tsv" > "$tmp/glue/SST-2/train.tsv"
head -n 81 "$root/data/glue/SST-2/dev.tsv" > "$tmp/glue/SST-2/dev.tsv"
head -n 41 "$root/data/glue/SST-2/test.tsv" > "$tmp/glue/SST-2/test.tsv"
head -n 201 "$root/data/glue/RTE/dev.tsv" > "$tmp/glue/RTE/train.tsv"
{ head -n 1 "$root/data/glue/RTE/dev.tsv"; tail -n +202 "$root/data/glue/RTE/dev.tsv"; } > "$tmp/glue/RTE/dev.tsv"
# sed, not tail | head: under pipefail, tail killed by SIGPIPE when head stops early failed the test.
{ printf 'index\tsentence1\tsentence2\n'; sed -n '202,241p' "$root/data/glue/RTE/dev.tsv" | cut -f1-3; } \
  > "$tmp/glue/RTE/test.tsv"
configs=$tmp/configs
tiny_configs "$root" "$configs" 8192 25 50 SST-2 RTE
sweep_toml() {  # WORK_DIR TASKS EXTRA_TOML
  tiny_sweep_toml "$root" e2e "$1" "$tmp/glue" "$configs" "$2" 1 2 "$3"
}

echo "== 1. a two-task sweep through the real job scripts"
work=$tmp/work
sweep_toml "$work" '["SST-2", "RTE"]' "" > "$tmp/sweep.toml"
"$pkd" sweep --config "$tmp/sweep.toml" --dry-run > "$tmp/dry.sh" || fail "dry run"
grep -q -- "--kill-on-invalid-dep=yes" "$tmp/dry.sh" || fail "dry run lacks --kill-on-invalid-dep"
[[ ! -e $work ]] || fail "the dry run wrote $work"
"$pkd" sweep --config "$tmp/sweep.toml" || fail "pkd sweep refused the sweep"
jobs_tsv=$work/sweep/jobs.tsv
[[ $(wc -l < "$jobs_tsv") -eq 9 ]] || fail "expected 9 jobs in $jobs_tsv, got $(cat "$jobs_tsv")"
report_id=$(awk '$1 == "report" {print $2}' "$jobs_tsv")
slurm_wait_job "$report_id" 900 || fail "the sweep did not finish in 15 minutes"
while read -r key id; do
  if [[ $key == distill:* ]]; then
    states=$(slurm_array_states "$id")
    [[ $(grep -c COMPLETED <<< "$states") -eq 3 ]] || fail "$key ($id) elements: $states"
  else
    state=$(slurm_job_state "$id")
    [[ $state == COMPLETED ]] || fail "$key ($id) ended $state"
  fi
done < "$jobs_tsv"
for task in SST-2 RTE; do
  for f in teacher/$task/model/config.json features/$task/train/manifest.json \
    students/$task/pkd-b0/eval_results.json students/$task/pkd-b100/eval_results.json \
    students/$task/ft-lr2e-3/eval_results.json students/$task/pkd-b100/$task.tsv; do
    [[ -f $work/$f ]] || fail "missing $work/$f"
  done
done
grep -q "^learning_rate = 0.002" "$work/students/RTE/ft-lr2e-3/distill.toml" || fail "baseline lr not applied"
grep -q "^beta = 0.0 " "$work/students/RTE/ft-lr2e-3/distill.toml" || fail "baseline beta not 0"
grep -q "^beta = 100.0 " "$work/students/RTE/pkd-b100/distill.toml" || fail "grid beta not applied"
[[ -f $work/report/results.md ]] || fail "no report/results.md"
for task in SST-2 RTE; do
  grep -q "$task" "$work/report/results.md" || fail "the report lacks $task: $(cat "$work/report/results.md")"
done
/usr/bin/python3 -c "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; \
names = set(z.namelist()); assert {'SST-2.tsv', 'RTE.tsv'} <= names, names" \
  "$work/report/glue_submission.zip" || fail "bad report/glue_submission.zip"
echo "sweep: 9 jobs COMPLETED, outputs and report present"

echo "== 2. USR1 from Slurm -> checkpoint, exit 75, requeue, resume: same weights"
id=$(sbatch --parsable --chdir="$work" --ntasks-per-node=2 --time=00:10:00 \
  --output="$work/logs/requeue-%j.out" "$root/jobs/slurm/distill.sbatch" \
  "$configs/SST-2/student.toml" --set distill.loss.beta=100 --output-dir students/SST-2/requeued)
log=$work/logs/requeue-$id.out
for _ in $(seq 300); do grep -q "step 20/" "$log" 2> /dev/null && break; sleep 0.2; done
grep -q "step 20/" "$log" || fail "the requeue job did not start training: $(cat "$log")"
scancel --signal=USR1 --batch "$id"
slurm_wait_job "$id" 300 || fail "the requeued job did not finish"
[[ $(slurm_job_state "$id") == COMPLETED ]] || fail "requeued job ended $(slurm_job_state "$id")"
grep -q "exit 75\|preempted, checkpoint saved: requeueing" "$log" || fail "no preemption: $(cat "$log")"
grep -q "restart 1" "$log" || fail "the job did not run again after requeue: $(cat "$log")"
grep -q "resuming from" "$log" || fail "the rerun did not resume: $(cat "$log")"
cmp "$work/students/SST-2/requeued/model/model.safetensors" \
  "$work/students/SST-2/pkd-b100/model/model.safetensors" ||
  fail "requeued + resumed weights differ from the uninterrupted run's"
echo "requeue: preempted at step $(grep -o 'stopped after step [0-9]*' "$log" | head -1), resumed, weights identical"

echo "== 2b. the same run with mpirun as the launcher inside the job"
id=$(OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 PKD_LAUNCHER=mpirun \
  OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo \
  sbatch --parsable --chdir="$work" --ntasks-per-node=2 --time=00:10:00 \
  --output="$work/logs/mpirun-%j.out" "$root/jobs/slurm/distill.sbatch" \
  "$configs/SST-2/student.toml" --set distill.loss.beta=100 --output-dir students/SST-2/mpirun)
slurm_wait_job "$id" 300 || fail "the mpirun job did not finish"
[[ $(slurm_job_state "$id") == COMPLETED ]] || fail "mpirun job ended $(slurm_job_state "$id"): $(cat "$work/logs/mpirun-$id.out")"
grep -q "mpirun $pkd distill" "$work/logs/mpirun-$id.out" || fail "not launched by mpirun"
cmp "$work/students/SST-2/mpirun/model/model.safetensors" \
  "$work/students/SST-2/pkd-b100/model/model.safetensors" || fail "mpirun and srun runs differ"
echo "mpirun launcher: 2 ranks, weights identical to the srun run"

echo "== 3. a failing teacher cancels its dependents"
bad=$tmp/work-bad
# The teacher's initial model does not exist: its job fails after submission (paths are not
# checked at submission: they may be outputs of earlier jobs).
sweep_toml "$bad" '["RTE"]' 'stages = ["teacher", "cache", "distill"]
teacher_init = "/nonexistent/bert"' > "$tmp/bad.toml"
"$pkd" sweep --config "$tmp/bad.toml" || fail "pkd sweep refused the failing sweep"
teacher_id=$(awk '$1 == "teacher:RTE" {print $2}' "$bad/sweep/jobs.tsv")
distill_id=$(awk '$1 == "distill:RTE" {print $2}' "$bad/sweep/jobs.tsv")
cache_id=$(awk '$1 == "cache:RTE" {print $2}' "$bad/sweep/jobs.tsv")
slurm_wait_job "$distill_id" 120 || fail "dependents of a failed teacher still pending after 120 s"
[[ $(slurm_job_state "$teacher_id") == FAILED ]] || fail "teacher ended $(slurm_job_state "$teacher_id")"
for dep in "$cache_id" "$distill_id"; do
  state=$(slurm_job_state "$dep")
  [[ $state == CANCELLED* ]] || fail "dependent $dep ended $state, expected CANCELLED"
done
echo "failure: teacher FAILED, cache and distillation array CANCELLED"

echo "== 4. an impossible request fails at submission and cancels what was submitted"
sweep_toml "$tmp/work-big" '["SST-2", "RTE"]' "" | sed 's/^\[sweep.slurm.distill\]$/&\nnodes = 4/' > "$tmp/big.toml"
if "$pkd" sweep --config "$tmp/big.toml" > "$tmp/big.out" 2>&1; then fail "a 4-node request was accepted"; fi
grep -q "sbatch refused job 'distill:SST-2'" "$tmp/big.out" || fail "unclear error: $(cat "$tmp/big.out")"
grep -q "cancelled the 3 jobs already submitted" "$tmp/big.out" || fail "no cancellation: $(cat "$tmp/big.out")"
sleep 2
[[ -z $(squeue -h -n e2e-tokenize-SST-2,e2e-teacher-SST-2,e2e-cache-SST-2 -t PENDING,RUNNING) ]] ||
  fail "jobs of the refused sweep are still queued: $(squeue)"
echo "impossible request: $(grep -o 'sbatch refused.*' "$tmp/big.out" | head -1 | cut -c1-160)"
echo "PASS"
