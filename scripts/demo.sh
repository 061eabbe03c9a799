#!/usr/bin/env bash
# The main job on the bundled default: sets up the machine (Debian packages, as root), builds
# pkd and runs the whole pipeline on the bundled real SST-2 data with 2 MPI ranks:
#   tokenize -> fine-tune a teacher from scratch -> cache its features once ->
#   distill a 2-layer student with PKD, and fine-tune the same student without a teacher,
# then prints the seed-style table (dev accuracy). Output: out/demo/. About 5 minutes on 2 cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
bash scripts/build.sh
build=${BUILD_DIR:-$root/build}
pkd=$build/bin/pkd
source "$root/tests/mpi/common.sh"  # mpirun on this machine: loopback, root allowed
np=${NP:-2}
threads=$(( $(nproc) / np > 0 ? $(nproc) / np : 1 ))
run() { echo "+ $*" >&2; "$@"; }

run "$pkd" tokenize --config configs/demo/tokenize.toml
if [[ ! -f out/demo/teacher/model/config.json ]]; then
  run mpirun_local -np "$np" "$pkd" finetune --config configs/demo/teacher.toml \
    --intra-op-threads "$threads" --resume
fi
run mpirun_local -np "$np" "$pkd" cache-teacher --model out/demo/teacher/model \
  --tokens out/demo/tokens/SST-2/train --out out/demo/features/SST-2/train --intra-op-threads "$threads"
for student in pkd finetuned; do
  extra=()
  [[ $student == finetuned ]] && extra=(--alpha 0 --beta 0)
  if [[ ! -f out/demo/student-$student/model/config.json ]]; then
    run mpirun_local -np "$np" "$pkd" distill --config configs/demo/student.toml "${extra[@]}" \
      --output-dir "out/demo/student-$student" --intra-op-threads "$threads" --resume
  fi
done

accuracy() { printf "%.4f" "$(grep -o "\"accuracy\": *[0-9.]*" "$1/eval_results.json" | grep -o "[0-9.]*$")"; }
layers() { grep -o '"num_hidden_layers": *[0-9]*' "$1/model/config.json" | grep -o '[0-9]*$'; }
echo
echo "SST-2 dev accuracy (872 sentences; majority class 0.509):"
echo
echo "| model | layers | dev accuracy |"
echo "|---|---|---|"
echo "| teacher (from scratch) | $(layers out/demo/teacher) | $(accuracy out/demo/teacher) |"
echo "| student, fine-tuned (alpha = beta = 0) | $(layers out/demo/student-finetuned) | $(accuracy out/demo/student-finetuned) |"
echo "| student, PKD-Skip (alpha 0.5, beta 100, T 5) | $(layers out/demo/student-pkd) | $(accuracy out/demo/student-pkd) |"
echo
echo "GLUE submission files: out/demo/student-*/SST-2.tsv"
