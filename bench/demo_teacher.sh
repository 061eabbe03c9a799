# Sourced by the seed benchmarks (run_seeds_bench.sh, run_objectives_bench.sh) after `pkd`, `root`
# and tests/mpi/common.sh: the demo's SST-2 tokens, and its teacher (4 layers x 128, trained from
# scratch with 2 ranks) unless out/demo already holds one.
demo_teacher() {
  cd "$root"
  "$pkd" tokenize --config configs/demo/tokenize.toml --log-level warn > /dev/null
  if [[ ! -f out/demo/teacher/model/config.json ]]; then
    mpirun_local -np 2 "$pkd" finetune --config configs/demo/teacher.toml --intra-op-threads 1 \
      --resume --log-level warn
  fi
}
