#!/usr/bin/env bash
# pkd across hosts, on a 2-host Slurm cluster in network namespaces (tests/cluster/common.sh),
# through the real jobs/slurm scripts:
#  1. `pkd sweep` on SST-2 rows: tokenize, a teacher and the feature cache on 2 nodes x 1 rank
#     (Gloo across hosts), a 3-run distillation array whose elements (1 node x 2 ranks each) land
#     on both nodes, then `pkd report`.
#  2. 2 nodes x 1 rank == 1 node x 2 ranks (the np2-vs-np1 tolerance, 1e-5) for the teacher's
#     fine-tuning, the cached features and distillation (srun, and mpirun across hosts).
#  3. Preemption: a run checkpointed on one node and requeued onto the other resumes bitwise.
#  4. The Gloo rendezvous: parallel.gloo_interface naming the cluster network trains; one that
#     does not exist, or whose addresses cannot reach each other, stops every rank with a
#     message that says what was tried.
# Usage: train_test.sh PKD_BINARY SOURCE_DIR
source "$(dirname "$0")/common.sh"
mn_setup "$@"
tolerance=1e-5

configs=$work/configs
# 60 examples per shard: 4 train shards, so that both ranks tokenize and cache some.
source "$root/tests/slurm/tiny_configs.sh"
tiny_configs "$root" "$configs" 60 10 20 SST-2
tiny_sweep_toml "$root" mn "$work" "$work/glue" "$configs" '["SST-2"]' 2 1 > "$work/sweep.toml"

echo "== 1. a sweep across both hosts"
"$pkd" sweep --config "$work/sweep.toml" || fail "pkd sweep refused the sweep"
jobs_tsv=$work/sweep/jobs.tsv
report_id=$(awk '$1 == "report" {print $2}' "$jobs_tsv")
slurm_wait_job "$report_id" 240 > /dev/null || fail "the sweep did not finish in 4 minutes"
nodes_used=
while read -r key id; do
  if [[ $key == distill:* ]]; then
    states=$(slurm_array_states "$id")
    [[ $(grep -c COMPLETED <<< "$states") -eq 3 ]] || fail "$key ($id) elements: $states"
    for task_id in 0 1 2; do nodes_used+=" $(mn_job_nodes "${id}_$task_id")"; done
  else
    [[ $(slurm_job_state "$id") == COMPLETED ]] || fail "$key ($id) ended $(slurm_job_state "$id")"
  fi
done < "$jobs_tsv"
teacher_id=$(awk '$1 == "teacher:SST-2" {print $2}' "$jobs_tsv")
[[ $(mn_job_nodes "$teacher_id") == "pkdn[1-2]" ]] || fail "the teacher ran on $(mn_job_nodes "$teacher_id")"
grep -q "pkdn1" <<< "$nodes_used" && grep -q "pkdn2" <<< "$nodes_used" ||
  fail "the distillation elements did not use both nodes: $nodes_used"
# Gloo met on the cluster network: the store on pkdn1's address, each rank on its own host's.
teacher_log=$(ls "$work"/logs/mn-teacher-SST-2-*.out)
grep -q "gloo: store at ${PKD_HOSTS_NET%.0/24}.11:[0-9]*; ranks on ${PKD_HOSTS_NET%.0/24}.11, ${PKD_HOSTS_NET%.0/24}.12; every rank has an address on $PKD_HOSTS_NET (eth1)" "$teacher_log" ||
  fail "the teacher's Gloo rendezvous is not on the cluster network: $(grep gloo "$teacher_log")"
grep -q "SST-2" "$work/report/results.md" || fail "the report lacks SST-2: $(cat "$work/report/results.md")"
echo "sweep: all jobs COMPLETED; teacher and cache on pkdn[1-2], distillation elements on:$nodes_used"
grep -h "gloo: store" "$teacher_log" | head -1

echo "== 2. 2 nodes x 1 rank == 1 node x 2 ranks"
id=$(mn_submit teacher-1x2 -N1 --ntasks-per-node=2 -- "$root/jobs/slurm/teacher.sbatch" \
  "$configs/SST-2/teacher.toml" --output-dir teacher-1x2)
mn_wait_ok "$id" teacher-1x2
diff=$(mn_max_diff "$work/teacher/SST-2/model/model.safetensors" "$work/teacher-1x2/model/model.safetensors")
echo "teacher: max |2x1 - 1x2| = $diff"
/usr/bin/python3 -c "import sys; sys.exit(float('$diff') > $tolerance)" || fail "teacher 2x1 != 1x2"

id=$(mn_submit cache-1x2 -N1 --ntasks-per-node=2 -- "$root/jobs/slurm/cache.sbatch" \
  "$configs/cache.toml" --set cache_teacher.model=teacher/SST-2/model \
  --set cache_teacher.tokens=tokens/SST-2/train --set cache_teacher.out=features-1x2)
mn_wait_ok "$id" cache-1x2
shards=0
for f in "$work"/features/SST-2/train/shard-*.h5; do
  for ds in logits cls_hidden example_ids; do
    h5diff -q -d "$tolerance" "$f" "$work/features-1x2/$(basename "$f")" "/$ds" "/$ds" ||
      fail "features: $(basename "$f"):/$ds differs between 2x1 and 1x2"
  done
  shards=$((shards + 1))
done
((shards >= 2)) || fail "expected several feature shards, got $shards"
echo "cache-teacher: $shards shards, logits and [CLS] states within $tolerance"

reference=$work/students/SST-2/pkd-b100/model/model.safetensors
for launcher in srun mpirun; do
  id=$(PKD_LAUNCHER=$launcher mn_submit "distill-2x1-$launcher" -N2 --ntasks-per-node=1 -- \
    "$root/jobs/slurm/distill.sbatch" "$configs/SST-2/student.toml" \
    --set distill.loss.beta=100 --output-dir "students-2x1-$launcher")
  mn_wait_ok "$id" "distill-2x1-$launcher"
  grep -q "$launcher .*$pkd distill" "$work/logs/distill-2x1-$launcher.out" || fail "not launched by $launcher"
  diff=$(mn_max_diff "$reference" "$work/students-2x1-$launcher/model/model.safetensors")
  echo "distill ($launcher, nodes $(mn_job_nodes "$id")): max |2x1 - 1x2| = $diff"
  /usr/bin/python3 -c "import sys; sys.exit(float('$diff') > $tolerance)" || fail "distill 2x1 ($launcher) != 1x2"
done

echo "== 3. checkpointed on one node, requeued onto the other: bitwise resume"
scontrol update nodename=pkdn2 state=drain reason=multinode-test
id=$(mn_submit requeue -N1 --ntasks-per-node=2 -- "$root/jobs/slurm/distill.sbatch" \
  "$configs/SST-2/student.toml" --set distill.loss.beta=100 --output-dir students-requeued)
log=$work/logs/requeue.out
for _ in $(seq 300); do grep -q "step 25/" "$log" 2> /dev/null && break; sleep 0.2; done
grep -q "step 25/" "$log" || fail "the requeue job did not start training"
first=$(mn_job_nodes "$id")
# Only pkdn2 may take the rerun: pkdn1 drains (its running job goes on), pkdn2 comes back.
scontrol update nodename=pkdn1 state=drain reason=multinode-test
scontrol update nodename=pkdn2 state=resume
scancel --signal=USR1 --batch "$id"
mn_wait_ok "$id" requeue 180
second=$(mn_job_nodes "$id")
scontrol update nodename=pkdn1 state=resume
grep -q "restart 1" "$log" || fail "the job did not run again after the requeue"
grep -q "resuming from" "$log" || fail "the rerun did not resume"
[[ $first == pkdn1 && $second == pkdn2 ]] || fail "ran on $first, then $second (expected pkdn1, then pkdn2)"
cmp "$work/students-requeued/model/model.safetensors" "$reference" ||
  fail "requeued + resumed weights differ from the uninterrupted run's"
echo "requeue: $(grep -o 'stopped after step [0-9]*' "$log" | head -1) on $first, resumed on $second, weights identical"
echo "== 4. the Gloo rendezvous: an explicit interface, a missing one, an unreachable store"
tiny=(--init random --train tokens/SST-2/train --hidden-size 32 --intermediate-size 64 --max-steps 3)
id=$(mn_submit gloo-eth1 -N2 --ntasks-per-node=1 -- "$root/jobs/slurm/teacher.sbatch" "${tiny[@]}" \
  --output-dir gloo-eth1 --set parallel.gloo_interface=eth1)
mn_wait_ok "$id" gloo-eth1
grep -q "gloo: store at ${PKD_HOSTS_NET%.0/24}.11:" "$work/logs/gloo-eth1.out" || fail "eth1 not used"
id=$(mn_submit gloo-ib0 -N2 --ntasks-per-node=1 -- "$root/jobs/slurm/teacher.sbatch" "${tiny[@]}" \
  --output-dir gloo-ib0 --set parallel.gloo_interface=ib0)
slurm_wait_job "$id" 60 > /dev/null || fail "gloo-ib0 did not end in 60 s"
[[ $(slurm_job_state "$id") == FAILED ]] || fail "gloo-ib0 ended $(slurm_job_state "$id")"
grep -q 'rank 0 (host pkdn1) has no IPv4 interface "ib0" that is up; it has: .*eth1 '"${PKD_HOSTS_NET%.0/24}"'.11/24' \
  "$work/logs/gloo-ib0.out" || fail "unclear error for a missing interface: $(cat "$work/logs/gloo-ib0.out")"
# eth2: on each host a network the other cannot reach (198.19.1.0/24 and 198.19.2.0/24, no
# route between them; a veth pair inside the host, as gVisor has no dummy interfaces): rank 1
# cannot reach rank 0's store, and every rank says so.
for n in 1 2; do
  host_ip pkdn$n link add eth2 type veth peer name eth2p && host_ip pkdn$n link set eth2p up &&
    host_ip pkdn$n addr add 198.19.$n.1$n/24 dev eth2 && host_ip pkdn$n link set eth2 up ||
    fail "cannot add eth2 to pkdn$n"
done
id=$(mn_submit gloo-eth2 -N2 --ntasks-per-node=1 -- "$root/jobs/slurm/teacher.sbatch" "${tiny[@]}" \
  --output-dir gloo-eth2 --set parallel.gloo_interface=eth2 --set parallel.rendezvous_timeout_s=3)
slurm_wait_job "$id" 60 > /dev/null || fail "gloo-eth2 did not end in 60 s"
[[ $(slurm_job_state "$id") == FAILED ]] || fail "gloo-eth2 ended $(slurm_job_state "$id")"
grep -q "rank 1 (host pkdn2) could not reach the Gloo rendezvous store at 198.19.1.11:[0-9]* (waited up to 3 s" \
  "$work/logs/gloo-eth2.out" || fail "unclear error for an unreachable store: $(cat "$work/logs/gloo-eth2.out")"
grep -q "r0/2 ERROR.*rank 1 (host pkdn2) could not reach the Gloo rendezvous store" "$work/logs/gloo-eth2.out" ||
  fail "rank 0 did not stop with rank 1's reason"
echo "gloo_interface = \"eth1\": trained; = \"ib0\": $(grep -m1 -o 'rank 0 (host pkdn1) has no IPv4 interface.*' "$work/logs/gloo-ib0.out")"
echo "= \"eth2\" (no route between the hosts): $(grep -m1 -o 'rank 1 (host pkdn2) could not reach.*' "$work/logs/gloo-eth2.out")"
echo "PASS"
